"""Helpers for tests of the web layer: a real app served over HTTP, a small HTTP client.

The app runs in Werkzeug's threaded server on 127.0.0.1 on a free port; requests go through
urllib, so what is tested is what a browser or curl gets (status, headers, bytes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.serving import make_server


@contextlib.contextmanager
def serve_app(app: Flask) -> Iterator[str]:
    """Serve the app on a free loopback port for the block; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def fetch(
    url: str,
    method: str = "GET",
    body: bytes | str | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One HTTP request; 4xx and 5xx come back as a Response like any other."""
    headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body, ensure_ascii=False)
        headers.setdefault("Content-Type", "application/json")
    data = body.encode("utf-8") if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Response(response.status, _headers(response.headers), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, _headers(error.headers), error.read())


def _headers(message) -> dict[str, str]:
    return {key.lower(): value for key, value in message.items()}


def assert_json_error(response: Response, status: int, *fragments: str) -> str:
    """Assert the one canonical API error shape; return its message (which names the problem)."""
    assert response.status == status, (response.status, response.text[:500])
    assert response.content_type.startswith("application/json"), response.content_type
    body = response.json()
    assert set(body) >= {"error"}, body
    assert set(body["error"]) == {"status", "message"}, body
    assert body["error"]["status"] == status
    message = body["error"]["message"]
    assert isinstance(message, str) and message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), f"message not in Chinese: {message}"
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def write_article(kb_dir: Path, category: str, article_id: str, front: str, body: str) -> Path:
    """Add an article file to a KB copy: front matter (without the id line) and Markdown body."""
    path = kb_dir / "articles" / category / f"{article_id}.md"
    path.write_text(
        f"---\nid: {article_id}\ncategory: {category}\n{front.strip()}\n---\n{body}",
        encoding="utf-8",
    )
    return path


def days_from_today(days: int) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()
