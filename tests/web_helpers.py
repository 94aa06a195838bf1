"""Helpers for tests of the web layer: a real app served over HTTP, a small HTTP client.

The app runs in Werkzeug's threaded server on 127.0.0.1 on a free port; requests go through
urllib, so what is tested is what a browser or curl gets (status, headers, bytes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
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


# --- an agents' session over the API (what insights then report)


def assist(base: str, case: str, **fields) -> dict:
    response = fetch(f"{base}/api/assist", "POST", json_body={"case": case, **fields})
    assert response.status == 200, response.text[:300]
    return response.json()


def feedback(base: str, request_id: str, action: str, article_id: str, reply_id=None):
    body = {"request_id": request_id, "action": action, "article_id": article_id}
    if reply_id:
        body["reply_id"] = reply_id
    response = fetch(f"{base}/api/feedback", "POST", json_body=body)
    assert response.status == 202, response.text[:300]
    assert response.json()["status"] == "accepted"


LOST_PARCEL_PII = "快递说放门口了 可是门口啥也没有 我叫张三 电话13812345678"
WRONG_ITEM_ORDER = "衣服颜色发错了 订单号3900123456789012345"


def agents_session(base: str) -> set[str]:
    """Several agents at work: cases typed in steps, copies, 有用 and 不对. Returns shown ids.

    Written for the starter KB's articles (parcel-not-received, wrong-goods, invoice): serve kb/.
    """
    shown = set()

    def ask(case, **fields):
        answer = assist(base, case, **fields)
        shown.update(r["id"] for r in answer["results"])
        return answer

    # Case 1: typed in two steps (one case), a reply copied, marked helpful.
    first = ask("快递说放门口了")
    second = ask(LOST_PARCEL_PII, case_id=first["request_id"])
    assert second["results"][0]["id"] == "parcel-not-received"
    feedback(base, second["request_id"], "copy", "parcel-not-received", "checking-delivery")
    feedback(base, second["request_id"], "helpful", "parcel-not-received")
    # Case 2: the first result is marked wrong and nothing is used.
    wrong = ask(WRONG_ITEM_ORDER)
    assert wrong["results"][0]["id"] == "wrong-goods"
    feedback(base, wrong["request_id"], "wrong", "wrong-goods")
    # Case 3: marked wrong by mistake, then corrected to helpful (the last mark counts).
    fixed = ask("发错货了 要换蓝色的")
    feedback(base, fixed["request_id"], "wrong", "wrong-goods")
    feedback(base, fixed["request_id"], "helpful", "wrong-goods")
    # Case 4: small talk that still matches a word weakly; case 5: nothing matches at all.
    ask("今天天气不错")
    assert ask("asdfgh")["results"] == []
    # Case 6: another agent, the same problem, the same reply copied.
    again = ask("快递说放门口了 可是门口啥也没有")
    feedback(base, again["request_id"], "open", "parcel-not-received")
    feedback(base, again["request_id"], "copy", "parcel-not-received", "checking-delivery")
    # Case 7: an API search (no console, so no clicks expected).
    search = fetch(f"{base}/api/search?q=%E5%8F%91%E7%A5%A8%E6%80%8E%E4%B9%88%E5%BC%80")
    assert search.status == 200 and search.json()["request_id"]
    shown.update(r["id"] for r in search.json()["results"])
    # Case 8: a new hire searches the browse page.
    browse = fetch(f"{base}/articles?q=%E5%8F%91%E7%A5%A8")  # 发票
    assert browse.status == 200
    results = browse.text.split('class="search-results"', 1)[1].split("</section>", 1)[0]
    shown.update(re.findall(r'href="/articles/([a-z0-9-]+)"', results))
    return shown
