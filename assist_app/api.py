"""The JSON API: assist a case, search, list and read articles, health checks (openapi.yaml)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, request

from assist_app import render
from assist_app.assist import assist
from assist_app.engine import get_engine
from assist_app.errors import error_body
from assist_app.pages import article_detail
from assist_app.settings import Settings
from indexer.model import KnowledgeBase
from indexer.search import IndexNotReady

bp = Blueprint("api", __name__)

OPENAPI = Path(__file__).parent / "openapi.yaml"
ASSIST_FIELDS = ("case", "limit", "facts")
DEFAULT_ASSIST_LIMIT = 5
DEFAULT_SEARCH_LIMIT = 10


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, whatever its Content-Type (curl users forget it)."""
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        abort(400, "请求体不是合法的 JSON：不是 UTF-8 编码")
    except json.JSONDecodeError as e:
        abort(400, f"请求体不是合法的 JSON：第 {e.lineno} 行第 {e.colno} 列有误")
    except (ValueError, RecursionError):  # a 5,000-digit number, arrays nested 1,000 deep
        abort(400, "请求体不是合法的 JSON：数字太长或嵌套太深")
    if not isinstance(body, dict):
        abort(400, f'请求体必须是 JSON 对象，例如 {{"case": "…"}}，收到的是{json_type(body)}')
    return body


def json_type(value: Any) -> str:
    """A JSON value's type in words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "布尔值"
    if isinstance(value, int | float):
        return "数字"
    return {str: "字符串", list: "数组", dict: "对象"}.get(type(value), type(value).__name__)


def case_text(value: Any, name: str) -> str:
    """A case description (or query): a non-empty string within max_case_chars."""
    if value is None:
        abort(400, f"缺少 {name}：请提供案例描述（买家消息或问题）")
    if not isinstance(value, str):
        abort(400, f"{name} 必须是字符串，收到的是{json_type(value)}")
    if not value.strip():
        abort(400, f"{name} 不能为空")
    limit = _settings().max_case_chars
    if len(value) > limit:
        abort(413, f"{name} 太长：{len(value)} 个字符，最多 {limit} 个字符")
    return value


def result_limit(value: Any, default: int) -> int:
    """`limit`: an integer in 1..max_limit."""
    highest = _settings().max_limit
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest:
        shown = json.dumps(value, ensure_ascii=False)
        abort(400, f"limit 必须是 1 到 {highest} 之间的整数，收到的是 {shown}")
    return value


def _non_negative_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value) and value >= 0
    except OverflowError:  # an integer too large for a float
        return False


def fact_overrides(value: Any, kb: KnowledgeBase) -> dict[str, str | float]:
    """Facts the agent corrected, checked against kb.facts; a null value clears an override."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        example = '{"platform": "拼多多"}'
        abort(400, f"facts 必须是 JSON 对象，例如 {example}，收到的是{json_type(value)}")
    overrides: dict[str, str | float] = {}
    for name, wanted in value.items():
        spec = kb.facts.get(name)
        if spec is None:
            known = "、".join(f"{n}（{f.label}）" for n, f in kb.facts.items())
            abort(400, f"未知的事实“{name}”，可用的事实：{known}")
        if wanted is None:
            continue
        if spec.type == "number":
            if not _non_negative_number(wanted):
                shown = json.dumps(wanted, ensure_ascii=False)
                abort(400, f"事实 {name}（{spec.label}）必须是不小于 0 的数字，收到的是 {shown}")
            overrides[name] = wanted
        else:
            if not isinstance(wanted, str) or wanted not in spec.values:
                shown = json.dumps(wanted, ensure_ascii=False).strip('"')
                choices = "、".join(spec.values)
                abort(400, f"事实 {name}（{spec.label}）没有取值“{shown}”，可选：{choices}")
            overrides[name] = wanted
    return overrides


@bp.post("/api/assist")
def assist_case():
    """Facts, slots and ranked procedures with tailored checklists and filled replies."""
    body = json_object()
    unknown = [key for key in body if key not in ASSIST_FIELDS]
    if unknown:
        abort(400, f"未知的字段“{unknown[0]}”，可用的字段：{'、'.join(ASSIST_FIELDS)}")
    case = case_text(body.get("case"), "case")
    limit = result_limit(body.get("limit"), DEFAULT_ASSIST_LIMIT)
    engine = get_engine()
    overrides = fact_overrides(body.get("facts"), engine.current().kb)
    return assist(engine, case, limit=limit, overrides=overrides)


@bp.get("/api/search")
def search():
    """Ranked articles for a query, without tailoring: id, title, category, snippet, score."""
    query = case_text(request.args.get("q"), "q")
    limit = request.args.get("limit")
    if limit is not None and limit.isascii() and limit.isdigit():
        limit = int(limit)
    limit = result_limit(limit, DEFAULT_SEARCH_LIMIT)
    engine = get_engine()
    result = engine.search(query, limit=limit)
    kb = engine.current().kb
    return {
        "query": query,
        "results": [
            {
                "id": hit.article.id,
                "title": hit.article.title,
                "category": hit.article.category,
                "category_name": render.category_name(kb, hit.article.category),
                "snippet": hit.snippet,
                "score": hit.score,
                "status": hit.article.status_on(engine.today()),
            }
            for hit in result.hits
        ],
        "took_ms": round(result.took_ms, 2),
        "kb_version": result.build.get("kb_version"),
    }


@bp.get("/api/articles")
def articles():
    """Every article with its category name, review and validity marks."""
    engine = get_engine()
    loaded = engine.current()
    kb, today = loaded.kb, engine.today()
    return {
        "kb_version": loaded.manifest.get("kb_version"),
        "categories": [
            {"key": c.key, "name": c.name, "description": c.description}
            for c in kb.categories.values()
        ],
        "articles": [render.summary(a, kb, today) for a in kb.articles],
    }


@bp.get("/api/articles/<article_id>")
def article(article_id: str):
    """One article: raw checklist and replies, sanitized body HTML, links both ways."""
    loaded, view = article_detail(article_id)
    return {"kb_version": loaded.manifest.get("kb_version"), **view}


@bp.get("/api/openapi.yaml")
def openapi():
    """This API described in OpenAPI 3."""
    return Response(OPENAPI.read_text(encoding="utf-8"), mimetype="application/yaml")


@bp.get("/healthz")
def healthz():
    """The process is up (says nothing about the index)."""
    return {"status": "ok"}


def last_build_failure(index_root: Path) -> dict[str, Any] | None:
    """The last `kb index` attempt when it failed (last-build.json says ok: false)."""
    try:
        outcome = json.loads((index_root / "last-build.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(outcome, dict) or outcome.get("ok") is not False:
        return None
    return {key: outcome.get(key) for key in ("at", "error", "problems")}


@bp.get("/readyz")
def readyz():
    """200 with the serving build when the index is loaded; 503 with the reasons when not."""
    engine = get_engine()
    failure = last_build_failure(_settings().index_root)
    try:
        loaded = engine.current()
    except IndexNotReady as e:
        return {
            **error_body(503, f"索引未就绪：{e}"),
            "status": "not_ready",
            "load_error": engine.load_error,
            "last_build_failure": failure,
        }, 503
    manifest = loaded.manifest
    return {
        "status": "ready",
        "kb_version": manifest.get("kb_version"),
        "build_id": manifest.get("build_id"),
        "built_at": manifest.get("built_at"),
        "articles": len(loaded.kb.articles),
        "load_error": engine.load_error,
        "last_build_failure": failure,
    }


@bp.after_request
def no_store(response: Response) -> Response:
    # Answers depend on the index, which changes under a running server.
    response.headers.setdefault("Cache-Control", "no-store")
    return response
