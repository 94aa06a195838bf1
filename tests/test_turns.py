"""indexer.turns: pasted chats split into speaker turns (pure functions, no index)."""

from __future__ import annotations

import pytest

from indexer.turns import AGENT, BUYER, UNKNOWN, Turn, buyer_side, split_turns


def speakers(text: str) -> list[tuple[str, str]]:
    return [(t.speaker, t.text) for t in split_turns(text)]


def test_a_plain_message_is_one_turn_of_unknown_speaker():
    assert speakers("我要退货 颜色不喜欢") == [(UNKNOWN, "我要退货 颜色不喜欢")]


@pytest.mark.parametrize(
    "chat",
    [
        "顾客：杯子碎了\n客服：亲，七天无理由也可以的\n顾客：那换个新的",
        "顾客：杯子碎了 客服：亲，七天无理由也可以的 顾客：那换个新的",
        "【买家】杯子碎了\n【卖家】亲，七天无理由也可以的\n【买家】那换个新的",
        "买家 10:21:33\n杯子碎了\n卖家 10:22:01\n亲，七天无理由也可以的\n买家 10:23:00\n那换个新的",
    ],
)
def test_role_labels_give_each_line_its_speaker(chat):
    assert speakers(chat) == [
        (BUYER, "杯子碎了"),
        (AGENT, "亲，七天无理由也可以的"),
        (BUYER, "那换个新的"),
    ]


def test_qianniu_export_nicknames_shop_accounts_are_the_agent():
    chat = (
        "tb_lily88 2026-11-30 10:21:33\n衣服小了能换吗\n"
        "某某旗舰店:小美 2026-11-30 10:21:50\n亲可以的哦\n"
        "tb_lily88 2026-11-30 10:22:10\n换大一码"
    )
    assert speakers(chat) == [
        (BUYER, "衣服小了能换吗"),
        (AGENT, "亲可以的哦"),
        (BUYER, "换大一码"),
    ]


def test_two_plain_nicknames_the_first_to_speak_is_the_buyer():
    chat = "jd_abc 10:21\n快递怎么还没到\nkefu01 10:22\n帮您查一下\njd_abc 10:25\n好的谢谢"
    assert [t.speaker for t in split_turns(chat)] == [BUYER, AGENT, BUYER]


@pytest.mark.parametrize(
    "chat",
    [
        "小王同学：衣服大了一码 能换L吗\n某某旗舰店：亲，七天无理由也可以的\n小王同学：好的 邮费谁出",
        "小王同学:\n衣服大了一码 能换L吗\n店铺小二:\n亲，七天无理由也可以的\n小王同学:\n好的 邮费谁出",
        # A role label beside a nickname: the shop's name, or any name answering the buyer.
        "我：衣服大了一码 能换L吗\n京东客服：亲，七天无理由也可以的\n我：好的 邮费谁出",
        "买家：衣服大了一码 能换L吗\n小美：亲，七天无理由也可以的\n买家：好的 邮费谁出",
        "买家 10:21\n衣服大了一码 能换L吗\nkefu01 10:22\n亲，七天无理由也可以的\n买家 10:25\n好的 邮费谁出",
    ],
)
def test_nicknames_with_a_colon_and_no_time_are_speakers_in_a_chat_with_the_shop(chat):
    # Copied from WeChat or a shop's chat window: no time, the shop's name says its side.
    assert speakers(chat) == [
        (BUYER, "衣服大了一码 能换L吗"),
        (AGENT, "亲，七天无理由也可以的"),
        (BUYER, "好的 邮费谁出"),
    ]


@pytest.mark.parametrize(
    "message",
    [
        "订单号：305512345678\n原因：质量问题\n诉求：换货",
        "订单号：305512345678\n原因：质量问题\n订单号：305512345679",
        # Each field named once, 售后 in one of them: a form, not a chat with the shop.
        "商品：杯子\n售后原因：破损\n诉求：补发",
        "链接：https://item.jd.com/1.html\n链接：https://item.jd.com/2.html\n客服说的",
    ],
)
def test_a_buyers_own_field_labels_are_not_speakers(message):
    assert [t.speaker for t in split_turns(message)] == [UNKNOWN]


def test_a_field_beside_the_buyers_role_label_stays_the_buyers():
    assert speakers("我：快递没到\n订单号：305512345678\n我：好的") == [
        (BUYER, "快递没到 订单号：305512345678"),
        (BUYER, "好的"),
    ]


@pytest.mark.parametrize(
    "message",
    ["明天10:00前能到吗", "明天 10:00 前能到吗", "退货客户：说的是真的吗", "我：想问下"],
)
def test_a_time_or_a_role_word_inside_a_sentence_is_not_a_header(message):
    turns = split_turns(message)
    assert "".join(t.text for t in turns).replace(" ", "") in message.replace(" ", "")
    assert all(t.speaker != AGENT for t in turns)


def test_buyer_side_leaves_out_the_agents_words():
    turns = [Turn(BUYER, "a"), Turn(AGENT, "b"), Turn(UNKNOWN, "c")]
    assert buyer_side(turns) == [Turn(BUYER, "a"), Turn(UNKNOWN, "c")]
