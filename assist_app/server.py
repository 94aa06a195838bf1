"""Serve the app with gunicorn: a pre-fork server, one search engine per worker process."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from assist_app.settings import Settings

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


def warm_segmenter(settings: Settings) -> None:
    """Load jieba with the current build's dictionary before forking, so workers share it.

    Only jieba (initialise it before forking, fxsjy/jieba#399): each worker loads the index
    itself on its first request, and reloads it when a new build is switched in.
    """
    from indexer import analysis
    from indexer.layout import JIEBA_DIR, SNAPSHOT_FILE, current_build
    from indexer.snapshot import read_dictionary

    build = current_build(settings.index_root)
    if build is None:
        return
    dict_words = read_dictionary(build / SNAPSHOT_FILE)
    analysis.init_segmenter(dict_words, settings.index_root / JIEBA_DIR)


def run_gunicorn(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve create_app(settings) on host:port with `workers` sync worker processes."""
    from assist_app import create_app

    app = create_app(settings)
    warm_segmenter(settings)
    AssistServer(
        app,
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "sync",
            "accesslog": "-",
            "logger_class": AccessLogger,
            # Path without the query string: /api/search?q=… carries the buyer's message, which
            # holds phone numbers and names; access logs must not keep it (README, Privacy).
            "access_log_format": '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
            "errorlog": "-",
            # The first request in a worker loads the index (about a second; 8 s at 50,000 articles).
            "timeout": 60,
            # gunicorn >= 25.1 opens a control socket at one path per user ($XDG_RUNTIME_DIR or
            # ~/.gunicorn/gunicorn.ctl): a second server on the host takes it over and either
            # one's exit deletes it. We do not use gunicornc.
            "control_socket_disable": True,
        },
    ).run()
