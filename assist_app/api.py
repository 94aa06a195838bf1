"""The JSON API: assist a case, search, feedback, list and read articles, health checks (openapi.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, abort, request

from assist_app import render
from assist_app.assist import assist
from assist_app.disclosure import without_paths
from assist_app.engine import article_detail, get_engine, get_settings
from assist_app.errors import error_body
from assist_app.recorder import ACTIONS, get_recorder
from assist_app.settings import DEFAULT_ASSIST_RESULTS, DEFAULT_SEARCH_RESULTS
from assist_app.validation import (
    case_ref,
    case_text,
    chosen_rank,
    fact_overrides,
    feedback_ref,
    json_fields,
    json_type,
    result_limit,
)
from indexer.layout import last_build_failure
from indexer.search import IndexNotReady

bp = Blueprint("api", __name__)

OPENAPI = Path(__file__).parent / "openapi.yaml"
ASSIST_FIELDS = ("case", "limit", "facts", "case_id")
FEEDBACK_FIELDS = ("request_id", "action", "article_id", "reply_id", "rank")


@bp.post("/api/assist")
def assist_case():
    """Facts, slots and ranked procedures with tailored checklists and filled replies."""
    body = json_fields(ASSIST_FIELDS)
    case = case_text(body.get("case"), "case")
    limit = result_limit(body.get("limit"), DEFAULT_ASSIST_RESULTS)
    case_id = case_ref(body.get("case_id"))
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
        match_strength=answer["match_strength"],
    )
    return {"request_id": request_id, **answer}


@bp.post("/api/feedback")
def feedback():
    """What the agent did with an answer: opened an article, copied a reply, marked a result,
    worked from a procedure other than the first (`chose`, with its rank)."""
    body = json_fields(FEEDBACK_FIELDS)
    request_id = feedback_ref(body.get("request_id"))
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
    rank = chosen_rank(action, body.get("rank"))
    get_recorder().record_action(request_id, action, article_id, reply_id, rank)
    return {
        "request_id": request_id,
        "action": action,
        "article_id": article_id,
        "reply_id": reply_id,
        "rank": rank,
        "status": "accepted",
    }, 202


@bp.get("/api/search")
def search():
    """Ranked articles for a query, without tailoring: id, title, category, snippet, score."""
    query = case_text(request.args.get("q"), "q")
    limit = request.args.get("limit")
    if limit is not None and limit.isascii() and limit.isdigit():
        limit = int(limit)
    limit = result_limit(limit, DEFAULT_SEARCH_RESULTS)
    engine = get_engine()
    result = engine.search(query, limit=limit)
    kb = result.kb
    request_id = get_recorder().record_search("search", query, result)
    return {
        "request_id": request_id,
        "query": query,
        "no_good_match": result.no_good_match,
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
    failure = last_build_failure(get_settings().index_root)
    if failure is not None:
        failure["error"] = without_paths(str(failure["error"] or "")) or None
        if isinstance(failure["problems"], list):
            failure["problems"] = [without_paths(str(p)) for p in failure["problems"]]
    # Anyone may ask (load balancers do, without signing in): no paths (assist_app.disclosure).
    try:
        loaded = engine.current()
    except IndexNotReady as e:
        return {
            **error_body(503, without_paths(f"索引未就绪：{e}")),
            "status": "not_ready",
            "load_error": without_paths(engine.load_error),
            "last_build_failure": failure,
        }, 503
    manifest = loaded.manifest
    return {
        "status": "ready",
        "kb_version": manifest.get("kb_version"),
        "build_id": manifest.get("build_id"),
        "built_at": manifest.get("built_at"),
        "articles": len(loaded.kb.articles),
        "load_error": without_paths(engine.load_error),
        "last_build_failure": failure,
        # This worker's insights writer: a store that is down shows here, never as not ready.
        "insights": get_recorder().stats(),
    }


@bp.after_request
def no_store(response: Response) -> Response:
    # Answers depend on the index, which changes under a running server.
    response.headers.setdefault("Cache-Control", "no-store")
    return response
