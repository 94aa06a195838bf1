"""Serve the app with gunicorn: a pre-fork server, one search engine per worker process, and
in each worker a pool of threads, so that a client that sends slowly holds a thread for a
bounded time and never the worker.

Threads are safe on the search path (tests/test_threads.py): a loaded build is immutable (numpy
views of read-only memory maps, frozen dataclasses, lru_caches, which lock themselves), the
engine swaps builds under its lock and a request keeps the build it started with, jieba's
tokenizer is built whole under analysis._lock and swapped in one assignment, and Whoosh, whose
searcher is not thread-safe (MEASURED.md), is not used to serve: only to build.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from assist_app.errors import DEFAULT_MESSAGES, JSON_PATHS, error_body
from assist_app.settings import Settings

# Threads per worker: each request is a few ms of CPU under the GIL, so they add no speed; they
# are there so that clients that stall (a half-sent body) hold a thread each, not the worker.
THREADS = 32
# A request must arrive whole within this many seconds of the worker taking it up (gunicorn
# waits up to 5 s of it for a first byte); after it, reads end as if the client had hung up.
REQUEST_READ_S = 10.0
# Writing an answer to a client that does not read gives up after this.
SEND_TIMEOUT_S = 30.0

# Settings older gunicorn releases (pyproject allows >= 22) do not have: skipped there.
NEWER_SETTINGS = {"control_socket_disable"}  # gunicorn 25.1


class AssistServer(BaseApplication):
    """gunicorn run from Python: our app object and options, no command line of its own."""

    def __init__(self, app: Flask, options: dict[str, Any]):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings or key not in NEWER_SETTINGS:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


class AccessLogger(Logger):
    """gunicorn's logger, with control characters in the logged path escaped.

    The path is percent-decoded, so `/api/articles/x%0a…` would otherwise write a line of the
    client's choosing into the access log (and %00 a NUL byte).
    """

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        if atoms.get("U"):
            atoms["U"] = _CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", atoms["U"])
        return atoms


class DeadlineSocket(socket.socket):
    """A client connection whose reads end at a deadline, as if the client had closed.

    gunicorn's threads read with blocking calls and no timeout: two clients that send half a
    body held both sync workers for the whole 60 s worker timeout. A read past the deadline
    returns b"" instead, which gunicorn and Werkzeug already handle as a client that went away
    (a 400 for a body cut short, the connection closed for a request line cut short).
    """

    read_deadline = float("inf")

    @classmethod
    def adopt(cls, sock: socket.socket) -> DeadlineSocket:
        return cls(sock.family, sock.type, sock.proto, fileno=sock.detach())

    def _arm_read(self) -> bool:
        remaining = self.read_deadline - time.monotonic()
        if remaining <= 0:
            return False
        super().settimeout(remaining)
        return True

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if not self._arm_read():
            return b""
        try:
            return super().recv(bufsize, flags)
        except TimeoutError:
            return b""

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        if not self._arm_read():
            return 0
        try:
            return super().recv_into(buffer, nbytes, flags)
        except TimeoutError:
            return 0

    def send(self, data, flags: int = 0) -> int:
        super().settimeout(SEND_TIMEOUT_S)
        return super().send(data, flags)

    def sendall(self, data, flags: int = 0) -> None:
        super().settimeout(SEND_TIMEOUT_S)
        return super().sendall(data, flags)


class AssistWorker(ThreadWorker):
    """gunicorn's threaded worker with a read deadline per request and JSON for its own errors."""

    def handle(self, conn):
        if not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket.adopt(conn.sock)
        conn.sock.read_deadline = time.monotonic() + REQUEST_READ_S
        return super().handle(conn)

    def handle_error(self, req, client, addr, exc):
        """gunicorn's answer to a request it could not parse (414, 431, bad framing …), as the
        app's JSON error under /api/ and for the health checks; its own HTML page elsewhere."""
        path = request_path(req, exc)
        if path is None or not (path.startswith("/api/") or path in JSON_PATHS):
            return super().handle_error(req, client, addr, exc)
        captured = _CapturedAnswer()
        super().handle_error(req, captured, addr, exc)  # its status, its log lines
        status_line = bytes(captured.data).split(b"\r\n", 1)[0].decode("latin-1")
        _, status, reason = (status_line.split(" ", 2) + ["", ""])[:3]
        status_code = int(status) if status.isdigit() else 400
        body = json.dumps(
            error_body(status_code, SERVER_MESSAGES.get(status_code, DEFAULT_MESSAGES[400])),
            ensure_ascii=False,
        ).encode("utf-8")
        head = (
            f"HTTP/1.1 {status_code} {reason}\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nCache-Control: no-store\r\n"
            f"X-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            client.sendall(head.encode("latin-1") + body)
        except OSError:
            self.log.debug("Failed to send error message.")


# What gunicorn's own refusals mean, for the agent's console and API clients.
SERVER_MESSAGES = {
    400: "请求格式有误：请求行、请求头或分块传输编码无效",
    414: "请求地址太长（查询请放在 POST /api/assist 的请求体里）",
    417: "不支持该 Expect 请求头",
    431: "请求头太大",
    500: DEFAULT_MESSAGES[500],
    501: "不支持该传输编码（Transfer-Encoding）",
}


class _CapturedAnswer:
    """Stands in for the client socket while gunicorn writes its HTML error: keeps the bytes."""

    def __init__(self):
        self.data = bytearray()

    def gettimeout(self):
        return None

    def setblocking(self, flag):
        pass

    def sendall(self, data):
        self.data += data

    def send(self, data):
        self.data += data
        return len(data)


def request_path(req, exc: Exception) -> str | None:
    """The path of a request gunicorn failed to parse: from the request when it got that far,
    else from the bytes its parser had read (the request line)."""
    if req is not None and getattr(req, "path", None):
        return req.path
    traceback = exc.__traceback__
    while traceback is not None:
        parsed = getattr(traceback.tb_frame.f_locals.get("self"), "path", None)
        if isinstance(parsed, str) and parsed.startswith("/"):
            return parsed  # the request line was read; its headers or framing were not right
        for name in ("buf", "data"):
            value = traceback.tb_frame.f_locals.get(name)
            if isinstance(value, bytes | bytearray) and value:
                line = bytes(value).lstrip(b"\r\n").split(b"\r\n", 1)[0]
                parts = line.split(b" ")
                if len(parts) >= 2 and parts[1].startswith(b"/"):
                    return parts[1].split(b"?", 1)[0].decode("latin-1")
        traceback = traceback.tb_next
    return None


def load_before_fork(app: Flask) -> None:
    """Load the current build in the master, so every worker forked from it starts with it.

    Workers share it copy-on-write (jieba must be initialised before forking anyway,
    fxsjy/jieba#399), and a worker that restarts after the index folder was deleted starts with
    the build its siblings still serve from memory instead of none: their /readyz agree. Called
    again before each fork, so a restarted worker gets the newest build there is.
    """
    from assist_app.masking import load_vocabularies
    from indexer.search import IndexNotReady

    with contextlib.suppress(IndexNotReady):  # no index yet: workers say so on /readyz
        app.extensions["search_engine"].current()
        # The insights writer masks each case: what masking reads is loaded once, here, not in
        # each worker while it serves its first requests (after the build, whose segmenter
        # the name tagger uses).
        load_vocabularies()


def run_gunicorn(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve create_app(settings) on host:port with `workers` processes of THREADS threads."""
    from assist_app import create_app

    app = create_app(settings)
    app.extensions["search_engine"].freeze_builds = True
    load_before_fork(app)
    AssistServer(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "assist_app.server.AssistWorker",
            "threads": THREADS,
            "accesslog": "-",
            "logger_class": AccessLogger,
            # Path without the query string: /api/search?q=… carries the buyer's message, which
            # holds phone numbers and names; access logs must not keep it (README, Privacy).
            "access_log_format": '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
            "errorlog": "-",
            # A worker that loads a new build takes about a second (8 s at 50,000 articles).
            "timeout": 60,
            # gunicorn >= 25.1 opens a control socket at one path per user ($XDG_RUNTIME_DIR or
            # ~/.gunicorn/gunicorn.ctl): a second server on the host takes it over and either
            # one's exit deletes it. We do not use gunicornc.
            "control_socket_disable": True,
            "pre_fork": lambda server, worker: load_before_fork(app),
        },
    ).run()
