"""Record what agents looked for and did, without ever slowing down or failing their requests.

A request only puts a small record on a bounded in-memory queue (`put_nowait`: when the queue is
full the record is dropped and counted). A writer thread per process masks the case text and
writes batches to the store; every store error is caught, counted and logged without case text.
The thread is started lazily by the first record in each process, so under gunicorn every
worker gets its own after the fork. The writer also deletes records past the retention period
when it starts and then hourly.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from assist_app.disclosure import without_paths
from assist_app.insights_store import InsightStore, StoreUnavailable, Writes, open_store
from assist_app.masking import mask_personal_data
from indexer.search import SearchResult

log = logging.getLogger(__name__)

# `chose`: the agent worked from a procedure other than the first (with its rank then).
ACTIONS = ("open", "copy", "helpful", "wrong", "chose")
QUEUE_SIZE = 2000
BATCH_SIZE = 200
PURGE_EVERY_S = 3600
# The writer rolls up settled hours and days for the insights report when it has nothing to
# write: one bucket at a time (a day is ~0.3 s of SQL at 30,000 records), checked every minute.
ROLL_UP_EVERY_S = 60
# After a failed write the writer waits before trying the store again (doubling, up to 4 s, so
# that records are written again within 5 s of the store coming back, and stats clear the
# error); records arriving meanwhile are counted as failed instead of piling up.
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 4.0
DAY_S = 86400

# A lock for starting writers, new in each child after a fork (the parent's may be held).
_start_lock = threading.Lock()


def _new_start_lock() -> None:
    global _start_lock
    _start_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_start_lock)


@dataclass(frozen=True)
class RequestRecord:
    """An assist or search request as it happened; the case is masked by the writer."""

    request_id: str
    case_id: str
    at: float
    kind: str
    case: str
    facts: dict[str, Any]
    shown: tuple[tuple[str, float], ...]
    kb_version: str | None
    # The first result's evidence as a share of the KB's no-good-match line (under 1.0 the
    # answer said 未找到合适流程); None when the KB has no line. Stored as the top score.
    match_strength: float | None = None


@dataclass(frozen=True)
class ActionRecord:
    """What the agent did with an answer: opened an article, copied a reply, marked a result."""

    request_id: str
    at: float
    action: str
    article_id: str
    reply_id: str | None
    # Where the article was in the answer (sent with `chose`).
    rank: int | None = None


@dataclass
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)


_STOP = object()
STORE_KINDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


class InsightRecorder:
    """A per-process recorder over one store; `stats()` says what it wrote, dropped and lost."""

    def __init__(
        self,
        store: InsightStore,
        retention_days: int,
        queue_size: int = QUEUE_SIZE,
        new_request_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ):
        self.store = store
        self.new_request_id = new_request_id
        self.retention_days = retention_days
        self.queue_size = queue_size
        self._pid: int | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._counts = {"written": 0, "dropped": 0, "failed": 0, "purged": 0}
        self.last_error: str | None = None

    # ------------------------------------------------------------ request side

    def record_request(
        self,
        kind: str,
        case: str,
        facts: dict[str, Any],
        shown: Iterable[tuple[str, float]],
        kb_version: str | None,
        case_id: str | None = None,
        match_strength: float | None = None,
    ) -> str:
        """Queue a request's record; return its new request id (never raises)."""
        request_id = self.new_request_id()
        try:
            record = RequestRecord(
                request_id,
                case_id or request_id,
                time.time(),
                kind,
                case,
                dict(facts),
                tuple(shown),
                kb_version,
                match_strength,
            )
        except Exception:  # a record that cannot be built is lost, the answer is not
            log.exception("检索洞察：无法记录请求")
            self._count("failed")
            return request_id
        self._offer(record)
        return request_id

    def record_search(self, kind: str, query: str, result: SearchResult) -> str:
        """Queue the record of a plain search (the API's or the browse page's); return its id."""
        return self.record_request(
            kind,
            query,
            {name: ev.value for name, ev in result.query.facts.items()},
            [(hit.article.id, hit.score) for hit in result.hits],
            result.build.get("kb_version"),
            match_strength=result.match_strength,
        )

    def record_action(
        self,
        request_id: str,
        action: str,
        article_id: str,
        reply_id: str | None = None,
        rank: int | None = None,
    ) -> None:
        """Queue what an agent did with an answer (never raises)."""
        self._offer(ActionRecord(request_id, time.time(), action, article_id, reply_id, rank))

    def _offer(self, item: Any) -> None:
        try:
            self._ensure_writer().put_nowait(item)
        except queue.Full:
            self._count("dropped")
            if self._counts["dropped"] in (1, 10, 100) or self._counts["dropped"] % 1000 == 0:
                log.warning("检索洞察：队列已满，已丢弃 %d 条记录", self._counts["dropped"])
        except Exception:
            log.exception("检索洞察：无法排队记录")
            self._count("failed")

    def _count(self, name: str, n: int = 1) -> None:
        # Counters are for people reading stats; a lost increment under a race does not matter.
        self._counts[name] += n

    def _ensure_writer(self) -> queue.Queue:
        pid = os.getpid()
        if self._pid == pid and self._queue is not None:
            return self._queue
        with _start_lock:
            if self._pid != pid or self._queue is None:
                # A fresh queue and thread in this process: a forked child inherits the parent's
                # objects but not its threads (nor should it report the parent's counts).
                if self._pid is not None and self._pid != pid:
                    self._counts = dict.fromkeys(self._counts, 0)
                    self.last_error = None
                q: queue.Queue = queue.Queue(maxsize=self.queue_size)
                thread = threading.Thread(
                    target=self._run, args=(q,), daemon=True, name="insights-writer"
                )
                thread.start()
                self._queue, self._thread, self._pid = q, thread, pid
                atexit.register(self.close)
        return self._queue

    def stats(self) -> dict[str, Any]:
        """Counts for this process: written, dropped (queue full), failed (store errors), queued.

        The store by kind only and the last error without paths: pages and /readyz show these
        (assist_app.disclosure); the log has the full message.
        """
        queued = self._queue.qsize() if self._queue is not None and self._pid == os.getpid() else 0
        error = self.last_error
        if error is not None:
            error = without_paths(
                error.replace(self.store.describe(), STORE_KINDS[self.store.kind])
            )
        return {
            **self._counts,
            "queued": queued,
            "store": STORE_KINDS[self.store.kind],
            "last_error": error,
        }

    def flush(self, timeout: float = 10) -> bool:
        """Wait until what was queued before this call is written (or failed); True if it was."""
        marker = _Flush()
        try:
            self._ensure_writer().put(marker, timeout=timeout)
        except queue.Full:
            return False
        return marker.done.wait(timeout)

    def close(self, timeout: float = 3) -> None:
        """Write what is queued and stop the writer (at exit; a later record starts a new one)."""
        if self._queue is None or self._pid != os.getpid():
            return
        q, thread = self._queue, self._thread
        self._queue = None
        try:
            q.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        if thread is not None:
            thread.join(timeout)

    # ------------------------------------------------------------ writer side

    def _run(self, q: queue.Queue) -> None:
        conn = None
        next_purge = 0.0  # purge as soon as the writer starts
        retry_at = 0.0
        retry_wait = RETRY_FIRST_S
        next_roll_up = 0.0
        while True:
            try:
                # Wake up for the hourly purge and the roll-ups even when no agent is working.
                wake_at = min(next_purge, next_roll_up)
                batch = [q.get(timeout=max(0.1, wake_at - time.monotonic()))]
            except queue.Empty:
                batch = []
            while len(batch) < BATCH_SIZE:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            records = [item for item in batch if isinstance(item, RequestRecord | ActionRecord)]
            if time.monotonic() < retry_at:
                self._count("failed", len(records))
            elif records or time.monotonic() >= next_purge:
                try:
                    if conn is None:
                        conn = self.store.open()
                    if time.monotonic() >= next_purge:
                        self._purge(conn)
                        next_purge = time.monotonic() + PURGE_EVERY_S
                    if records:
                        self.store.write(conn, to_writes(records))
                        self._count("written", len(records))
                    retry_wait = RETRY_FIRST_S
                    if self.last_error and records:
                        # The store is back: stats (and /readyz) stop reporting the old error.
                        log.info("检索洞察：存储已恢复（%s）", self.store.describe())
                        self.last_error = None
                except Exception as e:  # every store error: the agent's request is long done
                    self._count("failed", len(records))
                    self._note_failure(e)
                    conn = _close_quietly(conn)
                    retry_at = time.monotonic() + retry_wait
                    retry_wait = min(retry_wait * 2, RETRY_MAX_S)
            if conn is not None and q.empty() and time.monotonic() >= max(next_roll_up, retry_at):
                busy = self._roll_up(conn) > 0  # more may be missing: go on when idle again
                next_roll_up = time.monotonic() + (0 if busy else ROLL_UP_EVERY_S)
            for item in batch:
                if isinstance(item, _Flush):
                    item.done.set()
            if any(item is _STOP for item in batch):
                _close_quietly(conn)
                return

    def _purge(self, conn) -> None:
        cutoff = time.time() - self.retention_days * DAY_S
        deleted = self.store.purge(conn, cutoff)
        self._count("purged", deleted)
        if deleted:
            log.info("检索洞察：删除了 %d 条超过 %d 天的记录", deleted, self.retention_days)

    def _roll_up(self, conn) -> int:
        """Roll up one settled bucket the report will need; how many were (0: none missing)."""
        from assist_app.insights import roll_up

        try:
            return roll_up(self.store, conn, self.retention_days, limit=1)
        except Exception as e:  # the report rolls up what is missing itself
            log.warning("检索洞察：汇总失败：%s", _first_line_of(e))
            return 0

    def _note_failure(self, error: Exception) -> None:
        # Only the error: the records hold buyers' messages and stay out of the logs.
        if isinstance(error, StoreUnavailable):
            message = str(error)
        else:
            detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
            message = f"写入 {self.store.describe()} 失败：{type(error).__name__} {detail}".strip()
        if message != self.last_error:
            log.warning("检索洞察：%s（这些记录已丢弃，坐席的请求不受影响）", message)
        self.last_error = message


def _first_line_of(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _close_quietly(conn) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):  # a broken connection may fail to close
            conn.close()


def storable(text: str) -> str:
    """Text any store accepts: PostgreSQL refuses NUL characters, and neither store can encode
    a lone surrogate; one such case must not sink the batch it is written with."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def to_writes(records: Iterable[RequestRecord | ActionRecord]) -> Writes:
    """Rows for the store, with each case masked (the writer does it, off the request path)."""
    requests, shown, actions = [], [], []
    for record in records:
        if isinstance(record, ActionRecord):
            actions.append(
                {
                    "request_id": record.request_id,
                    "at": record.at,
                    "action": record.action,
                    "article_id": record.article_id,
                    "reply_id": record.reply_id,
                    "rank": record.rank,
                }
            )
            continue
        top_id = record.shown[0][0] if record.shown else None
        top_score = record.match_strength if record.shown else None
        requests.append(
            {
                "request_id": record.request_id,
                "case_id": record.case_id,
                "at": record.at,
                "kind": record.kind,
                "case_text": storable(mask_personal_data(record.case)),
                "facts": json.dumps(record.facts, ensure_ascii=False, sort_keys=True),
                "top_id": top_id,
                "top_score": top_score,
                "result_count": len(record.shown),
                "kb_version": record.kb_version,
            }
        )
        shown += [
            {
                "request_id": record.request_id,
                "rank": rank,
                "article_id": article_id,
                "score": score,
            }
            for rank, (article_id, score) in enumerate(record.shown, start=1)
        ]
    return Writes(requests, shown, actions)


def init_recorder(
    app: Flask,
    store_url: str,
    retention_days: int,
    new_request_id: Callable[[], str] | None = None,
) -> None:
    # Only the store's location here: no connection and no thread before a fork.
    recorder = InsightRecorder(open_store(store_url), retention_days)
    recorder.new_request_id = new_request_id or recorder.new_request_id
    app.extensions["insights"] = recorder


def get_recorder() -> InsightRecorder:
    return current_app.extensions["insights"]
