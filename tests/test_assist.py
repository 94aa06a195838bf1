"""assist_app.assist: checklists tailored to a case's facts, replies filled from its slots."""

from __future__ import annotations

import dataclasses
import operator
import re

import pytest
from kb_helpers import MINI_KB

from assist_app.assist import (
    assist,
    banned_phrases_in,
    fill_replies,
    fill_reply,
    slot_values,
    tailor_checklist,
    tailor_step,
)
from indexer.extract import Evidence
from indexer.loader import load_kb
from indexer.model import Reply, Step


@pytest.fixture(scope="module")
def kb():
    kb, problems = load_kb(MINI_KB)
    assert problems == []
    return kb


def facts(**values) -> dict[str, Evidence]:
    return {name: Evidence(value, "案例") for name, value in values.items()}


def applies(checklist: list[dict]) -> list[bool | None]:
    return [step["applies"] for step in checklist]


# --- the shop profile (mini KB's shop.yaml: shop_name set, dispatch_cutoff an example,
# supervisor_response unset)


def test_a_reply_is_filled_from_the_shop_profile_and_an_unset_entry_is_a_gap(kb):
    reply = Reply(
        "r",
        "t",
        "{{shop.shop_name}}：{{shop.dispatch_cutoff}} 前付款当天发，主管{{shop.supervisor_response}}回复您。",
    )

    filled = fill_reply(reply, {}, kb)

    assert filled["text"] == "小店：16:00 前付款当天发，主管【主管回复时限】回复您。"
    assert filled["missing"] == ["shop.supervisor_response"]
    assert filled["missing_labels"] == ["主管回复时限"]
    assert filled["examples"] == ["当天发货截单时间"], "a starter value is flagged, a real one not"


def test_a_shop_key_the_profile_lacks_is_a_gap_named_by_the_reference(kb):
    filled = fill_reply(Reply("r", "t", "地址：{{shop.return_address}}"), {}, kb)

    assert filled["text"] == "地址：【shop.return_address】"
    assert filled["missing"] == ["shop.return_address"]


def test_a_step_is_filled_from_the_shop_profile_too(kb):
    step = tailor_step(
        Step("仓库每天 {{shop.dispatch_cutoff}} 截单；主管{{shop.supervisor_response}}答复。"),
        {},
        kb,
    )

    assert step["text"] == "仓库每天 16:00 截单；主管【主管回复时限】答复。"
    assert step["gaps"] == ["主管回复时限"]
    assert step["examples"] == ["当天发货截单时间"]
    assert step["applies"] is True


# --- tailor_checklist


def test_steps_without_when_always_apply(kb):
    checklist = tailor_checklist(kb.article("damaged-item"), {}, kb)

    assert applies(checklist) == [True, True]
    assert [s["text"] for s in checklist] == [
        "请买家拍外箱和商品照片。",
        "补发或退款，由我们向快递索赔。",
    ]


def test_a_step_whose_fact_is_unknown_is_to_confirm(kb):
    checklist = tailor_checklist(kb.article("seven-day-return"), {}, kb)

    assert applies(checklist) == [True, None, None]
    assert checklist[1]["reason"] == "需确认：签收不超过 7 天"
    assert checklist[2]["when"] == "签收超过 7 天"


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (9.0, [True, False, True]),
        (7.0, [True, True, False]),
        (0.0, [True, True, False]),
        (8, [True, False, True]),
    ],
)
def test_number_comparisons_on_days_since_receipt(kb, days, expected):
    checklist = tailor_checklist(kb.article("seven-day-return"), facts(days_since_receipt=days), kb)

    assert applies(checklist) == expected


def test_a_step_that_does_not_apply_says_why(kb):
    checklist = tailor_checklist(kb.article("seven-day-return"), facts(days_since_receipt=9.0), kb)

    assert checklist[1]["reason"] == "不适用：签收天数是“9”"
    assert checklist[2]["reason"] == "适用：签收超过 7 天"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("拼多多", [True, True]), ("淘宝", [True, False]), (None, [True, None])],
)
def test_enum_conditions_on_platform(kb, platform, expected):
    case_facts = facts(platform=platform) if platform else {}

    assert applies(tailor_checklist(kb.article("cancel-order"), case_facts, kb)) == expected


def test_every_condition_of_a_when_must_hold(kb):
    step = Step("拼多多超过七天的", {"platform": ["拼多多"], "days_since_receipt": ["> 7"]})

    both = tailor_step(step, facts(platform="拼多多", days_since_receipt=9.0), kb)
    one_unknown = tailor_step(step, facts(platform="拼多多"), kb)
    one_fails = tailor_step(step, facts(platform="淘宝"), kb)

    assert both["applies"] is True
    assert both["reason"] == "适用：平台为拼多多，签收超过 7 天"
    assert one_unknown["applies"] is None
    assert one_unknown["reason"] == "需确认：签收超过 7 天"
    assert one_fails["applies"] is False  # a failed condition outweighs an unknown one
    assert one_fails["reason"] == "不适用：平台是“淘宝”"


def test_any_listed_value_satisfies_a_condition(kb):
    step = Step("淘宝或拼多多", {"platform": ["淘宝", "拼多多"]})

    assert tailor_step(step, facts(platform="淘宝"), kb)["applies"] is True
    assert tailor_step(step, facts(platform="京东"), kb)["applies"] is False


# --- fill_reply


def test_fill_reply_fills_known_slots_and_marks_gaps(kb):
    reply = kb.article("cancel-order").replies[0]

    filled = fill_reply(reply, {"order_id": "3900581274630918275"}, kb)

    assert (
        filled["text"]
        == "亲，订单 3900581274630918275 已拦截，款项 【金额】 原路退回，【到账时间】 内到账。"
    )
    assert filled["missing"] == ["amount", "refund_days"]
    assert filled["missing_labels"] == ["金额", "到账时间"]
    assert filled["warnings"] == []
    assert (filled["id"], filled["title"]) == ("confirm-cancel", "同意取消")


def test_fill_reply_with_every_slot_known_has_no_gaps(kb):
    reply = kb.article("cancel-order").replies[0]
    values = {"order_id": "1", "amount": "29.9", "refund_days": "1-3 天"}

    filled = fill_reply(reply, values, kb)

    assert filled["text"] == "亲，订单 1 已拦截，款项 29.9 原路退回，1-3 天 内到账。"
    assert filled["missing"] == []
    assert "【" not in filled["text"]


def test_a_slot_used_twice_is_missing_once(kb):
    reply = Reply("r", "两次", "订单 {{order_id}}，再说一次 {{ order_id }}")

    filled = fill_reply(reply, {}, kb)

    assert filled["text"] == "订单 【订单号】，再说一次 【订单号】"
    assert filled["missing"] == ["order_id"]


def test_slot_values_take_platform_from_its_fact_and_show_whole_numbers(kb):
    values = slot_values(
        kb,
        facts(platform="拼多多", days_since_receipt=9.0),
        {"amount": Evidence("29.9", "¥29.9"), "order_id": Evidence("3900581274630918275", "")},
    )

    assert values == {"amount": "29.9", "order_id": "3900581274630918275", "platform": "拼多多"}


def test_banned_phrases_in_a_reply_are_flagged(kb):
    reply = Reply("r", "违规", "亲，好评返现哦，有问题加微信 {{order_id}}")

    filled = fill_reply(reply, {"order_id": "1"}, kb)

    assert [w["phrase"] for w in filled["warnings"]] == ["好评返现", "加微信"]
    assert filled["warnings"][0]["why"] == kb.banned_phrases["好评返现"]


def test_a_banned_phrase_typed_into_a_slot_is_flagged_too(kb):
    reply = Reply("r", "地址", "请寄到 {{order_id}}")

    filled = fill_reply(reply, {"order_id": "加微信再说"}, kb)

    assert [w["phrase"] for w in filled["warnings"]] == ["加微信"]


def test_banned_phrases_in_ignores_case(kb):
    latin = dataclasses.replace(kb, banned_phrases={"加V": "引导买家离开平台。"})

    assert banned_phrases_in("有事加v", latin) == [{"phrase": "加V", "why": "引导买家离开平台。"}]
    assert banned_phrases_in("亲，给您添麻烦了", latin) == []


def test_fill_replies_puts_replies_that_fit_first(kb):
    article = kb.article("seven-day-return")

    over = fill_replies(article, {}, facts(days_since_receipt=9.0), kb)
    within = fill_replies(article, {}, facts(days_since_receipt=2.0), kb)

    assert [(r["id"], r["applies"]) for r in over] == [
        ("over-seven-days", True),
        ("within-seven-days", False),
    ]
    assert [(r["id"], r["applies"]) for r in within] == [
        ("within-seven-days", True),
        ("over-seven-days", False),
    ]


# --- assist() over the real index


DAYS_CONDITION = re.compile(r"签收(超过|不超过) (\d+) 天")
COMPARE = {"超过": operator.gt, "不超过": operator.le}


def _steps_on_days(answer: dict) -> list[tuple[dict, str, int]]:
    """Steps whose only condition is one comparison of 签收天数, with that comparison."""
    found = []
    for result in answer["results"]:
        for step in result["checklist"]:
            match = DAYS_CONDITION.fullmatch(step["when"])
            if match:
                found.append((step, match.group(1), int(match.group(2))))
    return found


def test_overrides_change_the_checklist(engine):
    case = "收到货了 不想要了 想退"
    plain = assist(engine, case)
    late = assist(engine, case, overrides={"days_since_receipt": 9})
    early = assist(engine, case, overrides={"days_since_receipt": 3})

    assert "days_since_receipt" not in plain["facts"]
    steps = _steps_on_days(plain)
    assert steps and all(step["applies"] is None for step, _, _ in steps)
    for answer, days in ((late, 9), (early, 3)):
        assert answer["facts"]["days_since_receipt"] == days
        steps = _steps_on_days(answer)
        assert {op for _, op, _ in steps} == {"超过", "不超过"}
        for step, op, limit in steps:
            assert step["applies"] is COMPARE[op](days, limit), step
    detail = next(d for d in late["fact_details"] if d["name"] == "days_since_receipt")
    assert (detail["value"], detail["source"], detail["evidence"]) == (9, "agent", "坐席指定")


def test_an_override_replaces_a_fact_read_from_the_case(engine):
    case = "还没发货 想取消订单"
    assert assist(engine, case)["facts"]["order_status"] == "未发货"

    answer = assist(engine, case, overrides={"order_status": "已签收"})

    assert answer["facts"]["order_status"] == "已签收"
    status = next(d for d in answer["fact_details"] if d["name"] == "order_status")
    assert status["source"] == "agent"


def test_assist_fills_replies_with_what_the_case_says(engine):
    answer = assist(engine, "订单3900581274630918275 拍错了 还没发货 想取消")

    assert answer["slots"]["order_id"] == "3900581274630918275"
    replies = answer["results"][0]["replies"]
    with_order = [
        r for r in replies if "【订单号】" not in r["text"] and "order_id" not in r["missing"]
    ]
    assert any("3900581274630918275" in r["text"] for r in with_order)
    for reply in replies:
        assert "{{" not in reply["text"]
        for label in reply["missing_labels"]:
            assert f"【{label}】" in reply["text"]


def test_assist_results_carry_checklist_replies_and_reasons(engine):
    answer = assist(engine, "收到的杯子压坏了 怎么办", limit=3)

    assert len(answer["results"]) == 3
    for result in answer["results"]:
        assert result["checklist"] and result["replies"]
        assert result["status"] in {"active", "upcoming"}
        assert set(result["why"]) == {"matched_terms", "facts", "closest_phrasing", "bm25"}
    assert answer["facts"]["reason"] == "破损"
    assert answer["kb_version"] == engine.current().manifest["kb_version"]


def test_a_change_of_address_after_shipping_gets_the_reroute_branch(starter_engine):
    # modify-order-before-shipment also covers an order already on its way (改派): the order
    # status picks the branch, so an agent does not read "先挂起订单" for a parcel in transit.
    answer = assist(starter_engine, "快递已经发出了 还没到 地址能改到公司吗")
    [first] = answer["results"][:1]
    assert answer["facts"]["order_status"] == "运输中"
    assert first["id"] == "modify-order-before-shipment"
    steps = {s["text"][:6]: s["applies"] for s in first["checklist"]}
    assert steps["在后台核对订"] is False and steps["仓库回复已经"] is True
    assert first["replies"][0]["id"] == "already-shipped-reroute"
    assert first["replies"][0]["applies"] is True
