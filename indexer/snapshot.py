"""Serialise a KnowledgeBase to JSON lines and back, so a build carries the exact KB it indexed.

The first line holds everything but the articles, then one line per article: a server reads
the file a line at a time (parsing one 60 MB document at 10,000 articles left ~70 MB of freed
but unreturned memory in every worker), and what needs only the dictionary reads one line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from indexer.model import (
    Article,
    Category,
    FactDef,
    KnowledgeBase,
    Reply,
    ShopEntry,
    SlotDef,
    SlotPattern,
    Step,
)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    # dataclasses.fields() on every object was most of the time of a 10,000-article snapshot.
    return tuple(f.name for f in dataclasses.fields(cls))


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        return {name: _plain(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else value
        return [_plain(v) for v in items]
    return value


def kb_to_json(kb: KnowledgeBase) -> str:
    """The KB as JSON lines: its settings first, then each article."""
    # Keys keep the files' order (categories.yaml lists categories in browsing order); the
    # files are read in a stable order, so the same KB still gives the same text and version.
    plain = _plain(kb)
    articles = plain.pop("articles")
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in [plain, *articles])


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


# Shared by every unconditional step and reply of a served KB (most of them); never mutated.
_NO_CONDITIONS: dict[str, list[str]] = {}


def _conditions(when: dict[str, list[str]]) -> dict[str, list[str]]:
    # Fact names and values repeat in every article: one string object each, not thousands
    # (at 10,000 articles the checklists alone held 54 MB before).
    if not when:
        return _NO_CONDITIONS
    return {sys.intern(fact): [sys.intern(v) for v in values] for fact, values in when.items()}


def _article(data: dict) -> Article:
    return Article(
        id=data["id"],
        title=data["title"],
        category=sys.intern(data["category"]),
        tags=tuple(sys.intern(t) for t in data["tags"]),
        keywords=tuple(data["keywords"]),
        platforms=tuple(sys.intern(p) for p in data["platforms"]),
        owner=sys.intern(data["owner"]),
        reviewed=_date(data["reviewed"]),
        review_every_days=data["review_every_days"],
        applies_when=_conditions(data["applies_when"]),
        checklist=tuple(
            Step(s["text"], _conditions(s["when"]), s["line"]) for s in data["checklist"]
        ),
        replies=tuple(
            Reply(
                r["id"], r["title"], r["text"], r["line"], _conditions(r["when"]), r.get("use", "")
            )
            for r in data["replies"]
        ),
        body=data["body"],
        path=data["path"],
        effective_from=_date(data["effective_from"]),
        effective_until=_date(data["effective_until"]),
        audience=sys.intern(data.get("audience", "buyer")),
        sources=tuple(sys.intern(s) for s in data.get("sources", ())),
        examples=tuple(data.get("examples", ())),
        specializes=data.get("specializes", ""),
        lines=data["lines"],
    )


def kb_from_json(text: str) -> KnowledgeBase:
    return kb_from_lines(text.splitlines())


def read_snapshot(path: Path) -> KnowledgeBase:
    """The KB a build indexed, read a line (an article) at a time."""
    with open(path, encoding="utf-8") as lines:
        return kb_from_lines(lines)


def read_dictionary(path: Path) -> tuple[str, ...]:
    """Only the KB's user dictionary words, from the snapshot's first line."""
    with open(path, encoding="utf-8") as lines:
        return tuple(json.loads(next(lines))["dict_words"])


def kb_from_lines(lines: Iterable[str]) -> KnowledgeBase:
    lines = iter(lines)
    try:
        data = json.loads(next(lines))
    except StopIteration:
        raise ValueError("知识库快照是空的") from None
    articles = tuple(_article(json.loads(line)) for line in lines if line.strip())
    return KnowledgeBase(
        articles=articles,
        categories={k: Category(**v) for k, v in data["categories"].items()},
        facts={
            k: FactDef(
                v["name"],
                v["label"],
                v["type"],
                {value: tuple(p) for value, p in v["values"].items()},
                v["extractor"],
                v.get("gate", False),
                {value: tuple(r) for value, r in v.get("patterns", {}).items()},
                tuple(v.get("ignore", ())),
                tuple(v.get("not_after", ())),
            )
            for k, v in data["facts"].items()
        },
        slots={
            k: SlotDef(
                v["name"],
                v["label"],
                tuple(SlotPattern(p["regex"], tuple(p["near"])) for p in v["patterns"]),
                tuple(v["values"]),
                v["from_fact"],
            )
            for k, v in data["slots"].items()
        },
        synonyms={k: tuple(v) for k, v in data["synonyms"].items()},
        stopwords=frozenset(data["stopwords"]),
        dict_words=tuple(data["dict_words"]),
        banned_phrases=data["banned_phrases"],
        no_good_match_below=data.get("no_good_match_below", 0.0),
        shop={k: ShopEntry(**v) for k, v in data.get("shop", {}).items()},
    )
