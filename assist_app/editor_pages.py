"""Pages for editors: what agents looked for (/insights) and what changed lately (/changes)."""

from __future__ import annotations

import datetime as dt
import subprocess
import time

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from assist_app import render
from assist_app.auth import current_visitor
from assist_app.disclosure import without_paths
from assist_app.engine import get_engine, get_settings
from assist_app.insights import DEFAULT_DAYS, PERIODS, build_report
from assist_app.insights_store import COUNT_DISMISSALS, StoreUnavailable
from assist_app.learn import propose
from assist_app.recorder import get_recorder

bp = Blueprint("editors", __name__)

CHANGES_DEFAULT_DAYS = 14
MAX_DAYS = 3650


def period_days(value: str | None) -> int:
    """?days=: whole days, 1 to MAX_DAYS; the default period when absent."""
    if value is None or value == "":
        return DEFAULT_DAYS
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_DAYS:
        abort(400, f"days 必须是 1 到 {MAX_DAYS} 之间的整数（天数），收到的是“{value}”")
    return int(value)


@bp.get("/insights")
def insights():
    """Searches with no good match, cases per article, unseen articles, copies, marks."""
    days = period_days(request.args.get("days"))
    engine = get_engine()
    loaded = engine.current()
    recorder = get_recorder()
    kb = loaded.kb
    try:
        report = build_report(recorder.store, kb, days, today=engine.today())
        learned = cached_proposals(recorder.store, kb, engine, days, loaded.manifest)
    except StoreUnavailable as e:
        current_app.logger.warning("检索洞察页：%s", e)
        return render_template(
            "insights.html",
            report=None,
            store_error=without_paths(str(e)),
            days=days,
            periods=PERIODS,
            stats=recorder.stats(),
            kb_version=loaded.manifest.get("kb_version"),
        ), 503
    categories = {a.id: render.category_name(kb, a.category) for a in kb.articles}
    return render_template(
        "insights.html",
        report=report,
        learned=learned,
        store_error=None,
        days=days,
        periods=PERIODS,
        categories=categories,
        stats=recorder.stats(),
        retention_days=get_settings().insights_retention_days,
        kb_version=loaded.manifest.get("kb_version"),
    )


# Proposals read the period's raw records (about a second per 100,000 at 90 days,
# bench/insights.py): kept per process for a few minutes, per KB build and period, and
# recomputed at once when an editor dismisses a phrasing.
LEARN_CACHE_S = 300
LEARN_CACHED = 16


def cached_proposals(store, kb, engine, days: int, manifest: dict) -> dict:
    """`learn.propose` for the page, kept LEARN_CACHE_S seconds in this process."""
    with store.connection() as conn:
        dismissed = store.query(conn, COUNT_DISMISSALS, {})[0][0]
    cache = current_app.extensions.setdefault("learn_cache", {})
    key = (manifest.get("build_id"), days, int(dismissed))
    kept = cache.get(key)
    if kept is not None and time.monotonic() - kept[0] < LEARN_CACHE_S:
        return kept[1]
    learned = propose(store, kb, engine, days=days)
    if len(cache) >= LEARN_CACHED:
        cache.clear()
    cache[key] = (time.monotonic(), learned)
    return learned


# The longest phrasing a dismissal accepts: room above learn.MAX_PHRASING_CHARS for phrasings
# proposed by an earlier version, a bound on what a form can store.
MAX_DISMISSED_CHARS = 200


@bp.post("/insights/dismiss")
def dismiss_phrasing():
    """Turn a proposed phrasing down: `kb learn` and this page do not propose it again."""
    days = period_days(request.form.get("days"))
    article_id = request.form.get("article_id", "")
    phrasing = request.form.get("phrasing", "").strip()
    if get_engine().current().articles.get(article_id) is None:
        abort(400, f"没有 id 为“{article_id}”的文章")
    if not phrasing or len(phrasing) > MAX_DISMISSED_CHARS:
        abort(
            400, f"phrasing 必须是 1 到 {MAX_DISMISSED_CHARS} 个字的问法，收到 {len(phrasing)} 个字"
        )
    visitor = current_visitor()
    who = visitor.name if visitor and visitor.name else "本机编辑"
    store = get_recorder().store
    try:
        with store.connection() as conn:
            store.dismiss(conn, article_id, phrasing, who, time.time())
    except StoreUnavailable as e:
        current_app.logger.warning("忽略建议问法：%s", e)
        abort(503, f"暂时无法记录：{without_paths(str(e))}")
    return redirect(url_for("editors.insights", days=days, _anchor="learn-title"), 303)


def since_date(value: str | None, today: dt.date) -> dt.date:
    """?since=YYYY-MM-DD; 14 days ago when absent."""
    if not value:
        return today - dt.timedelta(days=CHANGES_DEFAULT_DAYS)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        abort(
            400, f"since 必须是 YYYY-MM-DD 格式的日期，例如 {today.isoformat()}，收到的是“{value}”"
        )


CHANGES_CACHED = 16


def cached_changes(kb_version: str | None, since: dt.date, changes_since) -> list:
    """changes_since for the KB folder, kept per (KB version, date) in this app: reading the
    git history of a big KB takes a second or more, and it only changes with the KB."""
    cache = current_app.extensions.setdefault("changes_cache", {})
    key = (kb_version, since)
    if key not in cache:
        found = changes_since(get_settings().kb_dir, since)
        if len(cache) >= CHANGES_CACHED:
            cache.clear()
        cache[key] = found
    return cache[key]


@bp.get("/changes")
def changes():
    """Articles changed since a date (from git history), in a few words each."""
    from indexer.changes import changes_since

    engine = get_engine()
    loaded = engine.current()
    today = engine.today()
    since = since_date(request.args.get("since"), today)
    found, problem = [], None
    try:
        found = cached_changes(loaded.manifest.get("kb_version"), since, changes_since)
    except FileNotFoundError:
        problem = "这台服务器上没有安装 git，无法读取知识库的修改记录。"
    except subprocess.CalledProcessError:
        problem = "知识库目录不在 git 仓库中（或仓库无法读取），无法读取修改记录。"
    quick = [
        (label, (today - dt.timedelta(days=n)).isoformat())
        for label, n in (("近 7 天", 7), ("近 14 天", 14), ("近 30 天", 30), ("近 90 天", 90))
    ]
    return render_template(
        "changes.html",
        changes=found,
        problem=problem,
        since=since,
        today=today,
        quick=quick,
        known=set(loaded.articles),
        kb_version=loaded.manifest.get("kb_version"),
    )
