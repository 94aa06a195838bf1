"""Build the Whoosh index from a linted knowledge base, into a fresh directory, then swap.

Where each file of a build goes, and the switch itself, are `indexer/layout.py`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import math
import os
import pwd
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from whoosh import fields, index
from whoosh.analysis import SpaceSeparatedTokenizer

from indexer import analysis, impacts, layout, parallel, phrasing_model, whoosh_segments
from indexer.lint import has_errors, lint_kb
from indexer.markup import LINK
from indexer.model import Article, KnowledgeBase, Problem
from indexer.snapshot import heads_to_json, kb_to_json
from indexer.weights import FIELD_BOOSTS, TEXT_FIELDS


class BuildError(Exception):
    """A build that did not replace the serving index; the message says why."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class BuildSummary:
    build_id: str
    path: Path
    articles: int
    terms: int
    seconds: float
    size_bytes: int
    kb_version: str
    retokenized: int
    # Wall seconds of each step: lint (load and check), index (cut and write Whoosh segments),
    # arrays (impacts.derive), finish (snapshot, verify, fsync, switch).
    phases: dict[str, float]


def schema() -> fields.Schema:
    """Whoosh schema: text fields hold pre-cut tokens separated by spaces."""
    space = SpaceSeparatedTokenizer()
    text_fields = {
        name: fields.TEXT(analyzer=space, field_boost=boost, phrase=False)
        for name, boost in FIELD_BOOSTS.items()
    }
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        category=fields.ID(stored=True),
        pinyin=fields.KEYWORD(),
        **text_fields,
    )


def article_texts(article: Article) -> dict[str, str]:
    """The text of each indexed field, before cutting."""
    return {
        "title": article.title,
        "keywords": "\n".join(article.keywords),
        "tags": "\n".join(article.tags),
        "steps": "\n".join(
            [s.text for s in article.checklist] + [r.title for r in article.replies]
        ),
        "body": _strip_markdown(article.body),
    }


def _strip_markdown(body: str) -> str:
    import re

    body = LINK.sub(" ", body)  # links name other articles, not this one
    return re.sub(r"[#*`>|_\-\[\]()]", " ", body)


def tokenize_article(article: Article, kb: KnowledgeBase) -> dict[str, list[str]]:
    """Cut every field of an article into index tokens."""
    texts = {name: analysis.normalize(text) for name, text in article_texts(article).items()}
    tokens = {name: analysis.cut(text, kb.stopwords) for name, text in texts.items()}
    tokens["grams"] = analysis.bigrams(
        "\n".join([texts["title"], texts["keywords"], texts["tags"]])
    )
    phrases = [article.title, *article.tags, *article.keywords]
    words = tokens["title"] + tokens["tags"]
    tokens["pinyin"] = sorted({key for p in phrases + words for key in analysis.pinyin_keys(p)})
    return tokens


def token_cache_salt(kb: KnowledgeBase) -> str:
    """What cut tokens depend on besides an article's text: the dictionary, the stop words and
    the version of the cutting code."""
    return json.dumps(
        [analysis.TOKENIZER_VERSION, kb.dict_words, sorted(kb.stopwords)], ensure_ascii=False
    )


class TokenCache:
    """Tokens of articles by content hash, so rebuilding after an edit re-cuts only what changed."""

    def __init__(self, path: Path, salt: str):
        self.salt = salt
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS tokens (key TEXT PRIMARY KEY, value TEXT)")

    def key(self, article: Article) -> str:
        raw = json.dumps(
            [self.salt, article_texts(article), article.title, article.tags, article.keywords],
            ensure_ascii=False,
        )
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, key: str) -> dict[str, list[str]] | None:
        row = self.db.execute("SELECT value FROM tokens WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_many(self, items: Iterable[tuple[str, dict[str, list[str]]]]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO tokens VALUES (?, ?)",
                ((k, json.dumps(v, ensure_ascii=False)) for k, v in items),
            )

    def close(self) -> None:
        self.db.close()


def kb_version(kb: KnowledgeBase, snapshot: str | None = None) -> str:
    """A short hash of the knowledge base's content: the same files give the same version."""
    snapshot = kb_to_json(kb) if snapshot is None else snapshot
    return hashlib.sha256(snapshot.encode()).hexdigest()[:12]


def _unwritable(path: Path, error: OSError, what: str) -> BuildError:
    """A one-line BuildError naming the path that cannot be written and what to do about it."""
    why = error.strerror or type(error).__name__
    if error.errno == errno.EROFS:
        fix = "它在只读文件系统上：用 --index 或 KB_INDEX_DIR 指向可写的目录"
    elif (owner_id := _owner(path)) is not None and owner_id != os.geteuid():
        owner = _user_name(owner_id)
        fix = (
            f"它属于用户 {owner}：以 {owner} 身份运行 kb index，或在没有构建进行时"
            f"删除它（rm {path}）"
            if path.is_file()
            else f"它属于用户 {owner}：以 {owner} 身份运行，或用 --index 指向可写的目录"
        )
    else:
        fix = "给运行 kb index 的用户写权限，或用 --index 或 KB_INDEX_DIR 指向可写的目录"
    return BuildError(f"无法{what} {path}（{why}）：{fix}（当前索引未改变）")


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@contextlib.contextmanager
def _build_lock(index_root: Path):
    """Hold the index root's build lock; a BuildError naming the path when it cannot be taken."""
    lock_path = index_root / layout.LOCK_FILE
    try:
        index_root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        failure = _unwritable(index_root, e, "创建索引目录")
        _record_failure(index_root, failure)
        raise failure from None
    try:
        # "a", not "w": opening never truncates a lock another build holds.
        lock = open(lock_path, "a")  # noqa: SIM115 (closed by the with below)
    except OSError as e:
        if lock_path.exists():
            failure = _unwritable(lock_path, e, "打开构建锁")
        else:
            failure = _unwritable(index_root, e, "在索引目录中写入")
        _record_failure(index_root, failure)  # where it can: the folder may be writable
        raise failure from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError("另一个索引构建正在进行，请等它结束后再试") from None
        with parallel.not_for_workers(lock.fileno()):
            yield


def build_index(
    kb_dir: Path,
    index_root: Path,
    progress: Callable[[int, int], None] | None = None,
    today: dt.date | None = None,
) -> BuildSummary:
    """Lint, index and verify the KB in a new build directory, then make it current.

    Raises:
        BuildError: lint errors, a failed write or a failed check; the current index is untouched.
    """
    started = time.perf_counter()
    kb, problems = lint_kb(kb_dir, today)
    linted = time.perf_counter()
    if has_errors(problems):
        errors = [p for p in problems if p.level == "error"]
        failure = BuildError(
            f"知识库有 {len(errors)} 个错误，未构建索引（先运行 kb lint 修正）", errors
        )
        _record_failure(index_root, failure)
        raise failure
    with _build_lock(index_root):
        try:
            return _build_locked(kb, index_root, progress, started, linted)
        except BuildError as e:
            _record_failure(index_root, e)
            raise
        except (OSError, sqlite3.Error) as e:  # a full disk fails the token cache with sqlite3
            failure = BuildError(f"写入索引失败：{e}（当前索引未改变）")
            _record_failure(index_root, failure)
            raise failure from e


def _record_failure(index_root: Path, error: BuildError) -> None:
    with contextlib.suppress(OSError):
        index_root.mkdir(parents=True, exist_ok=True)
        layout.record_outcome(
            index_root,
            {
                "ok": False,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "error": str(error),
                "problems": [p.format() for p in error.problems[:50]],
            },
        )


def _build_locked(
    kb: KnowledgeBase, index_root: Path, progress, started: float, linted: float
) -> BuildSummary:
    snapshot = kb_to_json(kb)  # 2 s at 10,000 articles: made once, hashed and written
    version = kb_version(kb, snapshot)
    build_id = f"{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S%f')}-{version}"
    partial, final = layout.new_build_dirs(index_root, build_id)
    try:
        partial.mkdir()
        retokenized = _write_index(kb, partial, index_root, progress)
        indexed = time.perf_counter()
        impacts.derive(
            partial / layout.WHOOSH_DIR,
            [(a.id, a.keywords) for a in kb.articles],
            partial / layout.ARRAYS_DIR,
        )
        phrasing_model.derive(
            [(a.title, *a.tags, *a.keywords, *a.examples) for a in kb.articles],
            partial / layout.ARRAYS_DIR,
        )
        derived = time.perf_counter()
        (partial / layout.SNAPSHOT_FILE).write_text(snapshot, encoding="utf-8")
        (partial / layout.HEADS_FILE).write_text(heads_to_json(kb, snapshot), encoding="utf-8")
        terms = verify_build(partial, kb)
        size = sum(f.stat().st_size for f in partial.rglob("*") if f.is_file())
        manifest = {
            "build_id": build_id,
            "format": layout.BUILD_FORMAT,
            "kb_version": version,
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "articles": len(kb.articles),
            "terms": terms,
            "size_bytes": size,
        }
        layout.write_manifest(partial, manifest)
        layout.fsync_tree(partial)
        os.rename(partial, final)
        layout.switch_current(index_root, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    layout.record_outcome(index_root, {"ok": True, **manifest})
    layout.prune_builds(index_root, keep=final)
    finished = time.perf_counter()
    return BuildSummary(
        build_id,
        final,
        len(kb.articles),
        terms,
        finished - started,
        size,
        version,
        retokenized,
        {
            "lint": round(linted - started, 2),
            "index": round(indexed - linted, 2),
            "arrays": round(derived - indexed, 2),
            "finish": round(finished - derived, 2),
        },
    )


def _write_index(kb: KnowledgeBase, directory: Path, index_root: Path, progress) -> int:
    """Write the Whoosh index of the KB into `directory`; return how many articles were cut
    (the others came from the token cache)."""
    cache = TokenCache(index_root / layout.TOKEN_CACHE_FILE, salt=token_cache_salt(kb))
    (directory / layout.WHOOSH_DIR).mkdir()
    ix = index.create_in(str(directory / layout.WHOOSH_DIR), schema())
    # This writer holds the index lock and writes the table of contents naming the segments;
    # the segments themselves are written by _write_segment, on every core for a big KB.
    writer = ix.writer()
    fresh: list[tuple[str, dict[str, list[str]]]] = []
    try:
        keys = [cache.key(article) for article in kb.articles]
        cached = [cache.get(key) for key in keys]
        if any(tokens is None for tokens in cached):
            # jieba loads its dictionary (~1 s) only when some article is not cached; workers
            # fork after it is loaded and share it (fxsjy/jieba#399).
            analysis.init_segmenter(kb.dict_words, index_root / layout.JIEBA_DIR)
        segments, done = [], 0
        for segment, cut, (start, stop) in _write_segments(
            kb, keys, cached, directory / layout.WHOOSH_DIR
        ):
            segments.append(segment)
            fresh += cut
            done += stop - start
            if progress:
                progress(done, len(kb.articles))
        whoosh_segments.commit_segments(writer, segments)
    except BaseException:
        writer.cancel()
        raise
    finally:
        cache.put_many(fresh)
        cache.close()
        ix.close()
    return len(fresh)


# Whoosh sorts a segment's postings in memory up to limitmb, then spills sorted runs to disk
# and merges them with pickle and heapq: with the default 128 MB, 10,000 articles in one
# segment made 7 runs and cost ~25 s of a build. 5,000 articles' postings (~2.6 M) fit in
# 512 MB, so bigger KBs get more spans (segments) rather than spills; fewer segments make
# impacts.derive faster, so no more spans than that.
SEGMENT_LIMIT_MB = 512
SPAN_MAX_ARTICLES = 5000
_job: tuple | None = None  # (kb, keys, cached tokens, Whoosh folder), inherited by forked workers


def _write_segments(kb: KnowledgeBase, keys, cached, whoosh_dir: Path):
    """Cut (unless cached) and index the articles in contiguous spans, one Whoosh segment per
    span, on every core when the KB is big enough; yield (segment, [(key, tokens) cut],
    span) in KB order, so Whoosh numbers the documents in KB order.

    Cutting and writing postings are both pure Python (jieba, Whoosh): one process per core
    doing both for its own spans keeps the cores busy through the whole build.
    """
    global _job
    n = len(kb.articles)
    workers = parallel.cores() if n >= parallel.PARALLEL_MIN_ITEMS else 1
    count = workers * max(1, math.ceil(n / (workers * SPAN_MAX_ARTICLES)))
    bounds = [n * i // count for i in range(count + 1)]
    spans = [(bounds[i], bounds[i + 1]) for i in range(count) if bounds[i] < bounds[i + 1]]
    _job = (kb, keys, cached, str(whoosh_dir))
    try:
        yield from parallel.fork_imap(_write_segment, spans, parallel=workers > 1)
    finally:
        _job = None


def _write_segment(span: tuple[int, int]):
    kb, keys, cached, whoosh_dir = _job
    ix = index.open_dir(whoosh_dir)
    writer = whoosh_segments.segment_writer(ix, SEGMENT_LIMIT_MB)
    cut = []
    try:
        for i in range(*span):
            article, tokens = kb.articles[i], cached[i]
            if tokens is None:
                tokens = tokenize_article(article, kb)
                cut.append((keys[i], tokens))
            writer.add_document(
                id=article.id,
                category=article.category,
                pinyin=" ".join(tokens["pinyin"]),
                **{name: " ".join(tokens[name]) for name in TEXT_FIELDS},
            )
        segment = whoosh_segments.finish_segment(writer)
    except BaseException:
        # The whole partial build is removed by the caller.
        with contextlib.suppress(Exception):
            whoosh_segments.close_segment(writer)
        raise
    return segment, cut, span


def verify_build(directory: Path, kb: KnowledgeBase) -> int:
    """Open the new index and check it holds every article; return its number of terms."""
    ix = index.open_dir(str(directory / layout.WHOOSH_DIR))
    try:
        with ix.searcher() as searcher:
            if searcher.doc_count() != len(kb.articles):
                raise BuildError(
                    f"校验失败：索引中有 {searcher.doc_count()} 篇文章，应为 {len(kb.articles)} 篇"
                )
            stored = {fields_["id"] for fields_ in searcher.all_stored_fields()}
            missing = {a.id for a in kb.articles} - stored
            if missing:
                raise BuildError(f"校验失败：索引缺少文章 {', '.join(sorted(missing))}")
            return sum(1 for _ in searcher.reader().all_terms())
    finally:
        ix.close()


def print_progress(done: int, total: int) -> None:
    """A progress bar on a terminal, nothing when output is piped (CI logs stay clean)."""
    if not sys.stderr.isatty() or total < 20:
        return
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r索引中 [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()
