"""indexer.loader: article files -> Article values or Problems, each on its file's line."""

from __future__ import annotations

import datetime as dt

from kb_helpers import CANCEL_ORDER, MINI_KB, copy_mini_kb, write_article

from indexer.loader import load_articles, load_kb, parse_article, split_front_matter
from indexer.model import Reply, Step

SHOWN = "kb/articles/before-shipment/cancel-order.md"


def parse(text: str):
    return parse_article(text, SHOWN)


def rules(problems) -> list[tuple[int, str]]:
    return sorted((p.line, p.rule) for p in problems)


def test_front_matter_fields_become_an_article():
    article, problems = parse(CANCEL_ORDER)

    assert problems == []
    assert article.id == "cancel-order"
    assert article.title == "未发货取消订单"
    assert article.category == "before-shipment"
    assert article.tags == ("取消订单", "未发货")
    assert article.platforms == ("淘宝", "拼多多")
    assert article.keywords == ()  # optional and absent
    assert article.owner == "售前组"
    assert article.reviewed == dt.date(2026, 11, 1)
    assert article.review_every_days == 3650
    assert article.applies_when == {"order_status": ["未发货"]}
    assert article.effective_from is None and article.effective_until is None
    assert article.body == "买家已付款、仓库未发货时取消订单。已经收到货的见 [[seven-day-return]]。"
    assert article.path == SHOWN


def test_lines_of_keys_steps_replies_and_body_are_file_lines():
    article, _ = parse(CANCEL_ORDER)
    file_lines = CANCEL_ORDER.split("\n")

    for key, line in article.lines.items():
        if key != "body":
            assert file_lines[line - 1].startswith(f"{key}:"), (key, line)
    assert article.lines["body"] == 22
    assert file_lines[article.lines["body"] - 1].startswith("买家已付款")
    assert [s.line for s in article.checklist] == [13, 14]
    assert [r.line for r in article.replies] == [17]


def test_sources_are_read_in_order():
    article, _ = parse(CANCEL_ORDER)
    assert article.sources == ("淘宝平台争议处理规则",)
    assert article.lines["sources"] == 20

    bare, problems = parse(CANCEL_ORDER.replace("sources: [淘宝平台争议处理规则]\n", ""))
    assert bare.sources == () and problems == []


def test_steps_with_when_keep_their_conditions():
    article, _ = parse(CANCEL_ORDER)

    assert article.checklist == (
        Step("通知仓库拦截订单。", {}, 13),
        Step("拼多多：确认拦截后直接同意仅退款。", {"platform": ["拼多多"]}, 14),
    )


def test_when_values_become_lists_of_strings():
    text = CANCEL_ORDER.replace(
        "    when: {platform: 拼多多}",
        '    when: {platform: [淘宝, 拼多多], days_since_receipt: "> 7"}',
    )
    article, problems = parse(text)

    assert problems == []
    assert article.checklist[1].when == {
        "platform": ["淘宝", "拼多多"],
        "days_since_receipt": ["> 7"],
    }


def test_replies_with_when():
    text = CANCEL_ORDER.replace(
        "    text: 亲，订单 {{order_id}} 已拦截，款项 {{amount}} 原路退回。\n",
        "    text: 亲，订单 {{order_id}} 已拦截，款项 {{amount}} 原路退回。\n"
        "  - id: pdd-only\n"
        "    title: 拼多多专用\n"
        "    text: |\n"
        "      亲，拼多多订单已同意退款。\n"
        "    when: {platform: 拼多多}\n",
    )
    article, problems = parse(text)

    assert problems == []
    assert article.replies == (
        Reply(
            "confirm-cancel",
            "同意取消",
            "亲，订单 {{order_id}} 已拦截，款项 {{amount}} 原路退回。",
            17,
            {},
        ),
        Reply("pdd-only", "拼多多专用", "亲，拼多多订单已同意退款。", 20, {"platform": ["拼多多"]}),
    )


def test_split_front_matter_gives_the_body_first_line():
    front, body, body_line = split_front_matter("---\nid: a\n---\n# 标题\n正文\n")

    assert front == "id: a"
    assert body == "# 标题\n正文\n"
    assert body_line == 4


def test_missing_front_matter():
    article, problems = parse("# 只有正文\n\n没有头信息。\n")

    assert article is None
    assert rules(problems) == [(1, "front-matter")]
    assert "`---`" in problems[0].message  # says what the first line must be


def test_unclosed_front_matter_is_missing_front_matter():
    article, problems = parse("---\nid: cancel-order\ntitle: 没有结束的头信息\n")

    assert article is None
    assert rules(problems) == [(1, "front-matter")]


def test_front_matter_that_is_not_a_mapping():
    article, problems = parse("---\n- 一个列表\n---\n正文\n")

    assert article is None
    assert rules(problems) == [(2, "front-matter")]


def test_yaml_syntax_error_on_the_parsers_line_plus_front_matter_offset():
    # Front-matter line 4 is file line 5 (the opening --- is line 1).
    text = CANCEL_ORDER.replace("tags: [取消订单, 未发货]", "tags: 取消订单: 未发货")
    article, problems = parse(text)

    assert article is None
    assert rules(problems) == [(5, "yaml-syntax")]
    assert "mapping values are not allowed here" in problems[0].message
    assert "引号" in problems[0].message  # the fix: quote text with a colon


def test_unclosed_flow_sequence_is_reported_where_the_parser_stops():
    text = CANCEL_ORDER.replace("tags: [取消订单, 未发货]", "tags: [取消订单, 未发货")
    _, problems = parse(text)

    # The parser notices the missing `]` at the next key, on line 6.
    assert rules(problems) == [(6, "yaml-syntax")]


def test_impossible_date_is_a_problem_on_its_line_not_a_crash():
    # PyYAML reads 2026-02-30 as a date and raises ValueError, not a YAMLError.
    article, problems = parse(CANCEL_ORDER.replace("reviewed: 2026-11-01", "reviewed: 2026-02-30"))

    assert article is None
    assert rules(problems) == [(8, "field-type")]
    assert "2026-02-30" in problems[0].message
    assert "YYYY-MM-DD" in problems[0].message


def test_non_utf8_file_is_reported_on_the_line_of_the_bad_byte(tmp_path):
    kb = copy_mini_kb(tmp_path)
    text = CANCEL_ORDER.replace("title: 未发货取消订单", "title: 未发货取消订单（GBK）")
    raw = text.encode("utf-8").replace("（GBK）".encode(), "（GBK）".encode("gbk"))
    write_article(kb, "before-shipment/cancel-order.md", raw)

    articles, problems = load_articles(kb)

    assert rules(problems) == [(3, "encoding")]
    assert problems[0].path == "kb/articles/before-shipment/cancel-order.md"
    assert "UTF-8" in problems[0].message
    assert [a.id for a in articles] == ["damaged-item", "seven-day-return"]  # the others still load


def test_a_file_with_three_problems_gives_three():
    text = (
        CANCEL_ORDER.replace("platforms:", "platfroms:")  # unknown field
        .replace("  - 通知仓库拦截订单。", "  - {text: 通知仓库, if: 已付款}")  # bad step
        .replace("    title: 同意取消\n", "")  # reply without title
    )
    article, problems = parse(text)

    assert rules(problems) == [(6, "unknown-field"), (13, "step-shape"), (17, "reply-shape")]
    # The article is still usable: only the broken step and reply are left out.
    assert [s.text for s in article.checklist] == ["拼多多：确认拦截后直接同意仅退款。"]
    assert article.replies == ()


def test_a_missing_field_does_not_hide_the_other_problems():
    text = (
        CANCEL_ORDER.replace("owner: 售前组", "ownr: 售前组")  # unknown field, owner missing
        .replace("  - 通知仓库拦截订单。", "  - {text: 通知仓库, if: 已付款}")
        .replace("    title: 同意取消\n", "")
    )
    article, problems = parse(text)

    assert article is None  # a required field is missing
    assert rules(problems) == [
        (2, "missing-field"),
        (7, "unknown-field"),
        (13, "step-shape"),
        (17, "reply-shape"),
    ]


def test_three_broken_files_give_three_problems_in_one_run(tmp_path):
    kb = copy_mini_kb(tmp_path)
    write_article(kb, "before-shipment/a-no-front-matter.md", "只有正文\n")
    write_article(kb, "before-shipment/b-bad-yaml.md", "---\nid: b\ntitle: [oops\n---\n")
    write_article(kb, "before-shipment/c-gbk.md", b"---\nid: c\n" + "标题".encode("gbk"))

    articles, problems = load_articles(kb)

    assert [(p.path.rsplit("/", 1)[1], p.line, p.rule) for p in problems] == [
        ("a-no-front-matter.md", 1, "front-matter"),
        ("b-bad-yaml.md", 3, "yaml-syntax"),  # the end of its front matter
        ("c-gbk.md", 3, "encoding"),
    ]
    assert len(articles) == 3  # the mini KB's good articles are still read


def test_problems_in_kb_files_and_articles_are_collected_together(tmp_path):
    kb = copy_mini_kb(tmp_path)
    (kb / "categories.yaml").write_text("before-shipment: {name: [未闭合\n", encoding="utf-8")
    (kb / "slots.yaml").unlink()
    write_article(kb, "before-shipment/broken.md", "no front matter\n")

    _, problems = load_kb(kb)

    assert sorted((p.path, p.line, p.rule) for p in problems) == [
        ("kb/articles/before-shipment/broken.md", 1, "front-matter"),
        ("kb/categories.yaml", 2, "yaml-syntax"),
        ("kb/slots.yaml", 1, "missing-file"),
    ]


def test_mini_kb_loads_without_problems():
    kb, problems = load_kb(MINI_KB)

    assert problems == []
    assert [a.id for a in kb.articles] == ["cancel-order", "damaged-item", "seven-day-return"]
    assert kb.facts["days_since_receipt"].type == "number"
    assert kb.facts["order_status"].values["运输中"] == ("已发货", "没收到", "在路上")
    assert kb.slots["platform"].from_fact == "platform"
    assert kb.stopwords == frozenset({"亲", "在吗"})  # the comment line is not a stop word
    assert kb.dict_words == ("七天无理由 2000 n", "仅退款 2000 n")
