"""indexer.markup: one meaning of [[links]] and {{placeholders}} for lint, assist and render."""

from __future__ import annotations

import datetime as dt

import pytest
from kb_helpers import copy_mini_kb, edit

from assist_app.assist import fill_reply
from assist_app.render import template_html
from indexer.lint import lint_kb
from indexer.markup import LINK, PLACEHOLDER, plain_value, show_value

TODAY = dt.date(2026, 12, 1)


def test_a_slot_lint_accepts_is_filled_and_marked_whatever_its_spelling(tmp_path):
    # slots.yaml does not restrict slot names; lint once accepted {{shopName}} while the
    # replies left it as raw braces in front of the buyer (assist matched only snake_case).
    kb_dir = copy_mini_kb(tmp_path)
    with (kb_dir / "slots.yaml").open("a", encoding="utf-8") as slots:
        slots.write("shopName:\n  label: 店铺名\n")
    edit(
        kb_dir / "articles/before-shipment/cancel-order.md",
        "亲，订单 {{order_id}}",
        "亲，{{ shopName }} 已收到，订单 {{order_id}}",
    )

    kb, problems = lint_kb(kb_dir, TODAY)
    reply = kb.article("cancel-order").replies[0]
    filled = fill_reply(reply, {"order_id": "1"}, kb)

    assert problems == []
    assert filled["text"].startswith("亲，【店铺名】 已收到，订单 1")
    assert filled["missing"][0] == "shopName"
    assert "{{" not in filled["text"]
    assert 'title="{{shopName}}"' in template_html(reply.text, kb)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("订单 {{order_id}} 金额 {{ amount }}", ["order_id", "amount"]),
        ("{{订单号}}", ["订单号"]),
        ("{{}} 与 {order_id}", [""]),
    ],
)
def test_placeholders(text, names):
    assert PLACEHOLDER.findall(text) == names


def test_links():
    assert LINK.findall("见 [[seven-day-return]] 和 [[ damaged-item ]]，[单] 不是") == [
        "seven-day-return",
        " damaged-item ",
    ]


@pytest.mark.parametrize(
    ("value", "shown", "plain"),
    [(7.0, "7", 7), (29.9, "29.9", 29.9), ("拼多多", "拼多多", "拼多多"), (0.0, "0", 0)],
)
def test_a_number_is_shown_as_people_write_it(value, shown, plain):
    assert show_value(value) == shown
    assert plain_value(value) == plain
    assert type(plain_value(value)) is type(plain)
