"""Serialise a KnowledgeBase to JSON lines and back, so a build carries the exact KB it indexed.

The first line holds everything but the articles, then one line per article: a server reads
the file a line at a time (parsing one 60 MB document at 10,000 articles left ~70 MB of freed
but unreturned memory in every worker), and what needs only the dictionary reads one line.
A served build keeps each article's head in memory and reads its contents back from its line
when asked (read_snapshot, DeferredArticle).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import os
import sys
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from indexer.layout import HEADS_FILE
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


def heads_to_json(kb: KnowledgeBase, snapshot: str) -> str:
    """What a served build keeps of each article in memory (read_snapshot), a line per article:
    its head, the ids it links to, its framing replies, and where its line of `snapshot`
    (kb_to_json of the same KB) starts and ends, in bytes.

    Written by the build so that loading parses these (a sixth of the snapshot at 10,000
    articles) and not every article's contents."""
    lines = snapshot.encode("utf-8").splitlines(keepends=True)
    start = len(lines[0])
    heads = []
    for article, line in zip(kb.articles, lines[1:], strict=True):
        head = _served_head(article, start, start + len(line))
        heads.append(json.dumps(head, ensure_ascii=False) + "\n")
        start += len(line)
    return "".join(heads)


def _served_head(article: Article, start: int, end: int) -> dict[str, Any]:
    """One line of a heads file: the article's head, links and framing replies, and the span
    [start, end) of its snapshot line."""
    head = {name: _plain(getattr(article, name)) for name in _HEAD_FIELDS}
    head["links"] = list(article.links())
    head["framing"] = _plain(article.framing_replies())
    head["at"] = [start, end]
    return head


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


def _checklist(data: dict) -> tuple[Step, ...]:
    return tuple(Step(s["text"], _conditions(s["when"]), s["line"]) for s in data["checklist"])


def _replies(data: dict) -> tuple[Reply, ...]:
    return tuple(
        Reply(r["id"], r["title"], r["text"], r["line"], _conditions(r["when"]), r.get("use", ""))
        for r in data["replies"]
    )


def _lines(data: dict) -> dict[str, int]:
    # The same dozen keys in every article: one string object each.
    return {sys.intern(key): line for key, line in data["lines"].items()}


def _head(data: dict) -> dict[str, Any]:
    """The fields of an article that ranking, lists and facts read (all but its contents)."""
    return {
        "id": data["id"],
        "title": data["title"],
        "category": sys.intern(data["category"]),
        "tags": tuple(sys.intern(t) for t in data["tags"]),
        "keywords": tuple(data["keywords"]),
        "platforms": tuple(sys.intern(p) for p in data["platforms"]),
        "owner": sys.intern(data["owner"]),
        "reviewed": _date(data["reviewed"]),
        "review_every_days": data["review_every_days"],
        "applies_when": _conditions(data["applies_when"]),
        "path": data["path"],
        "effective_from": _date(data["effective_from"]),
        "effective_until": _date(data["effective_until"]),
        "audience": sys.intern(data.get("audience", "buyer")),
        "sources": tuple(sys.intern(s) for s in data.get("sources", ())),
        "specializes": data.get("specializes", ""),
    }


def _contents(data: dict) -> tuple:
    """An article's contents, in DeferredArticle.CONTENTS order."""
    return (
        _checklist(data),
        _replies(data),
        data["body"],
        tuple(data.get("examples", ())),
        _lines(data),
    )


def _article(data: dict) -> Article:
    return Article(
        **_head(data), **dict(zip(DeferredArticle.CONTENTS, _contents(data), strict=True))
    )


# Contents of this many articles stay decoded per served build: the first hits of recent cases
# and the pages agents open (a case reads the contents of its first few hits only).
CONTENTS_CACHED = 1024


class SnapshotContents:
    """A snapshot file's article lines, decoded on demand.

    Read through a descriptor kept open, so a build folder deleted under a running server stays
    readable for as long as the build is served (an unlinked file lives on while it is open),
    and with pread, which threads may share. Not memory-mapped: the pages of a mapping count
    in the worker's resident memory, and the kernel maps them in 64 KB runs, so a few thousand
    articles read mapped the whole file (+95 MB at 10,000 articles)."""

    def __init__(self, path: Path):
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        self.read = functools.lru_cache(maxsize=CONTENTS_CACHED)(self._read)

    def _read(self, start: int, end: int) -> tuple:
        return _contents(json.loads(os.pread(self._fd, end - start, start)))


class DeferredArticle(Article):
    """An article of a served build: its head in memory, its contents (checklist, replies, body,
    examples, line numbers) read from the build's snapshot when something asks for them.

    At 10,000 articles the contents are ~80 MB of Python objects in every serving worker, while a
    case reads those of its first few hits. Every field reads as on an Article (the properties
    below shadow the dataclass's slots), so no reader can see an article without its contents.
    """

    __slots__ = ("_source", "_start", "_end", "_links", "_framing")
    CONTENTS = ("checklist", "replies", "body", "examples", "lines")

    checklist = property(lambda self: self._source.read(self._start, self._end)[0])
    replies = property(lambda self: self._source.read(self._start, self._end)[1])
    body = property(lambda self: self._source.read(self._start, self._end)[2])
    examples = property(lambda self: self._source.read(self._start, self._end)[3])
    lines = property(lambda self: self._source.read(self._start, self._end)[4])

    def __new__(cls, *args: Any, **fields: Any) -> Article:  # type: ignore[misc]
        # Built from fields (dataclasses.replace), it is an article in memory like any other.
        return Article(*args, **fields)

    @classmethod
    def of(cls, head: dict, source: SnapshotContents) -> DeferredArticle:
        """The article of a served head (a line of heads_to_json, or of _served_heads)."""
        article = object.__new__(cls)
        start, end = head["at"]
        fields = {
            **_head(head),
            "_source": source,
            "_start": start,
            "_end": end,
            # Kept, as what follows: an article page lists the articles that link to it, which
            # would read every article's contents.
            "_links": tuple(head["links"]),
            # Kept: the console offers every article's greetings and goodbyes.
            "_framing": _replies({"replies": head["framing"]}),
        }
        for name, value in fields.items():
            object.__setattr__(article, name, value)
        return article

    def links(self) -> tuple[str, ...]:
        return self._links

    def framing_replies(self) -> tuple[Reply, ...]:
        return self._framing

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Article):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in _COMPARED)

    __hash__ = None  # as an Article's (its dicts are unhashable)


_COMPARED = tuple(f.name for f in dataclasses.fields(Article) if f.compare)
# An article's head: every field but its contents (what _head reads).
_HEAD_FIELDS = tuple(n for n in _field_names(Article) if n not in DeferredArticle.CONTENTS)


def kb_from_json(text: str) -> KnowledgeBase:
    return kb_from_lines(text.splitlines())


def read_snapshot(path: Path) -> KnowledgeBase:
    """The KB a build indexed; the articles' contents stay in the file until read
    (DeferredArticle). Their heads come from the build's heads file beside it (heads_to_json),
    else, for a build written before there were heads files, from each line of the snapshot."""
    source = SnapshotContents(path)
    heads = path.with_name(HEADS_FILE)
    with open(path, "rb") as lines:
        settings = _settings(next(lines, None))
        if heads.exists():
            articles = _articles_of_heads(heads, source)
        else:
            articles = tuple(DeferredArticle.of(head, source) for head in _served_heads(lines))
    return _knowledge_base(settings, articles)


def _articles_of_heads(heads: Path, source: SnapshotContents) -> tuple[DeferredArticle, ...]:
    """The served articles of a heads file, a line at a time: a list of every head first left
    its memory freed but not returned to the system in every worker."""
    with open(heads, "rb") as lines:
        return tuple(DeferredArticle.of(json.loads(line), source) for line in lines if line.strip())


def _served_heads(lines: BinaryIO) -> Iterator[dict]:
    """The served heads (as heads_to_json writes them) of a snapshot's article lines, read
    from just after its first line."""
    start = lines.tell()
    for line in lines:
        end = start + len(line)
        if line.strip():
            yield _served_head(_article(json.loads(line)), start, end)
        start = end


def read_dictionary(path: Path) -> tuple[str, ...]:
    """Only the KB's user dictionary words, from the snapshot's first line."""
    with open(path, encoding="utf-8") as lines:
        return tuple(json.loads(next(lines))["dict_words"])


def kb_from_lines(lines: Iterable[str]) -> KnowledgeBase:
    lines = iter(lines)
    data = _settings(next(lines, None))
    articles = tuple(_article(json.loads(line)) for line in lines if line.strip())
    return _knowledge_base(data, articles)


def _settings(first_line: str | bytes | None) -> dict:
    """The snapshot's first line: everything but the articles."""
    if first_line is None:
        raise ValueError("知识库快照是空的")
    return json.loads(first_line)


def _knowledge_base(data: dict, articles: tuple[Article, ...]) -> KnowledgeBase:
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
                tuple(v.get("examples", ())),
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
