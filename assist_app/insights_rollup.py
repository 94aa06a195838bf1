"""The insights report's sections over hours and days, computed once and kept, so that a report
over 90 days reads ~140 small roll-ups and the raw records of the last hour or so: its cost
does not grow with the number of records (`bench/insights.py`).

A period is covered by day buckets (whole UTC days), hour buckets at its edges, and raw records
where no bucket is settled yet: a bucket is rolled up once it ended SETTLE_S ago, since what an
agent does with an answer is recorded after the answer. A case counts in the bucket of its last
request there; one that spans two buckets (a few minutes across a full hour) counts in both.
Within a bucket the long lists keep their top BUCKET_TEXTS wordings and BUCKET_PER_ARTICLE per
article, so a wording that is never among a bucket's most frequent is left out of the merged
lists: on the lists of 30 an editor reads, that changes nothing but the rarest tail.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from decimal import Decimal

HOUR_S = 3600
DAY_S = 86400
SETTLE_S = 600
BUCKET_TEXTS = 60
BUCKET_PER_ARTICLE = 5
BUCKET_COPIED = 1000

EXISTS = "SELECT 1 FROM insight_requests WHERE at >= :since AND at < :until LIMIT 1"
ROLLUP_KEYS = """
SELECT bucket_start, bucket_seconds FROM insight_rollups
WHERE bucket_start >= :since AND bucket_start < :until"""
ROLLUPS = """
SELECT bucket_start, bucket_seconds, sections FROM insight_rollups
WHERE bucket_start >= :since AND bucket_start < :until"""


def buckets(since: float, until: float) -> list[tuple[float, int]]:
    """(start, seconds) of the whole hours and days between since and until, days where whole."""
    out = []
    start = math.ceil(since / HOUR_S) * HOUR_S
    while start + HOUR_S <= until:
        if start % DAY_S == 0 and start + DAY_S <= until:
            out.append((float(start), DAY_S))
            start += DAY_S
        else:
            out.append((float(start), HOUR_S))
            start += HOUR_S
    return out


def settled_until(now: float) -> float:
    """The end of the last whole hour that ended SETTLE_S ago or earlier."""
    return math.floor((now - SETTLE_S) / HOUR_S) * HOUR_S


def report_sections(store, conn, since: float, now: float, raw_sections) -> dict[str, list]:
    """The report's sections over [since, now): kept roll-ups, missing ones rolled up now, raw
    records for the unsettled edges. `raw_sections(since, until, limit, per_article)` queries
    the records."""
    cover = buckets(since, settled_until(now))
    if not cover:
        return merge([raw_sections(since, now, BUCKET_TEXTS, BUCKET_PER_ARTICLE)])
    parts = rolled_up(store, conn, cover, raw_sections)
    first, last = cover[0][0], cover[-1][0] + cover[-1][1]
    if since < first:
        parts.append(raw_sections(since, first, BUCKET_TEXTS, BUCKET_PER_ARTICLE))
    parts.append(raw_sections(last, now, BUCKET_TEXTS, BUCKET_PER_ARTICLE))
    return merge(parts)


def rolled_up(store, conn, cover, raw_sections) -> list[dict]:
    """The sections of every bucket in `cover`, rolling up (and keeping) the missing ones."""
    kept = {
        (float(start), int(seconds)): json.loads(sections)
        for start, seconds, sections in store.query(conn, ROLLUPS, _span(cover))
    }
    missing = [bucket for bucket in cover if bucket not in kept]
    kept.update(roll_up_buckets(store, conn, missing, raw_sections))
    return [kept[bucket] for bucket in cover]


def missing_buckets(store, conn, cover) -> list[tuple[float, int]]:
    """The buckets of `cover` not rolled up yet."""
    kept = {(float(s), int(n)) for s, n in store.query(conn, ROLLUP_KEYS, _span(cover))}
    return [bucket for bucket in cover if bucket not in kept]


def _span(cover) -> dict[str, float]:
    return {"since": cover[0][0], "until": cover[-1][0] + 1}


def roll_up_buckets(
    store, conn, missing, raw_sections, limit: int | None = None
) -> dict[tuple[float, int], dict]:
    """Roll up these buckets from the records and keep them; their sections. With `limit`, stop
    after that many buckets that hold records (empty ones cost an index probe each)."""
    done, new_rows, computed = {}, [], 0
    for start, seconds in missing:
        bounds = {"since": start, "until": start + seconds}
        if not store.query(conn, EXISTS, bounds):
            sections = empty_sections()
        elif limit is not None and computed >= limit:
            break
        else:
            sections = raw_sections(start, start + seconds, BUCKET_TEXTS, BUCKET_PER_ARTICLE)
            computed += 1
        done[(start, seconds)] = sections
        new_rows.append(
            {
                "bucket_start": start,
                "bucket_seconds": seconds,
                "sections": json.dumps(sections, ensure_ascii=False),
            }
        )
    if new_rows:
        store.add_rollups(conn, new_rows)
    return done


def empty_sections() -> dict[str, list]:
    return {
        "totals": [0, 0, 0, 0, 0, 0],
        "no_good_match": [],
        "cases_by_article": [],
        "shown": [],
        "most_copied": [],
        "marks": [],
    }


def plain(row) -> list:
    """A row's values as JSON can keep them (PostgreSQL's SUM gives Decimal)."""
    out = []
    for value in row:
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        out.append(value)
    return out


def merge(parts: list[dict[str, list]]) -> dict[str, list]:
    """One set of sections from several periods' (rows as the report's queries give them)."""
    totals = [sum(int(p["totals"][i] or 0) for p in parts) for i in range(6)]

    texts: dict[str, list] = {}
    for part in parts:
        for text, n, last_at, top_id, top_score, *reasons in part["no_good_match"]:
            entry = texts.get(text)
            if entry is None:
                texts[text] = [text, n, last_at, top_id, top_score, *reasons]
                continue
            entry[1] += n
            entry[2] = max(entry[2], last_at)
            if top_id is not None and (entry[3] is None or top_id < entry[3]):
                entry[3] = top_id
            if top_score is not None and (entry[4] is None or top_score > entry[4]):
                entry[4] = top_score
            for i, count in enumerate(reasons, start=5):
                entry[i] += count
    no_good_match = sorted(texts.values(), key=lambda r: (-r[1], -r[2]))

    article_totals: dict[str, int] = defaultdict(int)
    article_texts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for part in parts:
        seen = set()
        for article_id, text, n, total in part["cases_by_article"]:
            if article_id not in seen:
                article_totals[article_id] += int(total)
                seen.add(article_id)
            article_texts[article_id][text] += int(n)
    cases_by_article = [
        [article_id, text, n, article_totals[article_id]]
        for article_id in sorted(article_totals, key=lambda a: (-article_totals[a], a))
        for text, n in sorted(article_texts[article_id].items(), key=lambda kv: (-kv[1], kv[0]))
    ]

    shown: dict[str, int] = defaultdict(int)
    for part in parts:
        for article_id, n in part["shown"]:
            shown[article_id] += int(n)

    copied: dict[tuple, int] = defaultdict(int)
    for part in parts:
        for article_id, reply_id, n in part["most_copied"]:
            copied[(article_id, reply_id)] += int(n)
    most_copied = [
        [article_id, reply_id, n]
        for (article_id, reply_id), n in sorted(
            copied.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or "")
        )
    ]

    marks: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for part in parts:
        for article_id, helpful, wrong in part["marks"]:
            marks[article_id][0] += int(helpful)
            marks[article_id][1] += int(wrong)
    return {
        "totals": totals,
        "no_good_match": no_good_match,
        "cases_by_article": cases_by_article,
        "shown": [[a, n] for a, n in shown.items()],
        "most_copied": most_copied,
        "marks": [
            [a, h, w] for a, (h, w) in sorted(marks.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
        ],
    }
