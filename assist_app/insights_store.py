"""Where insights are kept: an embedded SQLite file, or a PostgreSQL database shared by servers.

The same tables and the same SQL serve both: queries are written with `:name` parameters and
only window functions, CTEs and `ON CONFLICT DO NOTHING`, which SQLite (3.25+) and PostgreSQL
both have. A store is a location and a way to open connections; it holds no connection itself,
so it is safe to create before gunicorn forks.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"
# A store that does not answer within this is treated as down (the writer retries later).
CONNECT_TIMEOUT_S = 3

# One row per assist or search request: what the agent typed (masked) and what it was shown.
# `case_id` groups the requests of one case (the console re-asks while the agent types).
_TABLES = (
    """CREATE TABLE IF NOT EXISTS insight_requests (
        request_id TEXT PRIMARY KEY,
        case_id TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        kind TEXT NOT NULL,
        case_text TEXT NOT NULL,
        facts TEXT NOT NULL,
        top_id TEXT,
        top_score DOUBLE PRECISION,
        result_count INTEGER NOT NULL,
        kb_version TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS insight_shown (
        request_id TEXT NOT NULL,
        rank INTEGER NOT NULL,
        article_id TEXT NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (request_id, rank)
    )""",
    # {id} is the backend's auto-increment key.
    """CREATE TABLE IF NOT EXISTS insight_actions (
        id {id},
        request_id TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        action TEXT NOT NULL,
        article_id TEXT NOT NULL,
        reply_id TEXT,
        rank INTEGER
    )""",
    # The report's sections over one hour or one day, computed once (assist_app.insights_rollup).
    """CREATE TABLE IF NOT EXISTS insight_rollups (
        bucket_start DOUBLE PRECISION NOT NULL,
        bucket_seconds INTEGER NOT NULL,
        sections TEXT NOT NULL,
        PRIMARY KEY (bucket_start, bucket_seconds)
    )""",
    # Phrasings editors turned down on /insights, so `kb learn` does not propose them again.
    # Decisions, not records: retention leaves them.
    """CREATE TABLE IF NOT EXISTS insight_dismissals (
        article_id TEXT NOT NULL,
        phrasing TEXT NOT NULL,
        dismissed_by TEXT NOT NULL,
        dismissed_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (article_id, phrasing)
    )""",
    "CREATE INDEX IF NOT EXISTS insight_requests_at ON insight_requests (at)",
    "CREATE INDEX IF NOT EXISTS insight_requests_case ON insight_requests (case_id)",
    "CREATE INDEX IF NOT EXISTS insight_actions_request ON insight_actions (request_id)",
    "CREATE INDEX IF NOT EXISTS insight_actions_at ON insight_actions (at)",
)

# The tables and indexes _TABLES creates, by name.
_SCHEMA_OBJECTS = tuple(re.search(r"IF NOT EXISTS (\w+)", sql).group(1) for sql in _TABLES)

INSERT_REQUEST = """
    INSERT INTO insight_requests
        (request_id, case_id, at, kind, case_text, facts, top_id, top_score, result_count, kb_version)
    VALUES
        (:request_id, :case_id, :at, :kind, :case_text, :facts, :top_id, :top_score, :result_count,
         :kb_version)
    ON CONFLICT (request_id) DO NOTHING"""
INSERT_SHOWN = """
    INSERT INTO insight_shown (request_id, rank, article_id, score)
    VALUES (:request_id, :rank, :article_id, :score)
    ON CONFLICT (request_id, rank) DO NOTHING"""
INSERT_ACTION = """
    INSERT INTO insight_actions (request_id, at, action, article_id, reply_id, rank)
    VALUES (:request_id, :at, :action, :article_id, :reply_id, :rank)"""
# Columns added after a store's first release: (table, column, type). An older store gets them
# when opened, its rows kept (NULL in the new column).
ADDED_COLUMNS = (("insight_actions", "rank", "INTEGER"),)
INSERT_DISMISSAL = """
    INSERT INTO insight_dismissals (article_id, phrasing, dismissed_by, dismissed_at)
    VALUES (:article_id, :phrasing, :dismissed_by, :dismissed_at)
    ON CONFLICT (article_id, phrasing) DO NOTHING"""
DISMISSALS = "SELECT article_id, phrasing, dismissed_by, dismissed_at FROM insight_dismissals"
COUNT_DISMISSALS = "SELECT COUNT(*) FROM insight_dismissals"
PURGE = (
    """DELETE FROM insight_shown WHERE request_id IN
        (SELECT request_id FROM insight_requests WHERE at < :cutoff)""",
    """DELETE FROM insight_actions WHERE at < :cutoff OR request_id IN
        (SELECT request_id FROM insight_requests WHERE at < :cutoff)""",
    "DELETE FROM insight_rollups WHERE bucket_start < :cutoff",
    "DELETE FROM insight_requests WHERE at < :cutoff",
)
INSERT_ROLLUP = """
    INSERT INTO insight_rollups (bucket_start, bucket_seconds, sections)
    VALUES (:bucket_start, :bucket_seconds, :sections)
    ON CONFLICT (bucket_start, bucket_seconds) DO NOTHING"""


class StoreUnavailable(Exception):
    """The insights store cannot be opened or written; the message says which and why."""


@dataclass(frozen=True)
class Writes:
    """Rows to add in one transaction."""

    requests: Sequence[dict[str, Any]] = ()
    shown: Sequence[dict[str, Any]] = ()
    actions: Sequence[dict[str, Any]] = ()


class InsightStore:
    """A location for insights; `connection()` opens one with the tables in place."""

    kind = ""

    def describe(self) -> str:
        """Where the store is, for people (never with a password)."""
        raise NotImplementedError

    def _connect(self):
        raise NotImplementedError

    def _sql(self, sql: str) -> str:
        return sql

    def _create_tables(self, conn) -> None:
        raise NotImplementedError

    def open(self):
        """A new connection with the tables in place; StoreUnavailable when that fails."""
        try:
            conn = self._connect()
        except Exception as e:
            raise StoreUnavailable(
                f"无法打开检索洞察存储 {self.describe()}：{_first_line(e)}"
            ) from e
        try:
            self._create_tables(conn)
        except Exception as e:
            conn.close()
            raise StoreUnavailable(f"无法在 {self.describe()} 建表：{_first_line(e)}") from e
        return conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """An open connection (see `open`), closed on leaving the block."""
        conn = self.open()
        try:
            yield conn
        finally:
            conn.close()

    def write(self, conn, writes: Writes) -> None:
        """Add rows in one transaction."""
        with _transaction(conn):
            cur = conn.cursor()
            for sql, rows in (
                (INSERT_REQUEST, writes.requests),
                (INSERT_SHOWN, writes.shown),
                # Rows written before actions had a rank (tools, old callers) leave it empty.
                (INSERT_ACTION, [{"rank": None, **row} for row in writes.actions]),
            ):
                if rows:
                    cur.executemany(self._sql(sql), rows)

    def add_rollups(self, conn, rows: Sequence[dict[str, Any]]) -> None:
        """Store roll-ups (a bucket already rolled up by another process is kept as it is)."""
        with _transaction(conn):
            conn.cursor().executemany(self._sql(INSERT_ROLLUP), rows)

    def dismiss(self, conn, article_id: str, phrasing: str, by: str, at: float) -> None:
        """Record that an editor turned a proposed phrasing down (the first decision stays)."""
        row = {
            "article_id": article_id,
            "phrasing": phrasing,
            "dismissed_by": by,
            "dismissed_at": at,
        }
        with _transaction(conn):
            conn.cursor().execute(self._sql(INSERT_DISMISSAL), row)

    def purge(self, conn, cutoff: float) -> int:
        """Delete requests (with what was shown and done) recorded before `cutoff` (epoch s).

        Returns:
            How many requests were deleted.
        """
        with _transaction(conn):
            cur = conn.cursor()
            for sql in PURGE:
                cur.execute(self._sql(sql), {"cutoff": cutoff})
            return max(cur.rowcount, 0)

    def query(self, conn, sql: str, params: dict[str, Any]) -> list[tuple]:
        """Rows of a read-only query written with :name parameters."""
        cur = conn.cursor()
        cur.execute(self._sql(sql), params)
        rows = cur.fetchall()
        conn.rollback()  # end the read transaction (PostgreSQL opens one)
        return rows


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextlib.contextmanager
def _transaction(conn) -> Iterator[None]:
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


class SQLiteStore(InsightStore):
    """A SQLite file: the default, beside the index (var/insights.sqlite)."""

    kind = "sqlite"

    def __init__(self, path: Path):
        self.path = Path(path)

    def describe(self) -> str:
        return f"SQLite {self.path}"

    def _connect(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _private_file(self.path)
        # Several gunicorn workers write the same file: wait for each other's locks.
        conn = sqlite3.connect(self.path, timeout=5)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            # Readers (the insights page) do not block the writers, nor they the readers.
            conn.execute("PRAGMA journal_mode = WAL")
        except Exception:
            conn.close()
            raise
        return conn

    def _create_tables(self, conn) -> None:
        with _transaction(conn):
            for sql in _TABLES:
                conn.execute(sql.format(id="INTEGER PRIMARY KEY AUTOINCREMENT"))
            for table, column, kind in ADDED_COLUMNS:
                # SQLite has no ADD COLUMN IF NOT EXISTS: ask for the table's columns.
                have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _private_file(path: Path) -> None:
    """Create the file readable by its owner only (0600), or make an older one so.

    It holds buyers' messages; SQLite gives its -wal and -shm files the database's mode.
    """
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
    except PermissionError:
        pass  # another user's file: sqlite3 says what it can or cannot do with it


_NAMED_PARAM = re.compile(r"(?<![:\w]):([a-z_]+)\b")


class PostgresStore(InsightStore):
    """A PostgreSQL database, so that several app servers share one store."""

    kind = "postgresql"

    def __init__(self, url: str):
        self.url = url
        self._schema_ready = False

    def describe(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or "localhost"
        netloc = f"{parts.username}@{host}" if parts.username else host
        if parts.port:
            netloc += f":{parts.port}"
        return f"PostgreSQL {urlunsplit((parts.scheme, netloc, parts.path, '', ''))}"

    def _connect(self):
        import psycopg

        return psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S)

    def _sql(self, sql: str) -> str:
        return _NAMED_PARAM.sub(r"%(\1)s", sql)

    def _create_tables(self, conn) -> None:
        # DDL locks its table even when IF NOT EXISTS finds what it would create (ADD COLUMN IF
        # NOT EXISTS an ACCESS EXCLUSIVE lock): run on every connection, it waited on the
        # writers' open transactions and deadlocked with them. The catalog is read without
        # locking any table, so the DDL runs only where something is missing, once per store.
        if self._schema_ready:
            return
        if not self._schema_complete(conn):
            self._run_ddl(conn)
        self._schema_ready = True

    def _schema_complete(self, conn) -> bool:
        with _transaction(conn):
            found = conn.execute(
                "SELECT count(to_regclass(name)) FROM unnest(%(names)s::text[]) AS name",
                {"names": list(_SCHEMA_OBJECTS)},
            ).fetchone()[0]
            columns = [
                conn.execute(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = "
                    "current_schema() AND table_name = %(table)s AND column_name = %(column)s",
                    {"table": table, "column": column},
                ).fetchone()
                for table, column, _ in ADDED_COLUMNS
            ]
        return found == len(_SCHEMA_OBJECTS) and all(columns)

    def _run_ddl(self, conn) -> None:
        with _transaction(conn):
            # Workers starting together would race on CREATE TABLE IF NOT EXISTS (it is not
            # atomic in PostgreSQL): one at a time, for this transaction.
            conn.execute("SELECT pg_advisory_xact_lock(7405)")
            for sql in _TABLES:
                conn.execute(sql.format(id="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"))
            for table, column, kind in ADDED_COLUMNS:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")


def open_store(url: str) -> InsightStore:
    """The store a URL names: postgresql://…, sqlite:///path, or a plain file path for SQLite."""
    if url.startswith(POSTGRES_SCHEMES):
        return PostgresStore(url)
    if url.startswith(SQLITE_SCHEME):
        return SQLiteStore(Path(url[len(SQLITE_SCHEME) :]))
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ValueError(f"不支持的检索洞察存储“{scheme}://”：用 postgresql://… 或 SQLite 文件路径")
    return SQLiteStore(Path(url))
