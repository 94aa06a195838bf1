"""The app's one error path: JSON errors for the API, an HTML error page for people.

Every error, whether raised by a view (`abort(404, "没有……")`), by Werkzeug (unknown route, wrong
method, body too large), by the search engine (no index) or by a bug, ends up in
`handle_exception`, which picks the status and a Chinese message and renders it in the one
canonical shape: `{"error": {"status": N, "message": "…"}}` or the error page.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from gunicorn.http.errors import ParseException as ServerParseError
from werkzeug.exceptions import (
    ClientDisconnected,
    HTTPException,
    MethodNotAllowed,
    RequestEntityTooLarge,
)

from assist_app.disclosure import without_paths
from indexer.search import IndexNotReady

JSON_PATHS = ("/healthz", "/readyz")

# Messages for errors Werkzeug raises on its own (its descriptions are English).
DEFAULT_MESSAGES = {
    400: "请求有误",
    404: "没有这个地址",
    405: "这个地址不支持该请求方法",
    413: "请求内容太大",
    414: "请求地址太长",
    415: "不支持的内容类型",
    500: "服务器内部错误，请稍后再试",
    503: "服务暂时不可用，请稍后再试",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    """The JSON shape of every API error."""
    return {"error": {"status": status, "message": message}}


def wants_json() -> bool:
    """Whether this request gets a JSON error: the API and the health checks do, pages don't."""
    return request.path.startswith("/api/") or request.path in JSON_PATHS


def _status_and_message(error: Exception) -> tuple[int, str]:
    if isinstance(error, IndexNotReady):
        # Every visitor sees this page: the index's path stays in the log (disclosure.py).
        current_app.logger.warning("索引未就绪：%s", error)
        return 503, without_paths(f"索引未就绪：{error}")
    if isinstance(error, ServerParseError):
        # gunicorn raises these while the app reads a body whose chunked framing is broken: the
        # request is at fault, not the service.
        return 400, "请求体无法读取：分块传输编码（chunked）有误"
    if isinstance(error, ClientDisconnected):
        # The body ended early: the client hung up, or stalled past the server's read deadline.
        return 400, "请求体不完整：客户端断开，或没有在规定时间内发完"
    if isinstance(error, HTTPException):
        status = error.code or 500
        # A view's own description is Chinese and names the problem; Werkzeug's default is not.
        if error.description and error.description != type(error).description:
            return status, error.description
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            allowed = "、".join(m for m in error.valid_methods if m not in ("HEAD", "OPTIONS"))
            return status, f"{DEFAULT_MESSAGES[405]}：{request.path} 只支持 {allowed}"
        if isinstance(error, RequestEntityTooLarge):
            limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
            return status, f"请求体太大：最多 {limit // 1024} KB"
        return status, DEFAULT_MESSAGES.get(status, error.name)
    current_app.logger.exception("未处理的异常：%s %s", request.method, request.path)
    return 500, DEFAULT_MESSAGES[500]


def handle_exception(error: Exception):
    """Render any error for the client that asked: JSON under /api/, an HTML page elsewhere."""
    status, message = _status_and_message(error)
    headers = {}
    if isinstance(error, HTTPException):
        # Keep what the status needs (Allow on a 405), not Werkzeug's HTML content type.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if wants_json():
        return jsonify(error_body(status, message)), status, headers
    return render_template("error.html", status=status, message=message), status, headers


def init_app(app: Flask) -> None:
    # Registered for Exception, Flask routes HTTPExceptions here too (routing redirects aside).
    app.register_error_handler(Exception, handle_exception)
