"""Pages for people: the agent console (/) and article browsing for new hires (/articles)."""

from __future__ import annotations

from typing import Any

import nh3
from flask import Blueprint, Response, abort, render_template, request
from markupsafe import Markup

from assist_app import render
from assist_app.assist import fill_shop
from assist_app.engine import article_detail, article_href, get_engine, get_settings
from assist_app.recorder import get_recorder
from assist_app.settings import DEFAULT_SEARCH_RESULTS, Settings
from indexer.loaded import LoadedIndex

bp = Blueprint("pages", __name__)

# Replies every case can use (greetings, closings, holding messages) come from this category.
# The console's scripts and styles are ours; nothing inline, nothing from elsewhere, so a buyer's
# text that slipped into markup by mistake still could not run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def console_data(loaded: LoadedIndex, settings: Settings) -> dict[str, Any]:
    """What the console's script needs besides /api/assist: limits, wording rules, templates."""
    kb = loaded.kb
    return {
        "kb_version": loaded.manifest.get("kb_version"),
        "max_case_chars": settings.max_case_chars,
        "banned_phrases": kb.banned_phrases,
        "slot_labels": {name: spec.label for name, spec in kb.slots.items()},
        "facts": [
            {"name": name, "label": spec.label, "type": spec.type, "choices": list(spec.values)}
            for name, spec in kb.facts.items()
        ],
        "titles": {a.id: a.title for a in kb.articles},
        # Greetings and goodbyes the compose box may put around the replies, from any article
        # that marks a reply `use: opening` or `use: closing`; the shop's settings are filled
        # here as in every reply, the case's slots in the console.
        "common_replies": [
            {
                "key": f"{a.id}/{r.id}",
                "title": r.title,
                "text": fill_shop(r.text, kb)[0],
                "use": r.use,
            }
            for a in kb.articles
            for r in a.framing_replies()
        ],
    }


@bp.get("/")
def console():
    """The agent console: type a case, follow the checklist, copy the reply."""
    loaded = get_engine().current()
    return render_template(
        "console.html",
        data=console_data(loaded, get_settings()),
        kb_version=loaded.manifest.get("kb_version"),
    )


def _safe_snippet(snippet: str) -> Markup:
    # The engine escapes the snippet and adds <mark>; keep only <mark> so nothing else can pass.
    return Markup(nh3.clean(snippet, tags={"mark"}, attributes={}))


@bp.get("/articles")
def browse():
    """Categories with their articles; with ?q=, search results with highlighted snippets."""
    engine = get_engine()
    loaded = engine.current()
    kb, today = loaded.kb, engine.today()
    query = request.args.get("q", "").strip()
    results = None
    if query:
        limit = get_settings().max_case_chars
        if len(query) > limit:
            abort(413, f"搜索词太长：{len(query)} 个字符，最多 {limit} 个字符")
        result = engine.search(query, limit=DEFAULT_SEARCH_RESULTS)
        # What new hires look for counts as much as what agents paste (insights, masked).
        get_recorder().record_search("browse", query, result)
        results = [
            {
                **render.summary(hit.article, result.kb, today),
                "snippet": _safe_snippet(hit.snippet),
            }
            for hit in result.hits
        ]
    groups = [
        (category, [render.summary(a, kb, today) for a in kb.articles if a.category == key])
        for key, category in kb.categories.items()
    ]
    return render_template(
        "browse.html",
        query=query,
        results=results,
        groups=groups,
        kb_version=loaded.manifest.get("kb_version"),
    )


@bp.get("/articles/<article_id>")
def article(article_id: str):
    """One article: checklist, replies, body, related articles, owner and review marks."""
    loaded, view = article_detail(article_id)
    kb = loaded.kb
    for step in view["checklist"]:
        step["html"] = Markup(render.linked_text(step["text"], kb, article_href))
    for reply in view["replies"]:
        reply["html"] = Markup(render.template_html(reply["text"], kb))
    view["body_html"] = Markup(view["body_html"])
    return render_template(
        "article.html", article=view, kb_version=loaded.manifest.get("kb_version")
    )


@bp.after_app_request
def security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response
