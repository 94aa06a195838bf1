"""Learning from the agents (`kb learn`): their corrections in a real store become keyword
proposals, checked against the real search, applied to a copy of a fixture KB (the shop
fixture plus an article the cases' wording does not find yet).

The acceptance test ("Show it" in issue 14) runs the whole loop over HTTP and real `kb`
commands; the others write records straight into a store on disk and ask `propose`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
import yaml
from kb_helpers import SHOP_KB
from live_helpers import run_kb
from web_helpers import fetch, serve_app

from assist_app import create_app
from assist_app.insights import purge_older_than
from assist_app.insights_store import Writes, open_store
from assist_app.learn import apply_proposals, clean_phrasing, propose
from assist_app.masking import mask_personal_data
from assist_app.settings import Settings
from indexer.build import build_index
from indexer.loader import load_kb
from indexer.search import SearchEngine

# The kind of case this file learns: the buyer's *return* parcel is stuck on its way back to
# the shop. The fixture KB's article for it (RETURN_PARCEL_BACK) shares none of the cases'
# wording about a stuck parcel, so they rank under the outbound delay (slow-delivery) until the
# agents' choices teach it; the starter KB is not used, so its content can improve freely.
WANTED = "return-parcel-back"
FIRST = "slow-delivery"
RETURN_PARCEL_BACK = """---
id: return-parcel-back
title: 买家寄回的退货包裹出问题：被拒收、地址写错
category: returns-refunds
tags: [退货, 寄回]
keywords:
  - 退货包裹被拒收了
  - 退货地址写错了
owner: 售后组
reviewed: 2026-11-01
review_every_days: 3650
sources: [淘宝平台争议处理规则]
checklist:
  - 查退货单号的物流。
  - 联系快递改地址或重新派送。
replies:
  - id: check-return
    title: 查退货物流
    text: 亲，退货单号 {{tracking_no}} 我们来查，有进展告诉您。
---
买家寄回的退货包裹在路上出问题时，按本流程查物流、联系快递。
"""
CASES = (
    "退货物流停在半路了怎么办 单号SF1234567890123",
    "寄回去的快递好几天都没有物流信息 我电话13912345678",
    "我把东西寄回去了物流一直不更新 订单号 3900123456789012345",
)
FOURTH = "寄回给你们的货好几天没更新"
NUMBERS = re.compile(r"\d{3,}")


def write_learn_kb(target: Path) -> Path:
    """The shop fixture KB plus the article for a buyer's return parcel, at `target`."""
    shutil.copytree(SHOP_KB, target)
    article = target / "articles" / "returns-refunds" / f"{WANTED}.md"
    article.write_text(RETURN_PARCEL_BACK, encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def learn_kb(tmp_path_factory) -> Path:
    """write_learn_kb's KB, once for this module (read-only: copy it to change it)."""
    return write_learn_kb(tmp_path_factory.mktemp("learn") / "kb")


@pytest.fixture(scope="module")
def learn_index(learn_kb, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("learn-index")
    build_index(learn_kb, root)
    return root


@pytest.fixture(scope="module")
def learn_engine(learn_index) -> SearchEngine:
    return SearchEngine(learn_index)


@pytest.fixture(scope="module")
def kb(learn_kb):
    return load_kb(learn_kb)[0]


def proposal_for(report: dict, article_id: str) -> dict | None:
    return next((p for p in report["proposals"] if p["article_id"] == article_id), None)


# ------------------------------------------------------------------ the loop, end to end


def post(base: str, path: str, body: dict) -> dict:
    response = fetch(f"{base}{path}", "POST", json_body=body)
    assert response.status in (200, 202), response.text[:300]
    return response.json()


@pytest.mark.slow
def test_agents_choices_become_a_keyword_that_puts_the_article_first(
    tmp_path, learn_kb, learn_index, learn_engine
):
    """Show it: three cases choose Y under X; `kb learn` proposes Y's phrasings from exactly
    those cases; applied to a copy and rebuilt, a fourth wording finds Y first."""
    store_url = str(tmp_path / "insights.sqlite")
    app = create_app(Settings(kb_dir=learn_kb, index_root=learn_index, insights_url=store_url))
    with serve_app(app) as base:
        for n, case in enumerate(CASES):
            # The console asks while the agent types, then again with the whole text (case_id).
            first = post(base, "/api/assist", {"case": case[:6]})
            answer = post(base, "/api/assist", {"case": case, "case_id": first["request_id"]})
            ids = [r["id"] for r in answer["results"]]
            assert ids[0] == FIRST and WANTED in ids, (case, ids)
            rank = ids.index(WANTED) + 1
            request_id = answer["request_id"]
            reply = answer["results"][rank - 1]["replies"][0]["id"]
            # As the console does: opens it (click or Alt+digit), copies a reply, says chose;
            # the second case's agent also ticks a step (the console sends chose once).
            post(
                base,
                "/api/feedback",
                {"request_id": request_id, "action": "open", "article_id": WANTED},
            )
            post(
                base,
                "/api/feedback",
                {"request_id": request_id, "action": "chose", "article_id": WANTED, "rank": rank},
            )
            post(
                base,
                "/api/feedback",
                {
                    "request_id": request_id,
                    "action": "copy",
                    "article_id": WANTED,
                    "reply_id": reply,
                },
            )
            if n == 1:
                post(
                    base,
                    "/api/feedback",
                    {"request_id": request_id, "action": "helpful", "article_id": WANTED},
                )
        assert app.extensions["insights"].flush()
    app.extensions["insights"].close()

    env = {**os.environ, "KB_INSIGHTS_URL": store_url}
    learned = run_kb("--kb", learn_kb, "--index", learn_index, "learn", "--json", env=env)
    assert learned.returncode == 0, learned.stderr
    report = json.loads(learned.stdout)
    proposal = proposal_for(report, WANTED)
    assert proposal is not None, report
    assert proposal["cases"] == 3
    assert proposal["ranked_first"] == [
        {"article_id": FIRST, "title": learn_engine.current().kb.article(FIRST).title, "cases": 3}
    ]
    phrasings = [row["phrasing"] for row in proposal["phrasings"]]
    assert len(phrasings) == 3 and all(row["cases"] == 1 for row in proposal["phrasings"])
    assert "***" in proposal["example"] or "1**" in proposal["example"]  # masked, never raw

    # Applied to a copy of the KB: only keyword lines are added to the one article.
    copy = tmp_path / "kb"
    shutil.copytree(learn_kb, copy)
    article = copy / "articles" / "returns-refunds" / f"{WANTED}.md"
    before = article.read_text(encoding="utf-8")
    applied = run_kb("--kb", copy, "--index", learn_index, "learn", "--apply", WANTED, env=env)
    assert applied.returncode == 0, applied.stderr
    after = article.read_text(encoding="utf-8")
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == [f"  - {p}" for p in phrasings]
    assert [line for line in after.splitlines() if line not in added] == before.splitlines()

    # No digit string of the cases reached a keyword.
    keywords = yaml.safe_load(after.split("---\n")[1])["keywords"]
    for digits in NUMBERS.findall("".join(CASES)):
        assert not any(digits[-4:] in k for k in keywords), digits
    assert not any(ch.isdigit() for p in phrasings for ch in p)

    # Rebuilt, a fourth wording of the same kind finds the article first (it did not before).
    assert learn_engine.search(FOURTH).hits[0].article.id == FIRST
    new_index = tmp_path / "index"
    built = run_kb("--kb", copy, "--index", new_index, "index")
    assert built.returncode == 0, built.stderr
    found = run_kb("--kb", copy, "--index", new_index, "search", FOURTH, "--json")
    assert json.loads(found.stdout)["results"][0]["id"] == WANTED

    # Learnt, the same phrasings are no longer proposed (they are keywords now).
    again = run_kb("--kb", copy, "--index", new_index, "learn", "--json", env=env)
    assert proposal_for(json.loads(again.stdout), WANTED) is None


# ------------------------------------------------------------------ records straight into a store


def case_writes(
    case_id: str,
    text: str,
    shown: list[str],
    actions: list[tuple],
    at: float,
    top_score: float = 2.0,
) -> Writes:
    """One request of a case (its text masked as the recorder does) with what the agent did:
    actions are (action, article_id, rank or None)."""
    request_id = uuid.uuid4().hex
    return Writes(
        requests=[
            {
                "request_id": request_id,
                "case_id": case_id,
                "at": at,
                "kind": "assist",
                "case_text": mask_personal_data(text),
                "facts": "{}",
                "top_id": shown[0] if shown else None,
                "top_score": top_score if shown else None,
                "result_count": len(shown),
                "kb_version": "v1",
            }
        ],
        shown=[
            {"request_id": request_id, "rank": i, "article_id": a, "score": 1.0 / i}
            for i, a in enumerate(shown, start=1)
        ],
        actions=[
            {
                "request_id": request_id,
                "at": at + 1 + i,
                "action": action,
                "article_id": article_id,
                "reply_id": None,
                "rank": rank,
            }
            for i, (action, article_id, rank) in enumerate(actions)
        ],
    )


def record(store, *writes: Writes) -> None:
    with store.connection() as conn:
        for w in writes:
            store.write(conn, w)


def chose(case: str, at: float, article: str = WANTED, shown=(FIRST, WANTED)) -> Writes:
    return case_writes(
        uuid.uuid4().hex,
        case,
        list(shown),
        [("chose", article, list(shown).index(article) + 1)],
        at,
    )


@pytest.fixture
def store(tmp_path):
    return open_store(str(tmp_path / "insights.sqlite"))


def test_one_odd_case_proposes_nothing_and_two_do(store, kb, learn_engine):
    now = time.time()
    record(store, chose(CASES[0], now - 60))
    assert propose(store, kb, learn_engine, now=now)["proposals"] == []
    assert propose(store, kb, learn_engine, min_cases=1, now=now)["proposals"][0]["cases"] == 1

    record(store, chose(CASES[1], now - 50))
    [proposal] = propose(store, kb, learn_engine, now=now)["proposals"]
    assert (proposal["article_id"], proposal["cases"]) == (WANTED, 2)


def test_a_case_counts_once_however_many_times_the_choice_was_reported(store, kb, learn_engine):
    now = time.time()
    case_id = uuid.uuid4().hex
    shown = [FIRST, WANTED]
    record(
        store,
        case_writes(case_id, CASES[0][:6], shown, [], now - 90),
        case_writes(
            case_id,
            CASES[0],
            shown,
            [("chose", WANTED, 2), ("chose", WANTED, 2), ("copy", WANTED, None)],
            now - 80,
        ),
    )
    report = propose(store, kb, learn_engine, min_cases=1, now=now)
    assert proposal_for(report, WANTED)["cases"] == 1


def test_a_choice_the_agent_then_marked_wrong_counts_for_nothing(store, kb, learn_engine):
    now = time.time()
    for case in CASES[:2]:
        record(
            store,
            case_writes(
                uuid.uuid4().hex,
                case,
                [FIRST, WANTED],
                [("chose", WANTED, 2), ("wrong", WANTED, None)],
                now - 60,
            ),
        )
    assert propose(store, kb, learn_engine, now=now)["proposals"] == []


def test_a_no_good_match_search_resolved_later_in_the_case_proposes_its_wording(
    store, kb, learn_engine
):
    now = time.time()
    for n, case in enumerate(CASES[:2]):
        case_id = uuid.uuid4().hex
        record(
            store,
            # Flagged (under the no-good-match line), the agent searched again and copied.
            case_writes(case_id, case, [FIRST, WANTED], [], now - 100 + n, top_score=0.5),
            case_writes(
                case_id, "退货 寄回 物流", [WANTED], [("copy", WANTED, None)], now - 50 + n
            ),
        )
    proposal = proposal_for(propose(store, kb, learn_engine, now=now), WANTED)
    assert proposal["cases"] == 2
    assert {row["sources"][0] for row in proposal["phrasings"]} == {"no_good_match"}
    assert {row["phrasing"] for row in proposal["phrasings"]} == {
        clean_phrasing(mask_personal_data(c)) for c in CASES[:2]
    }


PERSONAL = (
    "我叫张三 电话13812345678 退货物流停在半路了",
    "寄回的退货快递好几天没有物流信息 收件人李四 地址北京市朝阳区望京街道10号楼1201",
    "订单号 3900123456789012345 退货包裹 SF1234567890123 物流一直不更新 身份证110101199003071234",
)


def test_personal_data_never_becomes_a_keyword(store, kb, learn_kb, learn_engine, tmp_path):
    now = time.time()
    record(store, *(chose(case, now - 60 + i) for i, case in enumerate(PERSONAL)))
    report = propose(store, kb, learn_engine, now=now)
    proposal = proposal_for(report, WANTED)
    phrasings = [row["phrasing"] for row in proposal["phrasings"]]
    assert proposal["cases"] == 3 and phrasings
    for secret in ("张三", "李四", "北京", "朝阳", "望京", "1201", "SF", "sf"):
        assert not any(secret in p for p in phrasings), secret
    assert not any(ch.isdigit() for p in phrasings for ch in p)

    copy = tmp_path / "kb"
    shutil.copytree(learn_kb, copy)
    [(path, added)] = apply_proposals(copy, report, [WANTED])
    text = (copy.parent / path).read_text(encoding="utf-8")
    for digits in NUMBERS.findall("".join(PERSONAL)):
        assert digits[-4:] not in text.split("---\n")[1], digits


def test_banned_wording_is_never_proposed(store, kb, learn_engine):
    now = time.time()
    record(
        store,
        chose("退货寄回去了物流不动 加微信说吧", now - 60),
        chose("退货寄回去物流卡住了 好评返现还给吗", now - 50),
    )
    report = propose(store, kb, learn_engine, min_cases=1, now=now)
    assert report["proposals"] == [] and report["skipped"]["banned"] == 2


def test_a_phrasing_wanted_by_two_articles_is_a_conflict_and_not_applied(
    store, kb, learn_kb, learn_engine, tmp_path
):
    now = time.time()
    shared = "寄回的退货快递好几天没有物流信息"
    other = ("parcel-not-received", "no-reason-return")
    record(
        store,
        chose(shared, now - 90),
        chose(CASES[0], now - 80),
        chose(shared, now - 70, article="no-reason-return", shown=other),
        chose("还没收到货想退掉", now - 60, article="no-reason-return", shown=other),
    )
    report = propose(store, kb, learn_engine, now=now)
    mine, theirs = proposal_for(report, WANTED), proposal_for(report, "no-reason-return")
    conflict = {row["phrasing"]: row["conflict_with"] for row in mine["phrasings"]}
    assert conflict[shared] == ["no-reason-return"]
    assert {row["phrasing"]: row["conflict_with"] for row in theirs["phrasings"]}[shared] == [
        WANTED
    ]
    assert shared not in mine["yaml"]

    copy = tmp_path / "kb"
    shutil.copytree(learn_kb, copy)
    written = dict(apply_proposals(copy, report, [], apply_all=True))
    assert all(shared not in added for added in written.values())
    assert any(clean_phrasing(mask_personal_data(CASES[0])) in a for a in written.values())


def test_a_dismissed_phrasing_is_not_proposed_again(store, kb, learn_engine):
    now = time.time()
    record(store, *(chose(case, now - 60 + i) for i, case in enumerate(CASES)))
    first = proposal_for(propose(store, kb, learn_engine, now=now), WANTED)
    dropped = first["phrasings"][0]["phrasing"]
    with store.connection() as conn:
        store.dismiss(conn, WANTED, dropped, "laoli", now)
    report = propose(store, kb, learn_engine, now=now)
    assert dropped not in [row["phrasing"] for row in proposal_for(report, WANTED)["phrasings"]]
    assert report["skipped"]["dismissed"] == 1


def test_a_phrasing_that_already_finds_its_article_first_is_not_proposed(store, kb, learn_engine):
    now = time.time()
    already = "我的退货包裹被快递拒收了"  # the fixture KB puts WANTED first for this
    assert learn_engine.search(already).hits[0].article.id == WANTED
    record(store, chose(already, now - 60), chose(already + " 急", now - 50))
    report = propose(store, kb, learn_engine, min_cases=1, now=now)
    assert report["proposals"] == [] and report["skipped"]["already_first"] == 2


def test_retention_of_the_raw_records_is_unchanged_and_dismissals_stay(store, kb, learn_engine):
    now = time.time()
    old = now - 100 * 86400
    record(store, *(chose(case, old + i) for i, case in enumerate(CASES)))
    with store.connection() as conn:
        store.dismiss(conn, WANTED, "某个说法", "laoli", old)
    assert proposal_for(propose(store, kb, learn_engine, days=365, now=now), WANTED)["cases"] == 3

    assert purge_older_than(store, 90, now=now) == 3
    assert propose(store, kb, learn_engine, days=365, now=now)["proposals"] == []
    with store.connection() as conn:
        assert store.query(conn, "SELECT phrasing FROM insight_dismissals", {}) == [("某个说法",)]


# ------------------------------------------------------------------ a store of the old schema

# The tables as they were before actions had a rank and editors could dismiss a phrasing.
OLD_SCHEMA = (
    """CREATE TABLE insight_requests (
        request_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,
        kind TEXT NOT NULL, case_text TEXT NOT NULL, facts TEXT NOT NULL, top_id TEXT,
        top_score DOUBLE PRECISION, result_count INTEGER NOT NULL, kb_version TEXT)""",
    """CREATE TABLE insight_shown (
        request_id TEXT NOT NULL, rank INTEGER NOT NULL, article_id TEXT NOT NULL,
        score DOUBLE PRECISION NOT NULL, PRIMARY KEY (request_id, rank))""",
    """CREATE TABLE insight_actions (
        id {id}, request_id TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, action TEXT NOT NULL,
        article_id TEXT NOT NULL, reply_id TEXT)""",
    """CREATE TABLE insight_rollups (
        bucket_start DOUBLE PRECISION NOT NULL, bucket_seconds INTEGER NOT NULL,
        sections TEXT NOT NULL, PRIMARY KEY (bucket_start, bucket_seconds))""",
)


def old_rows(now: float) -> list[tuple[str, tuple]]:
    """Two cases that copied WANTED's reply while it ranked second, as old stores hold them."""
    rows = []
    for n, case in enumerate(CASES[:2]):
        rid = f"{n:032x}"
        rows += [
            (
                f"INSERT INTO insight_requests VALUES ({', '.join(['?'] * 10)})",
                (
                    rid,
                    rid,
                    now - 60 + n,
                    "assist",
                    mask_personal_data(case),
                    "{}",
                    FIRST,
                    2.0,
                    2,
                    "v0",
                ),
            ),
            ("INSERT INTO insight_shown VALUES (?, ?, ?, ?)", (rid, 1, FIRST, 1.0)),
            ("INSERT INTO insight_shown VALUES (?, ?, ?, ?)", (rid, 2, WANTED, 0.8)),
            (
                "INSERT INTO insight_actions (request_id, at, action, article_id, reply_id) "
                "VALUES (?, ?, ?, ?, ?)",
                (rid, now - 50 + n, "copy", WANTED, "r"),
            ),
        ]
    return rows


def check_migrated(url: str, kb, engine, now: float) -> None:
    store = open_store(url)
    # Opening it adds what is new and keeps every row; then it records and learns as any.
    report = propose(store, kb, engine, now=now)
    assert proposal_for(report, WANTED)["cases"] == 2
    record(store, chose(CASES[2], now - 10))
    with store.connection() as conn:
        store.dismiss(conn, WANTED, "某个说法", "laoli", now)
        ranks = store.query(conn, "SELECT action, rank FROM insight_actions ORDER BY at", {})
    assert ranks == [("copy", None), ("copy", None), ("chose", 2)]
    assert proposal_for(propose(store, kb, engine, now=now), WANTED)["cases"] == 3
    open_store(url).open().close()  # opening again changes nothing


def test_an_old_sqlite_store_is_migrated_without_losing_data(tmp_path, kb, learn_engine):
    now = time.time()
    path = tmp_path / "old.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for sql in OLD_SCHEMA:
            conn.execute(sql.format(id="INTEGER PRIMARY KEY AUTOINCREMENT"))
        for sql, params in old_rows(now):
            conn.execute(sql, params)
        conn.commit()
    check_migrated(str(path), kb, learn_engine, now)


def test_an_old_postgres_store_is_migrated_without_losing_data(kb, learn_engine):
    import psycopg
    from test_insights import _postgres_schema, _postgres_url

    now = time.time()
    with _postgres_schema(_postgres_url()) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            for sql in OLD_SCHEMA:
                conn.execute(sql.format(id="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"))
            for sql, params in old_rows(now):
                conn.execute(sql.replace("?", "%s"), params)
        check_migrated(url, kb, learn_engine, now)


# ------------------------------------------------------------------ the insights page


def test_insights_page_lists_proposals_with_a_patch_and_a_way_to_dismiss(
    tmp_path, learn_kb, learn_index
):
    store_url = str(tmp_path / "insights.sqlite")
    store = open_store(store_url)
    now = time.time()
    record(store, *(chose(case, now - 600 + i) for i, case in enumerate(CASES)))
    phrasings = [clean_phrasing(mask_personal_data(c)) for c in CASES]
    app = create_app(Settings(kb_dir=learn_kb, index_root=learn_index, insights_url=store_url))
    with serve_app(app) as base:
        html = fetch(f"{base}/insights?days=7").text
        section = html.split('id="learn-title"', 1)[1].split("</section>", 1)[0]
        assert "3 个案例" in section and f'data-article="{WANTED}"' in section
        assert all(p in section for p in phrasings)
        patch = re.search(r'<pre id="patch-1">(.*?)</pre>', section, re.S).group(1)
        assert patch.splitlines() == [f"  - {p}" for p in sorted(phrasings)]
        assert 'data-copy="patch-1">复制补丁</button>' in section

        form = urlencode({"article_id": WANTED, "phrasing": phrasings[0], "days": 7})
        form_type = {"Content-Type": "application/x-www-form-urlencoded"}
        # Another site's page cannot dismiss for an editor; bad input changes nothing.
        refused = fetch(
            f"{base}/insights/dismiss",
            "POST",
            form,
            headers={**form_type, "Origin": "http://evil.example"},
        )
        assert refused.status == 403
        bad = fetch(
            f"{base}/insights/dismiss", "POST", "article_id=nope&phrasing=x", headers=form_type
        )
        assert bad.status == 400 and "nope" in bad.text
        with store.connection() as conn:
            assert store.query(conn, "SELECT * FROM insight_dismissals", {}) == []

        after = fetch(f"{base}/insights/dismiss", "POST", form, headers=form_type)
        assert after.status == 200  # followed the 303 back to the page
        section = after.text.split('id="learn-title"', 1)[1].split("</section>", 1)[0]
        assert phrasings[0] not in section and phrasings[1] in section
    app.extensions["insights"].close()
    with store.connection() as conn:
        [(article_id, phrasing, who, at)] = store.query(
            conn, "SELECT * FROM insight_dismissals", {}
        )
    assert (article_id, phrasing, who) == (WANTED, phrasings[0], "本机编辑")
    assert now <= at <= time.time()


# ------------------------------------------------------------------ the command


def test_kb_learn_prints_proposals_and_refuses_an_unknown_id_changing_nothing(
    tmp_path, learn_kb, learn_index
):
    from click.testing import CliRunner

    from assist_app.cli import main

    store_url = str(tmp_path / "insights.sqlite")
    now = time.time()
    record(open_store(store_url), *(chose(case, now - 60 + i) for i, case in enumerate(CASES)))
    copy = tmp_path / "kb"
    shutil.copytree(learn_kb, copy)
    before = {p: p.read_bytes() for p in copy.rglob("*.md")}

    def kb(*args):
        return CliRunner().invoke(
            main,
            ["--kb", str(copy), "--index", str(learn_index), "learn", *args],
            env={"KB_INSIGHTS_URL": store_url},
        )

    shown = kb()
    assert shown.exit_code == 0, shown.output
    assert f"[{WANTED}]" in shown.stdout and "（3 个案例）" in shown.stdout
    assert f"排第一的是：{FIRST} ×3" in shown.stdout
    assert "kb learn --apply" in shown.stdout
    assert kb("--min-cases", "4").stdout.count("[") == 0  # three cases are not four

    refused = kb("--apply", "nope", "--apply", WANTED)
    assert refused.exit_code == 1 and "没有这些建议：nope" in refused.output
    assert WANTED in refused.output  # it names the proposals there are
    assert {p: p.read_bytes() for p in copy.rglob("*.md")} == before

    applied = kb("--all")
    assert applied.exit_code == 0 and "keywords 新增 3 条" in applied.stdout
    changed = [p for p in before if p.read_bytes() != before[p]]
    assert [p.name for p in changed] == [f"{WANTED}.md"]
