"""Writes come from our own pages or from API clients, never from another site in a browser.

Any page an agent opens could otherwise post fake cases and 不对 marks into the insights with
the agent's browser: a `text/plain` POST needs no CORS preflight. So a state-changing request
(POST, PUT, PATCH, DELETE) is refused when its Origin (or, lacking one, its Referer) names
another host than the one it was sent to, and a write under /api/ must say
`Content-Type: application/json`, which no cross-site form or simple request can send. curl and
scripts send neither header and keep working with the right Content-Type.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, request

from assist_app.auth import get_access

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPE = "application/json"


def own_host() -> str:
    """The host the client addressed: Host, or X-Forwarded-Host when a trusted proxy sets it."""
    forwarded = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    if forwarded and get_access().from_trusted_proxy():
        return forwarded.lower()
    return request.host.lower()


def sending_host() -> str | None:
    """The host of the page that sent the request (Origin, else Referer); "" when unknowable."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is None:
        return None
    if source == "null":  # sandboxed frames, data: URLs, some redirects: nobody to trust
        return ""
    return urlsplit(source).netloc.lower()


def check_write():
    """Before every request: refuse cross-site writes (403) and non-JSON API writes (415)."""
    # A route that does not exist or does not take this method answers 404/405 as always.
    if request.method in SAFE_METHODS or request.routing_exception is not None:
        return None
    sender = sending_host()
    if sender is not None and sender != own_host():
        abort(403, f"拒绝跨站请求：请求来自“{sender or 'null'}”，不是本站页面")
    if request.path.startswith("/api/") and request.mimetype != JSON_TYPE:
        shown = request.mimetype or "无"
        abort(415, f"请求体必须是 JSON：请加上请求头 Content-Type: {JSON_TYPE}（收到的是 {shown}）")
    return None


def init_app(app: Flask) -> None:
    app.before_request(check_write)
