"""What agents looked for, for editors: searches that found nothing good, cases per article,
articles never shown, the most copied replies, helpful/wrong marks per article.

`build_report` reads a store over a period and names articles and replies from a KB; the
insights page and `kb insights` show the same report. Aggregation happens in SQL, over hours and
days rolled up once (`insights_rollup`) and the raw records of the last hour or so, so a 90-day
report costs the same at a million records as at a thousand.

A case is what one agent handled: the console re-asks while the agent types or corrects a fact,
and sends the first answer's request id as `case_id`; a case counts once, as its last request,
and everything the agent did in it counts for it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from typing import Any

from assist_app.insights_rollup import (
    BUCKET_COPIED,
    buckets,
    missing_buckets,
    plain,
    report_sections,
    roll_up_buckets,
    settled_until,
)
from assist_app.insights_store import InsightStore
from indexer.model import KnowledgeBase
from indexer.weights import NO_GOOD_MATCH_STRENGTH

DAY_S = 86400
PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
# The recorded top score is the answer's match strength (indexer.search.SearchResult): under the
# line the answer said 未找到合适流程, a content gap for editors.
LOW_SCORE = NO_GOOD_MATCH_STRENGTH
LIST_LIMIT = 30
CASES_PER_ARTICLE = 3

# One row per case (its last request) with what the agent did in it.
_CASES = """
WITH req AS (
    SELECT request_id, case_id, at, kind, case_text, top_id, top_score,
           ROW_NUMBER() OVER (PARTITION BY case_id ORDER BY at DESC, request_id DESC) AS rn
    FROM insight_requests WHERE at >= :since AND at < :until
),
acts AS (
    SELECT r.case_id, a.article_id, a.action, a.at, a.id
    FROM insight_actions a JOIN req r ON r.request_id = a.request_id
),
did AS (
    SELECT case_id,
           SUM(CASE WHEN action IN ('open', 'copy', 'helpful', 'chose') THEN 1 ELSE 0 END) AS used,
           SUM(CASE WHEN action = 'copy' THEN 1 ELSE 0 END) AS copies
    FROM acts GROUP BY case_id
),
marked AS (
    SELECT case_id,
           MAX(CASE WHEN action = 'wrong' THEN 1 ELSE 0 END) AS wrong,
           MAX(CASE WHEN action = 'helpful' THEN 1 ELSE 0 END) AS helpful
    FROM (
        SELECT case_id, action,
               ROW_NUMBER() OVER (PARTITION BY case_id, article_id ORDER BY at DESC, id DESC) AS rn
        FROM acts WHERE action IN ('helpful', 'wrong')
    ) latest WHERE rn = 1
    GROUP BY case_id
),
chosen AS (
    SELECT case_id, article_id FROM (
        SELECT case_id, article_id,
               ROW_NUMBER() OVER (PARTITION BY case_id ORDER BY at DESC, id DESC) AS rn
        FROM acts WHERE action IN ('copy', 'helpful', 'chose')
    ) latest WHERE rn = 1
),
cases AS (
    SELECT req.case_id, req.at, req.kind, req.case_text, req.top_id, req.top_score,
           COALESCE(did.used, 0) AS used, COALESCE(did.copies, 0) AS copies,
           COALESCE(chosen.article_id, req.top_id) AS article_id,
           COALESCE(marked.wrong, 0) AS marked_wrong,
           COALESCE(marked.helpful, 0) AS marked_helpful
    FROM req
    LEFT JOIN did ON did.case_id = req.case_id
    LEFT JOIN chosen ON chosen.case_id = req.case_id
    LEFT JOIN marked ON marked.case_id = req.case_id
    WHERE req.rn = 1
)
"""

TOTALS = (
    _CASES
    + """
SELECT
    (SELECT COUNT(*) FROM insight_requests WHERE at >= :since AND at < :until),
    COUNT(*),
    COALESCE(SUM(CASE WHEN used > 0 THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(copies), 0),
    COALESCE(SUM(marked_helpful), 0),
    COALESCE(SUM(marked_wrong), 0)
FROM cases
"""
)

# Cases an editor should read: nothing found, a weak match, nothing used from the answer (in the
# console; API searches have no console to click in), or marked wrong and never helpful.
NO_GOOD_MATCH = (
    _CASES
    + """
SELECT case_text, COUNT(*) AS n, MAX(at) AS last_at, MIN(top_id), MAX(top_score),
       SUM(CASE WHEN top_id IS NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN top_id IS NOT NULL AND top_score < :low THEN 1 ELSE 0 END),
       SUM(CASE WHEN kind = 'assist' AND used = 0 THEN 1 ELSE 0 END),
       SUM(CASE WHEN marked_wrong = 1 AND marked_helpful = 0 THEN 1 ELSE 0 END)
FROM cases
WHERE top_id IS NULL OR top_score < :low OR (kind = 'assist' AND used = 0)
   OR (marked_wrong = 1 AND marked_helpful = 0)
GROUP BY case_text
ORDER BY n DESC, last_at DESC
LIMIT :limit
"""
)

# Per article (the one the agent copied from, marked helpful or chose, else the first result): how
# many cases, and the most frequent wordings.
CASES_BY_ARTICLE = (
    _CASES
    + """
SELECT article_id, case_text, n, total FROM (
    SELECT article_id, case_text, n,
           SUM(n) OVER (PARTITION BY article_id) AS total,
           ROW_NUMBER() OVER (PARTITION BY article_id ORDER BY n DESC, case_text) AS rk
    FROM (
        SELECT article_id, case_text, COUNT(*) AS n FROM cases
        WHERE article_id IS NOT NULL GROUP BY article_id, case_text
    ) grouped
) ranked
WHERE rk <= :per_article
ORDER BY total DESC, article_id, n DESC, case_text
"""
)

SHOWN = """
SELECT s.article_id, COUNT(*) FROM insight_shown s
JOIN insight_requests r ON r.request_id = s.request_id
WHERE r.at >= :since AND r.at < :until
GROUP BY s.article_id
"""

MOST_COPIED = """
SELECT a.article_id, a.reply_id, COUNT(*) AS n FROM insight_actions a
JOIN insight_requests r ON r.request_id = a.request_id
WHERE r.at >= :since AND r.at < :until AND a.action = 'copy'
GROUP BY a.article_id, a.reply_id
ORDER BY n DESC, a.article_id, a.reply_id
LIMIT :copied_limit
"""

# The latest mark an agent gave an article within a case (a second click corrects the first).
MARKS_BY_ARTICLE = """
SELECT article_id,
       SUM(CASE WHEN action = 'helpful' THEN 1 ELSE 0 END) AS helpful,
       SUM(CASE WHEN action = 'wrong' THEN 1 ELSE 0 END) AS wrong
FROM (
    SELECT a.article_id, a.action,
           ROW_NUMBER() OVER (PARTITION BY r.case_id, a.article_id
                              ORDER BY a.at DESC, a.id DESC) AS rn
    FROM insight_actions a JOIN insight_requests r ON r.request_id = a.request_id
    WHERE r.at >= :since AND r.at < :until AND a.action IN ('helpful', 'wrong')
) latest
WHERE rn = 1
GROUP BY article_id
ORDER BY COUNT(*) DESC, article_id
"""


def _title(kb: KnowledgeBase, article_id: str | None) -> str:
    article = next((a for a in kb.articles if a.id == article_id), None)
    return article.title if article else f"{article_id}（已不在知识库中）"


def _reply_title(kb: KnowledgeBase, article_id: str, reply_id: str | None) -> str:
    if not reply_id:
        return "（未注明回复）"
    article = next((a for a in kb.articles if a.id == article_id), None)
    reply = next((r for r in article.replies if r.id == reply_id), None) if article else None
    return reply.title if reply else reply_id


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    return dt.datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")


def build_report(
    store: InsightStore,
    kb: KnowledgeBase,
    days: int,
    today: dt.date | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The insights over the last `days` days, with article and reply titles from `kb`.

    Args:
        store: where the records are (raises StoreUnavailable when it cannot be opened).
        kb: names articles and replies, and lists the articles that could have been shown.
        days: the period, counted back from now.

    Returns:
        A JSON-ready dict: period, totals, no_good_match, cases_by_article, never_shown,
        most_copied, marks (helpful/wrong per article) and the store's description.
    """
    now = time.time() if now is None else now
    today = today or dt.date.today()
    since = now - days * DAY_S
    with store.connection() as conn:
        sections = report_sections(
            store, conn, since, now, lambda *bounds: raw_sections(store, conn, *bounds)
        )
    totals = sections["totals"]
    no_match = sections["no_good_match"][:LIST_LIMIT]
    by_article = [
        row
        for n, row in _numbered_per_article(sections["cases_by_article"])
        if n < CASES_PER_ARTICLE
    ]
    shown = dict(sections["shown"])
    copied = sections["most_copied"][:LIST_LIMIT]
    marks = sections["marks"]

    requests, cases, used, copies, helpful, wrong = (int(v or 0) for v in totals)
    articles: dict[str, dict[str, Any]] = {}
    for article_id, case_text, n, total in by_article:
        entry = articles.setdefault(
            article_id,
            {
                "article_id": article_id,
                "title": _title(kb, article_id),
                "cases": int(total),
                "top_cases": [],
            },
        )
        entry["top_cases"].append({"case": case_text, "count": int(n)})
    return {
        "period": {"days": days, "since": _iso(since), "until": _iso(now)},
        "low_score": LOW_SCORE,
        "totals": {
            "requests": requests,
            "cases": cases,
            "cases_used": used,
            "copies": copies,
            "helpful": helpful,
            "wrong": wrong,
        },
        "no_good_match": [
            {
                "case": case_text,
                "count": int(n),
                "last_at": _iso(last_at),
                "top_id": top_id,
                "top_title": _title(kb, top_id) if top_id else None,
                "top_score": None if top_score is None else round(float(top_score), 3),
                "reasons": [
                    reason
                    for reason, count in (
                        ("没有结果", no_result),
                        ("未找到合适流程", low),
                        ("未打开或复制", unused),
                        ("标为不对", marked_wrong),
                    )
                    if count
                ],
            }
            for (
                case_text,
                n,
                last_at,
                top_id,
                top_score,
                no_result,
                low,
                unused,
                marked_wrong,
            ) in no_match
        ],
        "cases_by_article": list(articles.values()),
        "never_shown": [
            {
                "article_id": a.id,
                "title": a.title,
                "category": a.category,
                "status": a.status_on(today),
            }
            for a in kb.articles
            if a.id not in shown and a.status_on(today) != "expired"
        ],
        "shown": {article_id: int(n) for article_id, n in shown.items()},
        "most_copied": [
            {
                "article_id": article_id,
                "title": _title(kb, article_id),
                "reply_id": reply_id,
                "reply_title": _reply_title(kb, article_id, reply_id),
                "copies": int(n),
            }
            for article_id, reply_id, n in copied
        ],
        "marks": [
            {
                "article_id": article_id,
                "title": _title(kb, article_id),
                "helpful": int(h),
                "wrong": int(w),
                "total": int(h) + int(w),
                "helpful_ratio": round(int(h) / (int(h) + int(w)), 3) if int(h) + int(w) else None,
            }
            for article_id, h, w in marks
        ],
        "store": store.describe(),
    }


def _numbered_per_article(rows):
    """Each (article_id, …) row with its position among its article's rows."""
    seen: dict[str, int] = {}
    for row in rows:
        n = seen.get(row[0], 0)
        seen[row[0]] = n + 1
        yield n, row


def raw_sections(
    store: InsightStore, conn, since: float, until: float, limit: int, per_article: int
) -> dict[str, list]:
    """The report's sections straight from the records of [since, until)."""
    params = {
        "since": since,
        "until": until,
        "low": LOW_SCORE,
        "limit": limit,
        "per_article": per_article,
        "copied_limit": BUCKET_COPIED,
    }
    return {
        "totals": plain(store.query(conn, TOTALS, params)[0]),
        "no_good_match": [plain(row) for row in store.query(conn, NO_GOOD_MATCH, params)],
        "cases_by_article": [plain(row) for row in store.query(conn, CASES_BY_ARTICLE, params)],
        "shown": [plain(row) for row in store.query(conn, SHOWN, params)],
        "most_copied": [plain(row) for row in store.query(conn, MOST_COPIED, params)],
        "marks": [plain(row) for row in store.query(conn, MARKS_BY_ARTICLE, params)],
    }


def roll_up(
    store: InsightStore,
    conn=None,
    retention_days: int = 90,
    now: float | None = None,
    limit: int | None = None,
) -> int:
    """Roll up the settled hours and days of the retention period not rolled up yet (at most
    `limit` that hold records); return how many were."""
    now = time.time() if now is None else now
    cover = buckets(now - retention_days * DAY_S, settled_until(now))
    if not cover:
        return 0
    with contextlib.ExitStack() as stack:
        if conn is None:
            conn = stack.enter_context(store.connection())
        done = roll_up_buckets(
            store,
            conn,
            missing_buckets(store, conn, cover),
            lambda *bounds: raw_sections(store, conn, *bounds),
            limit,
        )
        return len(done)


def purge_older_than(store: InsightStore, days: int, now: float | None = None) -> int:
    """Delete records older than `days` days; return how many requests went."""
    cutoff = (time.time() if now is None else now) - days * DAY_S
    with store.connection() as conn:
        return store.purge(conn, cutoff)


def _rows(rows) -> list[str]:
    """A section's lines, or （无） when it has none."""
    return list(rows) or ["  （无）"]


def _no_match_line(row: dict) -> str:
    top = f"{row['top_id']} {row['top_score']:.2f}" if row["top_id"] else "没有结果"
    return f"  ×{row['count']:<3} {row['case']}  → {top}  [{'、'.join(row['reasons'])}]"


def _mark_line(row: dict) -> str:
    ratio = f"{100 * row['helpful_ratio']:.0f}%" if row["helpful_ratio"] is not None else ""
    return f"  {row['article_id']:<32} 有用 {row['helpful']:<4} 不对 {row['wrong']:<4} {ratio}"


def format_insights(report: dict) -> str:
    """The insights report as text for a terminal."""
    t = report["totals"]
    used = f"{100 * t['cases_used'] / t['cases']:.0f}%" if t["cases"] else "–"
    lines = [
        f"检索洞察：近 {report['period']['days']} 天（{report['period']['since'][:10]} 起）  {report['store']}",
        f"{t['cases']} 个案例（{t['requests']} 次检索），用上结果 {used}，复制回复 {t['copies']} 次，"
        f"有用 {t['helpful']} / 不对 {t['wrong']}",
        "",
        "没有找到好结果的检索（没有结果、未找到合适流程、未打开或复制、标为不对）：",
    ]
    lines += _rows(_no_match_line(row) for row in report["no_good_match"])
    lines += ["", "有用 / 不对（按文章）："]
    lines += _rows(_mark_line(row) for row in report["marks"])
    lines += ["", "复制最多的回复："]
    lines += _rows(
        f"  {row['copies']:>4}  {row['article_id']}/{row['reply_id']}  {row['reply_title']}"
        for row in report["most_copied"]
    )
    lines += ["", "各文章的常见案例："]
    lines += _rows(
        "\n".join(
            [f"  {row['article_id']}（{row['cases']} 个案例）"]
            + [f"      ×{c['count']:<3} {c['case']}" for c in row["top_cases"]]
        )
        for row in report["cases_by_article"]
    )
    lines += ["", f"从未出现在结果中的文章（{len(report['never_shown'])} 篇）："]
    lines += [f"  {a['article_id']:<32} {a['title']}" for a in report["never_shown"]]
    return "\n".join(lines)
