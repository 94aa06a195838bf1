"""The JSON API: assist a case, search, feedback, list and read articles, health checks (openapi.yaml)."""

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
from assist_app.recorder import ACTIONS, REQUEST_ID, get_recorder
from assist_app.settings import Settings
from indexer.layout import last_build_failure
from indexer.model import KnowledgeBase
from indexer.search import IndexNotReady

bp = Blueprint("api", __name__)

OPENAPI = Path(__file__).parent / "openapi.yaml"
ASSIST_FIELDS = ("case", "limit", "facts", "case_id")
FEEDBACK_FIELDS = ("request_id", "action", "article_id", "reply_id")
DEFAULT_ASSIST_LIMIT = 5
DEFAULT_SEARCH_LIMIT = 10


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, whatever its Content-Type (curl users forget it)."""
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length is None and len(raw) >= limit:
        # A streamed (chunked) body is cut at the limit, not refused: Werkzeug's LimitedStream
        # raises 413 only on a read past it. Parsing the cut body would give a misleading 400.
        abort(413)
    try:
        body = json.loads(raw)
        # "\ud800" is valid JSON syntax but not text: a lone surrogate cannot be encoded again
        # (by our JSON replies, OpenCC, jieba), so it is refused here rather than failing later.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        abort(400, "请求体不是合法的 JSON：含有不成对的 Unicode 代理项（如 \\ud800）")
    except UnicodeDecodeError:
        abort(400, "请求体不是合法的 JSON：不是 UTF-8 编码")
    except json.JSONDecodeError as e:
        abort(400, f"请求体不是合法的 JSON：第 {e.lineno} 行第 {e.colno} 列有误")
    except (ValueError, RecursionError):  # a 5,000-digit number, arrays nested 1,000 deep
        abort(400, "请求体不是合法的 JSON：数字太长或嵌套太深")
    if not isinstance(body, dict):
        abort(400, f'请求体必须是 JSON 对象，例如 {{"case": "…"}}，收到的是{json_type(body)}')
    return body


def json_fields(fields: tuple[str, ...]) -> dict[str, Any]:
    """The request body as a JSON object with none but `fields` (an unknown one is a 400)."""
    body = json_object()
    unknown = [key for key in body if key not in fields]
    if unknown:
        abort(400, f"未知的字段“{unknown[0]}”，可用的字段：{'、'.join(fields)}")
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
    body = json_fields(ASSIST_FIELDS)
    case = case_text(body.get("case"), "case")
    limit = result_limit(body.get("limit"), DEFAULT_ASSIST_LIMIT)
    case_id = request_ref(body.get("case_id"), "case_id")
    engine = get_engine()
    overrides = fact_overrides(body.get("facts"), engine.current().kb)
    answer = assist(engine, case, limit=limit, overrides=overrides)
    request_id = get_recorder().record_request(
        "assist",
        case,
        answer["facts"],
        [(r["id"], r["score"]) for r in answer["results"]],
        answer["kb_version"],
        case_id=case_id,
    )
    return {"request_id": request_id, **answer}


def request_ref(value: Any, name: str, required: bool = False) -> str | None:
    """A request id returned by /api/assist (32 hex digits)."""
    if value is None and not required:
        return None
    if value is None:
        abort(400, f"缺少 {name}：请提供 /api/assist 返回的 request_id")
    if not isinstance(value, str) or not REQUEST_ID.match(value):
        abort(400, f"{name} 必须是 /api/assist 返回的 request_id（32 位十六进制）")
    return value


@bp.post("/api/feedback")
def feedback():
    """What the agent did with an answer: opened an article, copied a reply, marked a result."""
    body = json_fields(FEEDBACK_FIELDS)
    request_id = request_ref(body.get("request_id"), "request_id", required=True)
    action = body.get("action")
    if action not in ACTIONS:
        shown = json.dumps(action, ensure_ascii=False)
        abort(400, f"action 必须是 {'、'.join(ACTIONS)} 之一，收到的是 {shown}")
    article_id = body.get("article_id")
    if not isinstance(article_id, str):
        abort(400, f"article_id 必须是文章 id（字符串），收到的是{json_type(article_id)}")
    found = get_engine().current().articles.get(article_id)
    if found is None:
        abort(400, f"没有 id 为“{article_id}”的文章")
    reply_id = body.get("reply_id")
    if reply_id is not None:
        if action != "copy":
            abort(400, "只有 action 为 copy 时才能带 reply_id")
        if not isinstance(reply_id, str) or reply_id not in {r.id for r in found.replies}:
            replies = "、".join(r.id for r in found.replies)
            abort(400, f"文章“{article_id}”没有回复“{reply_id}”，可用的回复：{replies}")
    get_recorder().record_action(request_id, action, article_id, reply_id)
    return {
        "request_id": request_id,
        "action": action,
        "article_id": article_id,
        "reply_id": reply_id,
        "status": "accepted",
    }, 202


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
    facts = {name: ev.value for name, ev in result.query.facts.items()}
    request_id = get_recorder().record_request(
        "search",
        query,
        facts,
        [(hit.article.id, hit.score) for hit in result.hits],
        result.build.get("kb_version"),
    )
    return {
        "request_id": request_id,
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
        # This worker's insights writer: a store that is down shows here, never as not ready.
        "insights": get_recorder().stats(),
    }


@bp.after_request
def no_store(response: Response) -> Response:
    # Answers depend on the index, which changes under a running server.
    response.headers.setdefault("Cache-Control", "no-store")
    return response
