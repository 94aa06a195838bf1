"""Insights: masking, recording through the live app into a real store, reading the report back.

The store fixture runs each recording test twice: on a SQLite file and on a real PostgreSQL
server named by KB_TEST_POSTGRES_URL (`make postgres` starts one as root and `make test` sets
the variable); without one the PostgreSQL cases are skipped and say why. Each PostgreSQL test
gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import re
import threading
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from kb_helpers import SHOP_KB
from web_helpers import (
    agents_session,
    assert_json_error,
    assist,
    feedback,
    fetch,
    serve_app,
)

from assist_app import create_app
from assist_app.cli import main
from assist_app.insights import DAY_S, build_report, purge_older_than, raw_sections
from assist_app.insights_rollup import merge
from assist_app.insights_store import SQLiteStore, StoreUnavailable, Writes, open_store
from assist_app.masking import mask_personal_data
from assist_app.recorder import InsightRecorder
from assist_app.settings import Settings

# ------------------------------------------------------------------ masking


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # Phones, however written.
        ("我的手机13812345678", "我的手机1**********"),
        ("电话 138-1234-5678", "电话 1**********"),
        ("电话 139 1234 5678 找我", "电话 1********** 找我"),
        ("+86 13912345678", "1**********"),
        ("座机 010-12345678", "座机 ***-********"),
        # Order and tracking numbers keep their last 4 digits (and a courier's letters).
        ("订单号3900123456789012345", "订单号***************2345"),
        ("拼多多 250101-123456789012345", "拼多多 ******-***********2345"),
        ("京东订单 123456789012", "京东订单 ********9012"),
        ("顺丰SF1234567890123", "顺丰SF*********0123"),
        ("EMS EA123456789CN", "EMS EA*****6789CN"),
        ("身份证 11010519491231002X", "身份证 [身份证号]"),
        # Names after 我叫 / 收件人, cut where the sentence goes on.
        ("我叫张三要退货", "我叫*要退货"),
        ("我叫欧阳娜娜，快递没到", "我叫*，快递没到"),
        ("收件人：李四，电话13812345678", "收件人：*，电话1**********"),
        ("收件人是王小明", "收件人是*"),
        # Addresses: a run of 省/市/区/路/号 components.
        ("地址是广东省深圳市南山区科技园路100号3栋502", "地址是[地址]"),
        ("我住在北京市朝阳区建国路88号，快递没到", "我住在[地址]，快递没到"),
        ("寄到杭州西湖区文三路90号", "寄到[地址]"),
        ("邮箱 abc.d@qq.com", "邮箱 [邮箱]"),
    ],
)
def test_personal_data_is_masked(text, masked):
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "退款1380元 签收第9天 买了3件",  # amounts and counts
        "2026-11-26 下的单，12月3号到的 4号就坏了",  # dates
        "价格12999元 iPhone 15 256G",  # prices and models
        "订单20261126",  # 8 digits: too short for an order number
        "市场价199元，区别不大",  # words that hold 市 / 区
        "快递在路上",  # 路 alone
        "寄回杭州市了",  # one place name is not an address
        "放在小区门口了",  # 小区 alone
        "今天上午市区路上堵",  # markers, but no address
        "我叫了好几次快递",  # 我叫 that is not a name
        "收件人电话写错了",  # 收件人 followed by what it is about
        "收件人是我妈",  # a relation, not a name
        "我叫你们退款",
    ],
)
def test_lookalikes_are_kept(text):
    assert mask_personal_data(text) == text


HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
FILLER = st.text(alphabet=st.one_of(HAN, st.sampled_from("，。！？ 了吗")), max_size=30)


@given(before=FILLER, after=FILLER, phone=st.from_regex(r"1[3-9]\d{9}", fullmatch=True))
def test_a_phone_number_never_survives(before, after, phone):
    masked = mask_personal_data(before + phone + after)
    assert phone not in masked
    assert "1**********" in masked


# ------------------------------------------------------------------ stores


def _postgres_url() -> str:
    url = os.environ.get("KB_TEST_POSTGRES_URL")
    if not url:
        pytest.skip(
            "KB_TEST_POSTGRES_URL is not set, so the PostgreSQL store is not tested "
            "(as root, `make postgres` starts a server and `make test` sets the variable)"
        )
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        pytest.skip(
            f"PostgreSQL at KB_TEST_POSTGRES_URL is unreachable ({first}); "
            "start it with `make postgres` (as root)"
        )
    return url


@contextlib.contextmanager
def _postgres_schema(url: str):
    """A URL whose connections work in a new schema of their own, dropped afterwards."""
    import psycopg

    schema = f"kb_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path) -> str:
    """An empty insights store: a SQLite file, or a schema on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield str(tmp_path / "var" / "insights.sqlite")
        return
    with _postgres_schema(_postgres_url()) as url:
        yield url


@pytest.fixture
def app_over(index_root):
    """Serve the real app over the session's index with a given insights store; yield (url, app)."""
    stack = contextlib.ExitStack()

    def start(store_url: str, **settings):
        app = create_app(
            Settings(kb_dir=SHOP_KB, index_root=index_root, insights_url=store_url, **settings)
        )
        url = stack.enter_context(serve_app(app))
        stack.callback(app.extensions["insights"].close)
        return url, app

    with stack:
        yield start


def check_report(report: dict, shown: set[str], active: set[str]) -> None:
    assert report["totals"] == {
        "requests": 9,
        "cases": 8,
        "cases_used": 3,
        "copies": 2,
        "helpful": 2,
        "wrong": 1,
    }
    no_match = {row["case"]: row for row in report["no_good_match"]}
    assert set(no_match) == {"衣服颜色发错了 订单号***************2345", "今天天气不错", "asdfgh"}
    assert "标为不对" in no_match["衣服颜色发错了 订单号***************2345"]["reasons"]
    assert set(no_match["今天天气不错"]["reasons"]) == {"未找到合适流程", "未打开或复制"}
    assert no_match["asdfgh"]["reasons"][0] == "没有结果"
    assert no_match["asdfgh"]["top_id"] is None

    by_article = {row["article_id"]: row for row in report["cases_by_article"]}
    assert by_article["parcel-not-received"]["cases"] == 2
    assert by_article["wrong-goods"]["cases"] == 2
    assert by_article["invoice-request"]["cases"] == 2  # the API search and the browse page
    lost_cases = {c["case"] for c in by_article["parcel-not-received"]["top_cases"]}
    # A case counts as its last wording, masked.
    assert lost_cases == {
        "快递说放门口了 可是门口啥也没有 我叫* 电话1**********",
        "快递说放门口了 可是门口啥也没有",
    }

    [copied] = report["most_copied"]
    assert (copied["article_id"], copied["reply_id"], copied["copies"]) == (
        "parcel-not-received",
        "checking-delivery",
        2,
    )
    marks = {row["article_id"]: row for row in report["marks"]}
    assert (marks["parcel-not-received"]["helpful"], marks["parcel-not-received"]["wrong"]) == (
        1,
        0,
    )
    assert marks["parcel-not-received"]["helpful_ratio"] == 1.0
    assert (marks["wrong-goods"]["helpful"], marks["wrong-goods"]["wrong"]) == (1, 1)
    assert marks["wrong-goods"]["helpful_ratio"] == 0.5
    assert {a["article_id"] for a in report["never_shown"]} == active - shown


def active_articles(base: str) -> set[str]:
    articles = fetch(f"{base}/api/articles").json()["articles"]
    return {a["id"] for a in articles if a["status"] != "expired"}


def test_a_session_is_recorded_masked_and_read_back(store_url, app_over, index_root):
    base, app = app_over(store_url)
    shown = agents_session(base)
    recorder = app.extensions["insights"]
    assert recorder.flush()
    assert recorder.stats()["written"] == 9 + 7  # requests and actions
    assert recorder.stats()["failed"] == recorder.stats()["dropped"] == 0

    store = open_store(store_url)
    with store.connection() as conn:
        stored = [row[0] for row in store.query(conn, "SELECT case_text FROM insight_requests", {})]
    assert len(stored) == 9
    assert not any(
        secret in text
        for text in stored
        for secret in ("13812345678", "张三", "3900123456789012345")
    )

    # `kb insights --json` reads the same store and reports the session.
    result = CliRunner().invoke(
        main,
        ["--index", str(index_root), "insights", "--days", "7", "--json"],
        env={"KB_INSIGHTS_URL": store_url},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    check_report(report, shown, active_articles(base))
    assert report["period"]["days"] == 7

    text = CliRunner().invoke(
        main, ["--index", str(index_root), "insights"], env={"KB_INSIGHTS_URL": store_url}
    )
    assert text.exit_code == 0, text.output
    assert "今天天气不错" in text.stdout and "parcel-not-received/checking-delivery" in text.stdout

    # The page shows the same, with bars drawn as inline SVG.
    page = fetch(f"{base}/insights?days=7")
    assert page.status == 200 and page.content_type.startswith("text/html")
    html = page.text
    for fragment in (
        "检索洞察",
        "没有找到好结果的检索",
        "今天天气不错",
        "衣服颜色发错了 订单号***************2345",
        "有用 1",
        "不对 1",
        "50%",
        "复制最多的回复",
        "从未出现在结果中的文章",
        'aria-current="page">近 7 天',
    ):
        assert fragment in html, fragment
    assert html.count('<svg class="bar') >= 5
    assert "13812345678" not in html and "张三" not in html
    # Scripts come from files only (the Content-Security-Policy allows no inline script).
    body = html.split("</header>", 1)[1]
    assert re.findall(r"<script[^>]*>", body) == [
        '<script src="/static/clipboard.js">',
        '<script src="/static/page.js">',
    ]


def test_any_case_text_can_be_stored(store_url):
    recorder = InsightRecorder(open_store(store_url), retention_days=90)
    for case in ("空字符\x00在中间", "孤立代理项\ud800", "表情😀和\u200b零宽"):
        recorder.record_request(
            "assist", case, {"platform": "淘宝"}, [("parcel-not-received", 1.2)], "v1"
        )
    assert recorder.flush()
    recorder.close()
    assert recorder.stats()["written"] == 3 and recorder.stats()["failed"] == 0


def test_insights_period_is_checked(store_url, app_over):
    base, _ = app_over(store_url)
    for days in ("7", "30", "90"):
        assert fetch(f"{base}/insights?days={days}").status == 200
    page = fetch(f"{base}/insights?days=abc")
    assert page.status == 400 and "days" in page.text
    assert fetch(f"{base}/insights?days=0").status == 400


def test_feedback_input_is_checked(tmp_path, app_over):
    base, _ = app_over(str(tmp_path / "insights.sqlite"))
    rid = assist(base, "快递说放门口了")["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    cases = [
        ({"action": "open", "article_id": "parcel-not-received"}, "缺少 request_id"),
        ({"request_id": "x", "action": "open", "article_id": "parcel-not-received"}, "request_id"),
        ({"request_id": rid, "action": "like", "article_id": "parcel-not-received"}, "like"),
        ({"request_id": rid, "action": "open", "article_id": "nope"}, "nope"),
        ({"request_id": rid, "action": "open", "article_id": 7}, "article_id"),
        (
            {
                "request_id": rid,
                "action": "helpful",
                "article_id": "parcel-not-received",
                "reply_id": "checking-delivery",
            },
            "copy",
        ),
        (
            {
                "request_id": rid,
                "action": "copy",
                "article_id": "parcel-not-received",
                "reply_id": "nope",
            },
            "checking-delivery",
        ),
        (
            {"request_id": rid, "action": "open", "article_id": "parcel-not-received", "who": "me"},
            "who",
        ),
        # A choice says where the chosen procedure stood: 2nd or lower; nothing else has a rank.
        ({"request_id": rid, "action": "chose", "article_id": "parcel-not-received"}, "rank"),
        (
            {"request_id": rid, "action": "chose", "article_id": "parcel-not-received", "rank": 1},
            "2 到 20",
        ),
        (
            {"request_id": rid, "action": "chose", "article_id": "parcel-not-received", "rank": 21},
            "21",
        ),
        (
            {
                "request_id": rid,
                "action": "chose",
                "article_id": "parcel-not-received",
                "rank": "2",
            },
            '"2"',
        ),
        (
            {
                "request_id": rid,
                "action": "chose",
                "article_id": "parcel-not-received",
                "rank": True,
            },
            "true",
        ),
        (
            {"request_id": rid, "action": "open", "article_id": "parcel-not-received", "rank": 2},
            "chose",
        ),
    ]
    for body, fragment in cases:
        response = fetch(f"{base}/api/feedback", "POST", json_body=body)
        assert_json_error(response, 400, fragment)
    accepted = fetch(
        f"{base}/api/feedback",
        "POST",
        json_body={
            "request_id": rid,
            "action": "chose",
            "article_id": "parcel-not-received",
            "rank": 3,
        },
    )
    assert accepted.status == 202 and accepted.json()["rank"] == 3
    assert_json_error(fetch(f"{base}/api/feedback"), 405)
    assert_json_error(
        fetch(f"{base}/api/assist", "POST", json_body={"case": "退款", "case_id": "abc"}),
        400,
        "case_id",
    )


# ------------------------------------------------------------------ a store that is down


@pytest.mark.parametrize("down", ["unwritable", "postgres-unreachable"])
def test_a_store_that_is_down_never_fails_or_slows_a_request(down, tmp_path, app_over, index_root):
    if down == "unwritable":
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("a file where the store's folder should be", encoding="utf-8")
        url = str(blocker / "insights.sqlite")
    else:
        url = "postgresql://kb:kb@127.0.0.1:1/x"  # nothing listens on port 1
    base, app = app_over(url)
    assist(base, "快递说放门口了")  # the first request loads the index
    # That a request never waits for the store is test_a_full_queue_drops_and_counts_instead_of_waiting
    # (a store that hangs); here every request and feedback is answered as if the store were up.
    for case in ("快递说放门口了 可是门口啥也没有", "衣服颜色发错了", "发票怎么开", "asdfgh"):
        answer = assist(base, case)
        if answer["results"]:
            feedback(base, answer["request_id"], "helpful", answer["results"][0]["id"])
    recorder = app.extensions["insights"]
    assert recorder.flush()
    stats = recorder.stats()
    assert stats["written"] == 0 and stats["failed"] >= 1
    assert "无法打开" in stats["last_error"]
    ready = fetch(f"{base}/readyz")
    assert ready.status == 200, "a store that is down does not make the service not ready"
    assert ready.json()["insights"]["failed"] >= 1

    page = fetch(f"{base}/insights")
    assert (
        page.status == 503 and "暂时读不到检索记录" in page.text and "坐席助手不受影响" in page.text
    )
    assert fetch(f"{base}/").status == 200
    result = CliRunner().invoke(
        main, ["--index", str(index_root), "insights"], env={"KB_INSIGHTS_URL": url}
    )
    assert result.exit_code == 1 and "无法打开检索洞察存储" in result.output


@pytest.mark.slow
def test_records_are_written_again_after_a_long_outage_of_the_store(tmp_path, app_over):
    blocker = tmp_path / "store"
    blocker.write_text("a file where the store's folder should be: a store that is down")
    base, app = app_over(str(blocker / "insights.sqlite"))
    recorder = app.extensions["insights"]
    # A long outage: the writer backs off further after each failed attempt.
    outage_ends = time.monotonic() + 9
    while time.monotonic() < outage_ends:
        assist(base, "快递说放门口了")
        time.sleep(0.3)
    assert recorder.flush()
    assert recorder.stats()["written"] == 0 and recorder.stats()["last_error"]

    blocker.unlink()
    blocker.mkdir()  # the store is back (the disk was freed)
    # A bound on waiting, not a speed the test asserts (the retry wait is capped at
    # recorder.RETRY_MAX_S; bench/ measures timings).
    deadline = time.monotonic() + 60
    while recorder.stats()["written"] == 0 and time.monotonic() < deadline:
        assist(base, "快递说放门口了 可是门口啥也没有")
        recorder.flush()
        time.sleep(0.2)

    assert recorder.stats()["written"] >= 1, "no record written after the store came back"
    ready = fetch(f"{base}/readyz").json()
    assert ready["insights"]["last_error"] is None
    assert ready["insights"]["written"] >= 1


class HangingStore(SQLiteStore):
    """A real SQLite store whose connections hang until a gate opens."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.left = threading.Event()

    def _connect(self):
        self.entered.set()
        self.gate.wait(10)
        self.left.set()
        return super()._connect()


def test_a_full_queue_drops_and_counts_instead_of_waiting(tmp_path):
    store = HangingStore(tmp_path / "insights.sqlite")
    recorder = InsightRecorder(store, retention_days=90, queue_size=3)
    recorder.record_request("assist", "第一个案例", {}, [("parcel-not-received", 1.2)], "v1")
    assert store.entered.wait(5), "the writer took the first record and hangs in the store"
    for i in range(19):
        recorder.record_request("assist", f"案例 {i}", {}, [("parcel-not-received", 1.2)], "v1")
    # Still hanging in the store: the 19 calls returned without waiting for the writer.
    assert not store.left.is_set()
    assert recorder.stats()["dropped"] == 19 - 3
    assert recorder.stats()["queued"] == 3
    store.gate.set()
    assert recorder.flush()
    assert recorder.stats()["written"] == 1 + 3
    recorder.close()


def test_a_forked_worker_starts_its_own_writer(tmp_path):
    store = open_store(str(tmp_path / "insights.sqlite"))
    recorder = InsightRecorder(store, retention_days=90)
    recorder.record_request("assist", "父进程的案例", {}, [], "v1")  # starts the parent's writer
    assert recorder.flush()
    pid = os.fork()
    if pid == 0:  # the child, as a gunicorn worker after the fork: its own thread and queue
        code = 1
        try:
            recorder.record_request("assist", "子进程的案例", {}, [], "v1")
            code = 0 if recorder.flush(timeout=5) and recorder.stats()["written"] == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with store.connection() as conn:
        cases = {row[0] for row in store.query(conn, "SELECT case_text FROM insight_requests", {})}
    assert cases == {"父进程的案例", "子进程的案例"}
    recorder.close()


# ------------------------------------------------------------------ retention


def test_retention_deletes_old_records_and_keeps_new_ones(store_url, index_root):
    store = open_store(store_url)
    now = time.time()

    def request(request_id, days_ago):
        return {
            "request_id": request_id,
            "case_id": request_id,
            "at": now - days_ago * DAY_S,
            "kind": "assist",
            "case_text": f"{days_ago} 天前的案例",
            "facts": "{}",
            "top_id": "parcel-not-received",
            "top_score": 1.2,
            "result_count": 1,
            "kb_version": "v1",
        }

    def seed():
        with store.connection() as conn:
            store.write(
                conn,
                Writes(
                    requests=[request("a" * 32, 120), request("b" * 32, 45), request("c" * 32, 1)],
                    shown=[
                        {
                            "request_id": r * 32,
                            "rank": 1,
                            "article_id": "parcel-not-received",
                            "score": 1.2,
                        }
                        for r in "abc"
                    ],
                    actions=[
                        {
                            "request_id": r * 32,
                            "at": now - d * DAY_S,
                            "action": "copy",
                            "article_id": "parcel-not-received",
                            "reply_id": "checking-delivery",
                        }
                        for r, d in (("a", 120), ("b", 45), ("c", 1))
                    ],
                ),
            )

    def remaining():
        with store.connection() as conn:
            return {
                table: {r[0] for r in store.query(conn, f"SELECT request_id FROM {table}", {})}
                for table in ("insight_requests", "insight_shown", "insight_actions")
            }

    seed()
    assert purge_older_than(store, 90) == 1
    assert remaining() == {
        t: {"b" * 32, "c" * 32} for t in ("insight_requests", "insight_shown", "insight_actions")
    }

    # `kb insights --purge` with the configured retention.
    result = CliRunner().invoke(
        main,
        ["--index", str(index_root), "insights", "--purge"],
        env={"KB_INSIGHTS_URL": store_url, "KB_INSIGHTS_RETENTION_DAYS": "30"},
    )
    assert result.exit_code == 0, result.output
    assert "已删除 1 条超过 30 天" in result.output
    assert remaining()["insight_requests"] == {"c" * 32}

    # The writer purges on its own when it starts.
    with store.connection() as conn:
        store.write(conn, Writes(requests=[request("d" * 32, 10)]))
    recorder = InsightRecorder(store, retention_days=7)
    new = recorder.record_request("assist", "新案例", {}, [], "v1")
    assert recorder.flush()
    recorder.close()
    assert remaining()["insight_requests"] == {"c" * 32, new}  # d, 10 days old, went


def test_retention_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("KB_INSIGHTS_RETENTION_DAYS", "14")
    monkeypatch.setenv("KB_INSIGHTS_URL", "postgresql://kb@db.internal/kb")
    settings = Settings.from_env()
    assert settings.insights_retention_days == 14
    assert settings.insights_store_url() == "postgresql://kb@db.internal/kb"
    monkeypatch.setenv("KB_INSIGHTS_RETENTION_DAYS", "soon")
    with pytest.raises(ValueError, match="KB_INSIGHTS_RETENTION_DAYS"):
        Settings.from_env()
    monkeypatch.delenv("KB_INSIGHTS_RETENTION_DAYS")
    monkeypatch.delenv("KB_INSIGHTS_URL")
    default = Settings.from_env()
    assert default.insights_store_url() == str(default.index_root.parent / "insights.sqlite")


def test_store_urls_name_their_backend(tmp_path):
    assert open_store(str(tmp_path / "x.sqlite")).kind == "sqlite"
    assert open_store(f"sqlite:///{tmp_path}/x.sqlite").path == tmp_path / "x.sqlite"
    store = open_store("postgresql://kb:secret@db.internal:5433/kb")
    assert store.kind == "postgresql" and "secret" not in store.describe()
    with pytest.raises(ValueError, match="mysql"):
        open_store("mysql://db/kb")
    with pytest.raises(StoreUnavailable):
        build_report(open_store("postgresql://127.0.0.1:1/x"), None, 7)


# ------------------------------------------------------------------ gunicorn


def test_the_master_loads_what_masking_reads_before_forking(index_root, tmp_path, monkeypatch):
    import jieba

    from assist_app.server import load_before_fork
    from indexer import analysis

    # As in a fresh server process: nothing of jieba's dictionary read for masking yet.
    monkeypatch.setattr(analysis, "_common_words", None)
    monkeypatch.setattr(analysis, "_tagger", None)
    app = create_app(
        Settings(kb_dir=SHOP_KB, index_root=index_root, insights_url=str(tmp_path / "i.sqlite"))
    )
    load_before_fork(app)

    def read_again(*args):
        raise AssertionError("a worker's insights writer read jieba's dictionary")

    # A worker's writer masking its first case must not read the dictionary (0.25 s of CPU,
    # holding the GIL while the worker's requests wait).
    monkeypatch.setattr(jieba, "get_dict_file", read_again)
    monkeypatch.setattr(jieba.Tokenizer, "get_dict_file", read_again)
    # Both: 我是区域客服 is a word where a name could be (common words), 黄金凤 a name (tagger).
    assert mask_personal_data("我是区域客服 黄金凤 马上到") == "我是区域客服 * 马上到"


@pytest.mark.slow
def test_each_gunicorn_worker_records_after_the_fork(index_root, tmp_path, monkeypatch):
    from live_helpers import kb_server

    db = tmp_path / "insights.sqlite"
    monkeypatch.setenv("KB_INSIGHTS_URL", str(db))  # `kb serve` inherits it
    with kb_server(SHOP_KB, index_root, tmp_path / "serve.log", workers=2) as server:
        ids = set()
        for pid in server.worker_pids():
            with server.only_worker(pid):  # every request of the block goes to this worker
                ids |= {
                    assist(server.url, f"快递说放门口了 第{i}次")["request_id"] for i in range(3)
                }
        store = open_store(str(db))
        deadline = time.monotonic() + 15
        found: set[str] = set()
        while time.monotonic() < deadline and found != ids:
            with contextlib.suppress(StoreUnavailable), store.connection() as conn:
                rows = store.query(conn, "SELECT request_id FROM insight_requests", {})
                found = {row[0] for row in rows}
            time.sleep(0.1)
        assert len(ids) == 6 and found == ids


# ------------------------------------------------------------------ roll-ups


def generated_writes(now: float, seed: int, requests: int = 400) -> Writes:
    """Records over the last three days; each case's requests and actions within one hour."""
    rng = random.Random(seed)
    texts = [f"案例措辞{n}" for n in range(12)]
    articles = ["parcel-not-received", "broken-in-transit", "wrong-goods", "cancel-unshipped"]
    rows, shown, actions = [], [], []
    for n in range(requests):
        hour = math.floor((now - rng.random() * 3 * DAY_S) / 3600) * 3600
        case_id = f"{n:032x}" if n == 0 or rng.random() > 0.3 else rows[-1]["case_id"]
        if rows and case_id == rows[-1]["case_id"]:
            hour = math.floor(rows[-1]["at"] / 3600) * 3600
        at = hour + rng.uniform(0, 3000)
        if at > now - 120:
            at = now - 120
        results = rng.sample(articles, rng.randint(0, 3))
        request_id = f"{n + 10**6:032x}"
        rows.append(
            {
                "request_id": request_id,
                "case_id": case_id,
                "at": at,
                "kind": rng.choice(["assist", "assist", "search"]),
                "case_text": rng.choice(texts),
                "facts": "{}",
                "top_id": results[0] if results else None,
                "top_score": round(rng.uniform(0.5, 2.0), 3) if results else None,
                "result_count": len(results),
                "kb_version": "v1",
            }
        )
        shown += [
            {"request_id": request_id, "rank": r, "article_id": a, "score": 1.0}
            for r, a in enumerate(results, start=1)
        ]
        if results and rng.random() < 0.5:
            action = rng.choice(["open", "copy", "helpful", "wrong"])
            actions.append(
                {
                    "request_id": request_id,
                    "at": min(at + 60, now - 60),
                    "action": action,
                    "article_id": rng.choice(results),
                    "reply_id": "checking-delivery" if action == "copy" else None,
                }
            )
    return Writes(rows, shown, actions)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_report_from_roll_ups_is_the_report_from_the_records(store_url, engine, seed):
    store = open_store(store_url)
    now = 1_800_000_000.0 + seed * 4321.5  # mid-hour: raw edges at both ends of the period
    with store.connection() as conn:
        store.write(conn, generated_writes(now, seed))
        whole = merge([raw_sections(store, conn, now - 2 * DAY_S, now, 10**6, 10**6)])
        kept_before = store.query(conn, "SELECT COUNT(*) FROM insight_rollups", {})[0][0]

    first = build_report(store, engine.current().kb, 2, now=now)
    again = build_report(store, engine.current().kb, 2, now=now)  # now read from roll-ups
    with store.connection() as conn:
        days = store.query(
            conn, "SELECT COUNT(*) FROM insight_rollups WHERE bucket_seconds = 86400", {}
        )[0][0]

    assert kept_before == 0 and days == 1  # hours at the edges, a whole day between
    assert first == again
    requests, cases, used, copies, helpful, wrong = whole["totals"]
    assert first["totals"] == {
        "requests": requests,
        "cases": cases,
        "cases_used": used,
        "copies": copies,
        "helpful": helpful,
        "wrong": wrong,
    }
    assert first["shown"] == dict(whole["shown"])
    assert {(m["article_id"], m["helpful"], m["wrong"]) for m in first["marks"]} == {
        tuple(row) for row in whole["marks"]
    }
    assert {(c["article_id"], c["reply_id"], c["copies"]) for c in first["most_copied"]} == {
        tuple(row) for row in whole["most_copied"]
    }
    assert {(r["case"], r["count"]) for r in first["no_good_match"]} == {
        (row[0], row[1]) for row in whole["no_good_match"]
    }
    assert {(a["article_id"], a["cases"]) for a in first["cases_by_article"]} == {
        (row[0], row[3]) for row in whole["cases_by_article"]
    }


def test_a_new_connection_waits_on_no_lock_a_writer_holds():
    # Opening a connection ran the schema's DDL every time, and DDL locks tables even when
    # IF NOT EXISTS finds them: it waited on (and deadlocked with) a writer's open transaction.
    # lock_timeout turns any such wait into an error instead of a hang.
    with _postgres_schema(_postgres_url()) as url:
        with open_store(url).connection():
            pass  # the schema exists now
        writer = open_store(url).open()
        try:
            writer.execute(
                "INSERT INTO insight_actions (request_id, at, action, article_id) "
                "VALUES ('r1', 1.0, 'copy', 'a')"
            )  # uncommitted: the writer holds its table's lock
            impatient = open_store(f"{url}%20-clock_timeout%3D300")
            with impatient.connection() as conn:
                assert conn.execute("SELECT count(*) FROM insight_requests").fetchone() == (0,)
        finally:
            writer.rollback()
            writer.close()


def test_the_writer_rolls_up_settled_days_in_the_background(store_url):
    store = open_store(store_url)
    now = time.time()
    with store.connection() as conn:
        store.write(conn, generated_writes(now, seed=4, requests=100))
    recorder = InsightRecorder(store, retention_days=7)
    recorder.record_request("assist", "快递没收到", {}, [("parcel-not-received", 1.2)], "v1")

    deadline = time.monotonic() + 30
    days = 0
    while time.monotonic() < deadline and days < 2:
        with store.connection() as conn:
            rows = store.query(
                conn, "SELECT sections FROM insight_rollups WHERE bucket_seconds = 86400", {}
            )
        days = sum(1 for (sections,) in rows if json.loads(sections)["totals"][0] > 0)
        time.sleep(0.2)
    recorder.close()

    assert days >= 2  # at least the two whole days inside the three the records span
