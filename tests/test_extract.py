"""indexer.extract: slots and facts read from a case, with the real kb/slots.yaml and facts.yaml.

The lookalike tests are the point: a phone number must not become an order id, a date must not
become an amount, a bare run of digits is nobody's until the words around it say whose it is.
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
from conftest import KB_DIR
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.analysis import fold, normalize
from indexer.extract import (
    _DAY_PATTERNS,
    MAX_DAYS,
    Evidence,
    chinese_number,
    days_since_receipt,
    extract_enum,
    extract_facts,
    extract_slots,
)
from indexer.loader import load_kb
from indexer.model import FactDef


@pytest.fixture(scope="module")
def kb():
    kb, problems = load_kb(KB_DIR)
    assert [p for p in problems if p.level == "error"] == []
    return kb


@pytest.fixture
def slots(kb):
    """Slot values read from a case the way search reads them (folded, case kept)."""

    def read(case: str) -> dict[str, str]:
        return {name: ev.value for name, ev in extract_slots(fold(case), kb.slots).items()}

    return read


@pytest.fixture
def facts(kb):
    """Fact values read from a case the way search reads them (normalised text)."""

    def read(case: str) -> dict[str, str | float]:
        found = extract_facts(normalize(case), kb.facts, extract_slots(fold(case), kb.slots))
        return {name: ev.value for name, ev in found.items()}

    return read


# --- order ids


@pytest.mark.parametrize(
    ("case", "order_id"),
    [
        ("订单号 3900581274630918275 还没发货", "3900581274630918275"),  # Taobao, 19 digits
        ("这单390058127463091827能取消吗", "390058127463091827"),  # Taobao, 18 digits
        ("pdd下错单了 261203-583920174658392", "261203-583920174658392"),  # Pinduoduo
        ("京东订单号 302145678901 想退", "302145678901"),  # JD, 12 digits named an order
        ("订单号：3900581274630918275，电话：13812345678", "3900581274630918275"),
    ],
)
def test_order_id(slots, case, order_id):
    assert slots(case)["order_id"] == order_id


# --- tracking numbers


@pytest.mark.parametrize(
    ("case", "tracking_no"),
    [
        ("顺丰单号SF1234567890123 显示签收了", "SF1234567890123"),
        ("圆通 YT1234567890123 三天没动", "YT1234567890123"),
        ("京东快递 JD0123456789012", "JD0123456789012"),
        ("JDV012345678901 到哪了", "JDV012345678901"),
        ("极兔 JT1234567890123", "JT1234567890123"),
        ("中通 73512345678901 一直不更新", "73512345678901"),
        ("快递单号 73512345678901", "73512345678901"),
        ("邮政国际 EA123456789CN 到哪了", "EA123456789CN"),
        ("单号ＳＦ１２３４５６７８９０１２３", "SF1234567890123"),  # full-width, folded first
    ],
)
def test_tracking_no(slots, case, tracking_no):
    assert slots(case)["tracking_no"] == tracking_no
    assert "order_id" not in slots(case)


def test_courier_is_read_by_name(slots):
    assert slots("中通 73512345678901 一直不更新")["courier"] == "中通"


# --- amounts and phone


@pytest.mark.parametrize(
    ("case", "amount"),
    [
        ("退了¥29.9 还没到", "29.9"),
        ("付了29.9元", "29.9"),
        ("差价50块你们给不给补", "50"),
        ("9块9买的 坏了", "9.9"),
        ("实付 128 元", "128"),
        ("退款 50 还没到账", "50"),  # a bare number right after 退款
    ],
)
def test_amount(slots, case, amount):
    assert slots(case)["amount"] == amount


def test_amount_is_also_a_number_fact(facts):
    assert facts("付了29.9元 想退款")["amount"] == 29.9


def test_phone(slots):
    assert slots("电话 13812345678 打不通")["phone"] == "13812345678"


# --- lookalikes that must not be taken


def test_a_phone_number_is_not_an_order_id(slots):
    # 11 digits near 订单号 have the JD order shape, but 1[3-9]… is a mobile number.
    assert slots("订单号 13812345678") == {"phone": "13812345678"}


@pytest.mark.parametrize("order_id", ["3900581274630918275", "3913812345678123456"])
def test_an_order_id_is_not_a_phone(slots, order_id):
    found = slots(f"订单 {order_id} 什么时候发")

    assert found["order_id"] == order_id
    assert "phone" not in found


def test_a_twelve_digit_number_without_context_is_nobodys(slots):
    assert slots("302145678901 这个是什么") == {}


def test_a_twelve_digit_waybill_is_not_an_order_id(slots):
    assert slots("快递单号 302145678901") == {"tracking_no": "302145678901"}


def test_a_tracking_number_is_not_an_order_id(slots):
    assert slots("SF1234567890123") == {"tracking_no": "SF1234567890123"}


def test_a_number_is_read_once(slots):
    found = slots("订单号是1234567890，快递单号是 SF1234567890123，花了¥99")

    assert found == {"order_id": "1234567890", "tracking_no": "SF1234567890123", "amount": "99"}


@pytest.mark.parametrize(
    "case",
    [
        "退款 2026-11-20 申请的",
        "申请退款 2026-11-20",
        "退款申请时间2026/11/20",
        "实付 2026.11.20 下的单",
        "付了钱 2026年11月20日",
        "退款的钱11月20号到账吗",
        "差价 10:30 联系的客服",
        "退款 3天了 还没到",
        "价格 第2件半价",
    ],
)
def test_a_date_time_or_count_after_a_money_word_is_not_an_amount(slots, case):
    assert "amount" not in slots(case)


def test_twenty_digits_are_not_an_order_id(slots):
    assert "order_id" not in slots("订单号 12345678901234567890")


# --- days since receipt


@pytest.mark.parametrize(
    ("case", "days"),
    [
        ("签收第九天了想退", 9),
        ("前天到的", 2),
        ("收到一周了", 7),
        ("昨天签收的", 1),
        ("收到5天了", 5),
        ("收到十五天了", 15),
        ("签收后第8天", 8),
        ("3天前就已经签收了", 3),
        ("大前天收到的", 3),
        ("今天刚收到", 0),
        ("收到两周了", 14),
        ("收到半个月", 15),
    ],
)
def test_days_since_receipt(case, days):
    evidence = days_since_receipt(normalize(case))

    assert evidence.value == days
    assert evidence.phrase in normalize(case)


@pytest.mark.parametrize("case", ["还没收到", "9天", "物流5天没动了"])
def test_no_days_since_receipt_without_a_receipt(case):
    assert days_since_receipt(normalize(case)) is None


def test_days_since_receipt_is_a_fact(facts):
    assert facts("簽收第九天了 不想要了")["days_since_receipt"] == 9


@pytest.mark.parametrize("case", ["刚才收到一条短信 说退了50块", "东西必须今天收到 明天要用"])
def test_a_message_or_a_wish_is_no_day_of_receipt(facts, case):
    # The fact's not_after (必须) and ignore (收到一条短信) in facts.yaml hold for the days too.
    assert "days_since_receipt" not in facts(case)
    assert facts("今天刚收到 就坏了")["days_since_receipt"] == 0


def test_the_shop_signing_for_a_return_is_the_parcel_back_not_the_buyers_receipt(facts):
    # 你们已经签收 is the shop receiving the buyer's return: the return parcel is back, the
    # days since the buyer's own receipt are unknown, and 钱什么时候到 is no parcel in transit.
    read = facts("退货的钱什么时候到 你们已经签收两天了")
    assert read["return_parcel"] == "已退回仓库"
    assert "days_since_receipt" not in read
    assert read.get("order_status") != "运输中"
    assert facts("我签收三天了 你们签收两天了")["days_since_receipt"] == 3


@pytest.mark.parametrize("case", ["我寄回去三天了 还没退款", "退回去两周了", "寄回5天 没消息"])
def test_a_return_sent_back_some_days_ago_is_read_by_its_shape(facts, case):
    assert facts(case)["return_parcel"] == "已寄回"


def test_the_shop_receiving_a_return_is_not_the_buyers_order_status(facts):
    assert "order_status" not in facts("你们收到货了吗 我寄回去三天了")
    assert "return_parcel" not in facts("卖家收到货后多久退款")


@pytest.mark.parametrize(
    ("text", "number"),
    [("3", 3), ("十", 10), ("十五", 15), ("二十一", 21), ("两", 2), ("九", 9), ("廿", None)],
)
def test_chinese_number(text, number):
    assert chinese_number(text) == number


# --- enum facts


ORDER_STATUS = FactDef(
    "order_status",
    "订单状态",
    "enum",
    {"运输中": ("没收到", "在路上"), "已签收": ("收到", "签收")},
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("还没收到", "运输中"),  # 收到 sits inside 没收到: the longer phrase wins
        ("收到了", "已签收"),
        ("没收到 还在路上", "运输中"),
        ("昨天签收 今天收到", "已签收"),
    ],
)
def test_overlapping_phrases_longest_wins(text, value):
    assert extract_enum(text, ORDER_STATUS).value == value


def test_most_matched_characters_win():
    # 没收到 (3) + 在路上 (3) outweigh 签收 (2).
    assert extract_enum("显示签收了 但是没收到 说在路上", ORDER_STATUS).value == "运输中"


def test_tie_goes_to_what_is_said_last():
    tie = FactDef("want", "诉求", "enum", {"退货": ("退货",), "换货": ("换货",)})
    assert extract_enum("先说退货，后来想换货", tie).value == "换货"
    assert extract_enum("先说换货，后来想退货", tie).value == "退货"


def test_evidence_names_the_phrase(kb):
    evidence = extract_enum(normalize("快递一直没收到"), kb.facts["order_status"])

    assert evidence.value == "运输中"
    assert evidence.phrase in "快递一直没收到"
    assert "没收到" in evidence.phrase


def test_not_received_is_not_received_with_the_real_facts(facts):
    assert facts("快递一直没收到")["order_status"] == "运输中"
    assert facts("收到了 有问题")["order_status"] == "已签收"


@pytest.mark.parametrize(
    ("traditional", "simplified"), [("壓壞了", "压坏了"), ("盒子碎了", "盒子碎了")]
)
def test_traditional_input_reads_the_same_reason(facts, traditional, simplified):
    assert facts(traditional)["reason"] == "破损"
    assert facts(traditional) == facts(simplified)


def test_traditional_platform_name(facts):
    assert facts("在淘寶買的")["platform"] == "淘宝"


def test_nothing_is_read_from_chat_noise(facts, slots):
    assert facts("亲 在吗 😭🙏！！！") == {}
    assert slots("亲 在吗 😭🙏！！！") == {}


# --- Numbers too big to be a count or an amount ---


def test_a_310_digit_day_count_is_no_day_count(facts):
    assert "days_since_receipt" not in facts("签收" + "9" * 310 + "天了")


def test_a_320_digit_amount_is_no_amount_fact(facts, slots):
    case = "付了" + "9" * 320 + "元"

    assert slots(case)["amount"] == "9" * 320  # the agent still sees what was written
    assert "amount" not in facts(case)


# --- Adversarial input: long runs of digits and repeated characters ---


# The patterns as they were before every leading repeat got a lookbehind: the same matches,
# in quadratic time. On short texts they are the reference the rewritten ones must agree with.
_UNGUARDED = {
    r"(?<!\d)(\d+)块(\d)(?![\d.])": r"(\d+)块(\d)(?![\d.])",
    r"(?<!\d)(\d+(?:\.\d{1,2})?)\s*(?:元|块钱|块|rmb|RMB)": (
        r"(\d+(?:\.\d{1,2})?)\s*(?:元|块钱|块|rmb|RMB)"
    ),
}
_RUN_PIECES = [
    "1",
    "9",
    "0",
    ".",
    "-",
    " ",
    "块",
    "元",
    "天",
    "收到",
    "签收",
    "了",
    "前",
    "碎",
    "多",
]


@settings(max_examples=300, deadline=None, database=None)
@given(
    pieces=st.lists(
        st.tuples(st.sampled_from(_RUN_PIECES), st.integers(1, 12)), min_size=1, max_size=8
    )
)
def test_guarded_patterns_read_what_the_unguarded_ones_read(kb, pieces):
    text = "".join(piece * times for piece, times in pieces)
    unguarded = {
        name: dataclasses.replace(
            spec,
            patterns=tuple(
                dataclasses.replace(p, regex=_UNGUARDED.get(p.regex, p.regex))
                for p in spec.patterns
            ),
        )
        for name, spec in kb.slots.items()
    }

    assert extract_slots(text, kb.slots) == extract_slots(text, unguarded)
    assert days_since_receipt(text) == _days_unguarded(text)


def _days_unguarded(text: str):
    for pattern, how in _DAY_PATTERNS:
        match = re.search(pattern.pattern.replace(r"(?<!\d)", ""), text)
        if not match:
            continue
        if how is None:
            value = chinese_number(match.group(1))
            if value is None or value > MAX_DAYS:
                continue
        else:
            value = how
        return Evidence(float(value), match.group(0))
    return None


def _longest_first_quadratic(spans):
    kept = []
    for span in sorted(spans, key=lambda s: (-(s[1] - s[0]), s[0])):
        if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
            kept.append(span)
    return kept


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(st.sampled_from("碎裂了收到没收到破损摔碎"), max_size=60))
def test_overlap_check_keeps_what_checking_every_span_kept(kb, text):
    spec = kb.facts["reason"]
    phrases = {p: v for v, ps in spec.values.items() for p in ps}
    spans = [
        (m.start(), m.start() + len(p), phrases[p], p)
        for p in phrases
        for m in re.finditer(f"(?={re.escape(p)})", text)
    ]
    kept = _longest_first_quadratic(spans)
    if not kept:
        assert extract_enum(text, spec) is None
        return
    totals = {}
    for start, end, value, phrase in kept:
        total = totals.setdefault(value, [0, -1, phrase])
        total[0] += end - start
        if start > total[1]:
            total[1], total[2] = start, phrase
    value, (_, _, phrase) = max(totals.items(), key=lambda kv: (kv[1][0], kv[1][1]))

    assert extract_enum(text, spec) == Evidence(value, phrase)


@settings(max_examples=200, deadline=None, database=None)
@given(
    run=st.sampled_from(["9", "1", "碎", "收到", "了", "1.", "我是", " "]),
    times=st.integers(200, 2500),
    tail=st.sampled_from(["", "元", "天了", "块5", "天前收到"]),
)
def test_long_runs_read_sensible_numbers(kb, run, times, tail):
    text = "签收" + run * times + tail
    found = extract_facts(text, kb.facts, extract_slots(text, kb.slots))

    for evidence in found.values():
        if isinstance(evidence.value, float):
            assert math.isfinite(evidence.value)
    if "days_since_receipt" in found:
        assert 0 <= found["days_since_receipt"].value <= MAX_DAYS


def test_a_phrase_after_a_not_after_word_says_nothing_and_ignored_phrases_hide_theirs():
    spec = FactDef(
        "status",
        "状态",
        "enum",
        {"已签收": ("收到",), "运输中": ("还没到",)},
        not_after=("能", "必须"),
        ignore=("收到短信",),
    )
    assert extract_enum("明天能收到吗", spec) is None
    assert extract_enum("周五前必须收到", spec) is None
    assert extract_enum("刚收到短信", spec) is None
    assert extract_enum("昨天收到了", spec).value == "已签收"
    assert extract_enum("能收到吗 还没到", spec).value == "运输中"


def test_a_not_after_word_holds_across_a_day_between_it_and_the_phrase():
    spec = FactDef("status", "状态", "enum", {"已签收": ("收到",)}, not_after=("必须", "说好"))
    assert extract_enum("必须今天收到", spec) is None
    assert extract_enum("说好昨天下午就收到", spec) is None
    # A day alone is no wish: what was received yesterday was received.
    assert extract_enum("昨天收到了", spec).value == "已签收"
    assert extract_enum("必须的 今天收到了", spec).value == "已签收"


@pytest.mark.parametrize("case", ["说好昨天到的 现在还没到", "预计前天到的", "不是说好今天送到吗"])
def test_a_promised_day_is_no_day_of_receipt(facts, case):
    # 说好昨天到的 says when it should have come, not that it came.
    read = facts(case)
    assert "days_since_receipt" not in read
    assert read.get("order_status") != "已签收"
    assert facts("昨天到的 打开就是坏的")["days_since_receipt"] == 1
