"""Serialise a KnowledgeBase to JSON and back, so a build carries the exact KB it indexed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from indexer.model import (
    Article,
    Category,
    FactDef,
    KnowledgeBase,
    Reply,
    SlotDef,
    SlotPattern,
    Step,
)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        items = sorted(value) if isinstance(value, frozenset | set) else value
        return [_plain(v) for v in items]
    return value


def kb_to_json(kb: KnowledgeBase) -> str:
    # Keys keep the files' order (categories.yaml lists categories in browsing order); the
    # files are read in a stable order, so the same KB still gives the same text and version.
    return json.dumps(_plain(kb), ensure_ascii=False)


def _date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _article(data: dict) -> Article:
    return Article(
        id=data["id"],
        title=data["title"],
        category=data["category"],
        tags=tuple(data["tags"]),
        keywords=tuple(data["keywords"]),
        platforms=tuple(data["platforms"]),
        owner=data["owner"],
        reviewed=_date(data["reviewed"]),
        review_every_days=data["review_every_days"],
        applies_when=data["applies_when"],
        checklist=tuple(Step(**s) for s in data["checklist"]),
        replies=tuple(Reply(**r) for r in data["replies"]),
        body=data["body"],
        path=data["path"],
        effective_from=_date(data["effective_from"]),
        effective_until=_date(data["effective_until"]),
        lines=data["lines"],
    )


def kb_from_json(text: str) -> KnowledgeBase:
    data = json.loads(text)
    return KnowledgeBase(
        articles=tuple(_article(a) for a in data["articles"]),
        categories={k: Category(**v) for k, v in data["categories"].items()},
        facts={
            k: FactDef(
                v["name"],
                v["label"],
                v["type"],
                {value: tuple(p) for value, p in v["values"].items()},
                v["extractor"],
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
    )
