"""Personal data never reaches the insights store: the cases the issue names, generated buyer
sentences (Faker's zh_CN names, addresses, phones, ID and card numbers) through a real recorder
and SQLite file, and the wording editors need kept (bench/masking.py measures the leak rate).
"""

from __future__ import annotations

import random
import re
import stat
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from faker import Faker
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from kb_helpers import SHOP_KB
from web_helpers import fetch, serve_app

from assist_app import create_app
from assist_app.insights_store import open_store
from assist_app.masking import mask_personal_data
from assist_app.recorder import InsightRecorder
from assist_app.settings import PROJECT_ROOT, Settings
from indexer.analysis import common_words, tags_a_name

sys.path.insert(0, str(PROJECT_ROOT))
from bench.masking import buyer_sentences, leaked  # noqa: E402

KB_DIR = PROJECT_ROOT / "kb"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("我是张伟，快递三天没到", "张伟"),
        ("本人王芳 要退货", "王芳"),
        ("户名：刘洋 退款打这张卡", "刘洋"),
        ("给李娜打电话没人接", "李娜"),
        ("陈静，我的快递呢", "陈静"),
        ("发票还没开 —— 赵丽颖", "赵丽颖"),
        ("退到卡 6222 0212 3456 7890 123", "7890 123"),
        ("退到卡 6222021234567890128", "67890128"),
        ("电话 138.1234.5678 找我", "1234.5678"),
        ("电话一三八一二三四五六七八", "一二三四五六七八"),
        ("座机 010 12345678", "12345678"),
        ("寄到北京朝阳望京SOHO T1 1201", "望京SOHO"),
        ("寄到杭州 西湖 文三路 快点发", "文三路"),
        ("加我微信 wxid_k2j3h4 谢谢", "wxid_k2j3h4"),
        ("vx：zhangwei_1990 加一下", "zhangwei_1990"),
        # Shorter than WeChat allows (6), but what a buyer typed is still theirs.
        ("退款的事加我微信hwu25说", "hwu25"),
        ("我的QQ号是 734820156", "734820156"),
        ("车牌浙A·12345的司机说放门口了", "12345"),
        ("送货的车粤B D12345", "D12345"),
        ("身份证 11010519491231002X", "1002X"),
        ("身份证号110105194912310021实名不对", "0021"),
    ],
)
def test_what_the_issue_names_is_masked(text, secret):
    masked = mask_personal_data(text)
    assert secret not in masked, masked


@pytest.mark.parametrize(
    "text",
    [
        "谢谢，快递单号发我一下",
        "马上发货好吗",
        "给个说法",
        "我是买家，东西坏了",
        "北京时间下午3点发货",
        "颜色发错了要蓝色的",
        "退货退款 快递 签收 破损",
        "保温杯 蓝牙耳机 羽绒服 电饭煲 空气炸锅",
        "钱呢？退款还没到",
        "退了 18 元运费",
        "收件人同意了再放驿站",
        "停在金华转运中心四天了",
        "iPhone 15 256G 两台",
    ],
)
def test_non_personal_wording_is_kept(text):
    assert mask_personal_data(text) == text


def test_loading_the_name_tagger_leaves_jiebas_own_tokenizer_as_it_was(monkeypatch):
    import jieba

    from indexer import analysis

    monkeypatch.setattr(analysis, "_common_words", None)
    monkeypatch.setattr(analysis, "_tagger", None)
    assert tags_a_name("黄金凤") and not tags_a_name("马上")
    # jieba's default tokenizer got an empty dictionary only while jieba.posseg was imported.
    assert "get_dict_file" not in vars(jieba.dt)
    with jieba.dt.get_dict_file() as dictionary:
        assert dictionary.readline().strip()
    assert "马上" in common_words() and "张伟" not in common_words()


def test_evaluation_cases_without_numbers_are_unchanged():
    # Our own after-sales phrasings (kb/eval): what editors read must come through whole.
    changed = []
    for path in ("cases.yaml", "holdout.yaml"):
        for case in yaml.safe_load((KB_DIR / "eval" / path).read_text(encoding="utf-8")):
            text = case["case"]
            if not re.search(r"\d", text) and mask_personal_data(text) != text:
                changed.append((text, mask_personal_data(text)))
    assert not changed


def _ambiguous_name(name: str) -> bool:
    # A name that is, or begins with, a common word the tagger does not read as a name (苏丹,
    # 罗兰英) is kept where nothing announces it: bench/masking.py counts these as leaks.
    words = common_words()
    return (name in words or name[:2] in words) and not tags_a_name(name)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
@example(seed=1084297)  # a five-character WeChat id (加我微信hwu25) once went through unmasked
def test_generated_personal_data_never_reaches_the_store(tmp_path, seed):
    """60 seeds x 60 sentences: thousands of names, phones, ids, cards and addresses."""
    faker = Faker("zh_CN")
    faker.seed_instance(seed)
    sentences = [
        s for s in buyer_sentences(faker, random.Random(seed), 60) if not s.kind.startswith("hard:")
    ]
    for s in sentences:
        assume(not (s.kind in ("bare_name", "name_after_lead") and _ambiguous_name(s.secret)))
    store = open_store(str(tmp_path / f"insights-{uuid.uuid4().hex}.sqlite"))
    recorder = InsightRecorder(store, retention_days=90)
    ids = {recorder.record_request("assist", s.text, {}, [], "v1"): s for s in sentences}
    assert recorder.flush()
    recorder.close()
    with store.connection() as conn:
        rows = store.query(conn, "SELECT request_id, case_text FROM insight_requests", {})
    assert len(rows) == len(sentences)
    for request_id, stored in rows:
        sentence = ids[request_id]
        assert not leaked(sentence, stored), (sentence.kind, sentence.text, stored)
        assert sentence.problem in stored, (sentence.text, stored)


def test_the_store_file_is_private_and_holds_masked_text(index_root, tmp_path):
    store_path = tmp_path / "var" / "insights.sqlite"
    app = create_app(Settings(kb_dir=SHOP_KB, index_root=index_root, insights_url=str(store_path)))
    case = "收件人王建国 电话138.1234.5678 身份证11010519491231002X 快递说放门口了 可是门口啥也没有"
    with serve_app(app) as base:
        answer = fetch(f"{base}/api/assist", "POST", json_body={"case": case})
        assert answer.status == 200
        assert app.extensions["insights"].flush()
        app.extensions["insights"].close()
    files = [store_path, *store_path.parent.glob("insights.sqlite-*")]
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    raw = b"".join(Path(p).read_bytes() for p in files).decode("utf-8", "replace")
    for secret in ("王建国", "1234.5678", "1002X", "11010519491231002X"):
        assert secret not in raw
    assert "快递说放门口了" in raw


def test_an_older_store_file_is_made_private(tmp_path):
    path = tmp_path / "insights.sqlite"
    path.touch(mode=0o644)
    path.chmod(0o644)
    with open_store(str(path)).connection():
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_bench_prints_leak_rates():
    import subprocess

    run = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "masking.py"), "--sentences", "300"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    rows = {line.split("|")[1].strip(): line for line in run.stdout.splitlines() if "|" in line}
    assert "phone" in rows and "hard:name_inside_sentence" in rows and "all but hard:" in rows
