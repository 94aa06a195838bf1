"""indexer.lint and the loader's problems: one test per rule, `check(source, (line, rule))`.

Every rule is exercised on the mini KB's cancel-order article (kb_helpers.CANCEL_ORDER, whose
line numbers are listed there) with one line changed; each test asserts the exact problems of
that file and that the message tells the editor what to write.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import KB_DIR
from kb_helpers import CANCEL_ORDER, copy_mini_kb, edit, run_kb, write_article

import assist_app
import indexer
from assist_app.cli import main
from indexer.extract import extract_enum
from indexer.lint import has_errors, lint_kb, problem_codes
from indexer.model import Problem

TODAY = dt.date(2026, 11, 26)
ARTICLE = "before-shipment/cancel-order.md"


@pytest.fixture
def kb(tmp_path) -> Path:
    kb = copy_mini_kb(tmp_path)
    (kb / "articles" / ARTICLE).unlink()  # each test writes its own version
    return kb


def check(
    kb: Path,
    source: str | bytes,
    *expected: tuple[int, str],
    path: str = ARTICLE,
) -> list[Problem]:
    """Lint the KB with `source` at articles/<path>; assert the file's (line, rule) problems."""
    write_article(kb, path, source)
    _, problems = lint_kb(kb, TODAY)
    shown = f"kb/articles/{path}"
    mine = [p for p in problems if p.path == shown]
    assert [p for p in problems if p.path != shown] == []
    assert sorted((p.line, p.rule) for p in mine) == sorted(expected)
    return mine


def change(old: str, new: str) -> str:
    assert old in CANCEL_ORDER
    return CANCEL_ORDER.replace(old, new, 1)


def test_the_unchanged_article_is_clean(kb):
    check(kb, CANCEL_ORDER)


# --- rules in indexer.lint.RULES


def test_id_format(kb):
    source = change("id: cancel-order", "id: Cancel_Order")
    [problem] = check(kb, source, (2, "id-format"), path="before-shipment/Cancel_Order.md")
    assert "`cancel-order`" in problem.message  # a slug to use instead


def test_id_file(kb):
    [problem] = check(kb, CANCEL_ORDER, (2, "id-file"), path="before-shipment/cancel.md")
    assert "把 id 改为 `cancel`" in problem.message
    assert "`cancel-order.md`" in problem.message


def test_id_duplicate(kb):
    other = change("category: before-shipment", "category: returns-refunds")
    write_article(kb, ARTICLE, CANCEL_ORDER)
    write_article(kb, "returns-refunds/cancel-order.md", other)

    _, problems = lint_kb(kb, TODAY)

    assert [(p.path, p.line, p.rule) for p in problems] == [
        ("kb/articles/before-shipment/cancel-order.md", 2, "id-duplicate"),
        ("kb/articles/returns-refunds/cancel-order.md", 2, "id-duplicate"),
    ]
    assert "kb/articles/returns-refunds/cancel-order.md" in problems[0].message
    assert "kb/articles/before-shipment/cancel-order.md" in problems[1].message


def test_category_unknown(kb):
    [problem] = check(
        kb, change("category: before-shipment", "category: presale"), (4, "category-unknown")
    )
    assert "`presale`" in problem.message
    assert "before-shipment, returns-refunds, product-issues" in problem.message


def test_category_folder(kb):
    [problem] = check(
        kb, change("category: before-shipment", "category: returns-refunds"), (4, "category-folder")
    )
    assert "articles/returns-refunds/" in problem.message
    assert "`before-shipment`" in problem.message


def test_platform_unknown(kb):
    [problem] = check(
        kb,
        change("platforms: [淘宝, 拼多多]", "platforms: [淘宝, 拼夕夕]"),
        (6, "platform-unknown"),
    )
    assert "`拼夕夕`" in problem.message
    assert "淘宝, 拼多多, 京东" in problem.message


def test_fact_unknown(kb):
    [problem] = check(kb, change("  order_status: 未发货", "  weather: 下雨"), (10, "fact-unknown"))
    assert "`weather`" in problem.message
    assert "platform, order_status" in problem.message  # the facts that exist


def test_fact_value_enum(kb):
    [problem] = check(
        kb, change("  order_status: 未发货", "  order_status: 已发出"), (10, "fact-value")
    )
    assert "`已发出`" in problem.message
    assert "未发货, 运输中, 已签收" in problem.message


def test_fact_value_enum_in_a_step_when(kb):
    [problem] = check(
        kb, change("when: {platform: 拼多多}", "when: {platform: 拼夕夕}"), (14, "fact-value")
    )
    assert "步骤的 when" in problem.message


@pytest.mark.parametrize("condition", ["7", "大于7", '">7天"', '"=> 7"'])
def test_fact_value_number_needs_a_comparison(kb, condition):
    source = change("when: {platform: 拼多多}", f"when: {{days_since_receipt: {condition}}}")
    [problem] = check(kb, source, (14, "fact-value"))
    assert '"> 7"' in problem.message


@pytest.mark.parametrize("condition", ['"> 7"', '"<= 7"', '">=15"', '"= 0"', '"< 3.5"'])
def test_number_comparisons_are_accepted(kb, condition):
    check(kb, change("when: {platform: 拼多多}", f"when: {{days_since_receipt: {condition}}}"))


def test_fact_value_in_a_reply_when(kb):
    source = change("    title: 同意取消\n", "    title: 同意取消\n    when: {reason: 不想要}\n")
    [problem] = check(kb, source, (17, "fact-value"))
    assert "回复的 when" in problem.message
    assert "七天无理由, 破损" in problem.message


def test_placeholder_unknown(kb):
    [problem] = check(kb, change("{{order_id}}", "{{ordr_id}}"), (19, "placeholder-unknown"))
    assert "`{{ordr_id}}`" in problem.message
    assert "是不是 `{{order_id}}`？" in problem.message  # the nearest known slot


def test_placeholder_unknown_and_nothing_close_lists_them_all(kb):
    [problem] = check(kb, change("{{order_id}}", "{{xyz}}"), (19, "placeholder-unknown"))
    assert "可用：" in problem.message and "{{order_id}}" in problem.message


def test_placeholder_syntax(kb):
    [problem] = check(kb, change("{{amount}}", "{{amount}"), (19, "placeholder-syntax"))
    assert "`{{order_id}}`" in problem.message  # shows the right shape


def test_reply_id_duplicate(kb):
    source = change(
        "sources:",
        "  - id: confirm-cancel\n    title: 再次确认\n    text: 亲，已为您取消。\nsources:",
    )
    [problem] = check(kb, source, (20, "reply-id-duplicate"))
    assert "`confirm-cancel-2`" in problem.message


def test_link_broken_with_a_close_match(kb):
    [problem] = check(
        kb, change("[[seven-day-return]]", "[[seven-day-retrun]]"), (22, "link-broken")
    )
    assert "是不是 [[seven-day-return]]" in problem.message


def test_link_broken_in_a_step(kb):
    [problem] = check(
        kb,
        change("通知仓库拦截订单。", "通知仓库拦截订单，见 [[warehouse-stop]]。"),
        (13, "link-broken"),
    )
    assert "[[warehouse-stop]]" in problem.message


def test_banned_phrase(kb):
    # The 5 元 is also an amount written into the reply (promise-literal).
    problem, _ = check(
        kb,
        change("原路退回。", "原路退回，好评返现5元。"),
        (19, "banned-phrase"),
        (19, "promise-literal"),
    )
    assert "「好评返现」" in problem.message
    assert "请删去或改写" in problem.message


def test_banned_phrase_ignores_case(kb):
    (kb / "banned_phrases.yaml").write_text("加V: 引导买家离开平台。\n", encoding="utf-8")
    check(kb, change("原路退回。", "原路退回，有事加v。"), (19, "banned-phrase"))


def test_examples_repeated_or_holding_a_number_name_their_lines(kb):
    examples = (
        "platforms: [淘宝, 拼多多]\nexamples:\n"
        "  - 刚拍的不要了 还没发吧\n"
        "  - 刚拍的不要了 还没发吧\n"
        "  - 订单号１２３４５６７８９ 帮我取消\n"
        "  - 拍了两件 退一件行吗\n"
        f"  - {'还没发货的话就取消吧' * 16}\n"
    )
    problems = check(
        kb,
        change("platforms: [淘宝, 拼多多]\n", examples),
        (9, "example-duplicate"),
        (10, "example-number"),
        (12, "example-long"),
    )
    number = next(p for p in problems if p.rule == "example-number")
    assert "１２３４５６７８９" in number.message and "订单号" in number.message
    assert next(p for p in problems if p.rule == "example-long").level == "warning"


def test_the_out_of_scope_facts_examples_are_checked_as_an_articles_are(kb):
    # facts.yaml's example messages teach the phrasing model too: a phone number or a repeat
    # there is reported on its own line of facts.yaml, and the problems are counted together.
    facts = kb / "facts.yaml"
    facts.write_text(
        facts.read_text(encoding="utf-8") + "out_of_scope:\n"  # line 29
        "  label: 范围外话题\n"
        "  type: enum\n"
        "  examples:\n"
        "    - 这款还有货吗 什么时候补\n"  # line 33
        "    - 这款还有货吗 什么时候补\n"
        "    - 我的手机号是13912345678 帮我改绑\n"
        "  values:\n"
        "    售前咨询: [有货吗]\n",
        encoding="utf-8",
    )
    _, problems = lint_kb(kb, TODAY)
    assert [(p.path, p.line, p.rule, p.level) for p in problems] == [
        ("kb/facts.yaml", 34, "example-duplicate", "error"),
        ("kb/facts.yaml", 35, "example-number", "error"),
    ]
    assert "13912345678" in problems[1].message


def test_specializes_names_another_article_and_needs_a_context(kb):
    def specializing(target: str, platform: str = "") -> str:
        source = change(
            "platforms: [淘宝, 拼多多]\n", f"platforms: [拼多多]\nspecializes: {target}\n"
        )
        return source.replace("  order_status: 未发货\n", f"  order_status: 未发货\n{platform}")

    # Line 7 is `specializes`; the mini KB's platform is no context fact (no `gate`) yet.
    typo = check(
        kb,
        specializing("seven-day-retrun"),
        (7, "specializes-unknown"),
        (7, "specializes-no-context"),
    )
    assert "`seven-day-return`" in next(p for p in typo if p.rule == "specializes-unknown").message
    itself = check(
        kb, specializing("cancel-order"), (7, "specializes-unknown"), (7, "specializes-no-context")
    )
    assert "本文自己" in next(p for p in itself if p.rule == "specializes-unknown").message
    [warning] = check(
        kb, specializing("seven-day-return", "  platform: 拼多多\n"), (7, "specializes-no-context")
    )
    assert warning.level == "warning" and "applies_when" in warning.message
    edit(kb / "facts.yaml", "  label: 平台\n", "  label: 平台\n  gate: true\n")
    check(kb, specializing("seven-day-return", "  platform: 拼多多\n"))


def test_an_example_in_two_articles_is_a_warning_on_the_second(kb):
    write_article(
        kb,
        ARTICLE,
        change(
            "platforms: [淘宝, 拼多多]\n", "platforms: [淘宝]\nexamples: [东西到了但是压坏了]\n"
        ),
    )
    damaged = kb / "articles/product-issues/damaged-item.md"
    edit(damaged, "\nowner:", "\nexamples:\n  - 发错颜色了\n  - 东西到了但是压坏了\nowner:")
    _, problems = lint_kb(kb, TODAY)
    shared = [p for p in problems if p.rule == "example-shared"]
    assert [(p.path, p.level) for p in shared] == [
        ("kb/articles/product-issues/damaged-item.md", "warning")
    ]
    line = damaged.read_text(encoding="utf-8").split("\n")[shared[0].line - 1]
    assert "东西到了但是压坏了" in line
    assert "before-shipment/cancel-order.md" in shared[0].message


def test_reviewed_future(kb):
    [problem] = check(
        kb, change("reviewed: 2026-11-01", "reviewed: 2026-12-01"), (8, "reviewed-future")
    )
    assert problem.level == "error"
    assert "今天是 2026-11-26" in problem.message


def test_review_overdue_is_a_warning(kb):
    source = change("review_every_days: 3650", "review_every_days: 20")
    [problem] = check(kb, source, (8, "review-overdue"))
    assert problem.level == "warning"
    assert "2026-11-21" in problem.message  # when it was due
    assert "售前组" in problem.message  # whose job it is
    assert "把 reviewed 改为" in problem.message


def test_review_due_today_is_not_overdue(kb):
    check(kb, change("review_every_days: 3650", "review_every_days: 25"))


def test_shop_unknown_names_the_closest_key(kb):
    source = change("款项 {{amount}} 原路退回。", "{{shop.dispatch_cutof}} 前发出。")
    [problem] = check(kb, source, (19, "shop-unknown"))
    assert "{{shop.dispatch_cutoff}}" in problem.message
    assert problem.level == "error"


def test_a_shop_reference_in_a_step_must_resolve_too(kb):
    source = change("通知仓库拦截订单。", "截单（{{shop.cutoff}}）前通知仓库拦截订单。")
    check(kb, source, (13, "shop-unknown"))


def test_known_shop_references_are_clean_even_unset(kb):
    check(kb, change("款项 {{amount}} 原路退回。", "{{shop.supervisor_response}} 内回复您。"))


@pytest.mark.parametrize(
    "promise", ["今天 18 点前发出", "16:00 前付款当天发", "主管 2 小时内回复您", "补偿您 20 元"]
)
def test_promise_literal_is_a_warning(kb, promise):
    [problem] = check(
        kb, change("款项 {{amount}} 原路退回。", promise + "。"), (19, "promise-literal")
    )
    assert problem.level == "warning"
    assert "{{shop." in problem.message  # where the number belongs


def test_amounts_and_times_from_placeholders_are_not_promise_literals(kb):
    check(
        kb,
        change(
            "款项 {{amount}} 原路退回。", "款项 {{amount}} 元，{{shop.dispatch_cutoff}} 前发出。"
        ),
    )


def test_shop_entry_problems_name_the_line_and_the_shape(kb):
    write_article(kb, ARTICLE, CANCEL_ORDER)
    (kb / "shop.yaml").write_text(
        "shop_name: {label: 店铺名称, value: 小店}\ndispatch_cutoff: 16点\n", encoding="utf-8"
    )
    _, problems = lint_kb(kb, TODAY)
    assert [(p.path, p.line, p.rule) for p in problems] == [("kb/shop.yaml", 2, "shop-entry")]
    assert "{label: 中文名, value: 值}" in problems[0].message


def test_a_shop_platform_matching_cannot_use_names_the_line_and_the_values(kb):
    write_article(kb, ARTICLE, CANCEL_ORDER)
    (kb / "shop.yaml").write_text(
        "shop_name: {label: 店铺名称, value: 小店}\nplatform: {label: 本店所在平台, value: 京东商城}\n",
        encoding="utf-8",
    )
    _, problems = lint_kb(kb, TODAY)
    assert [(p.path, p.line, p.rule) for p in problems] == [("kb/shop.yaml", 2, "shop-platform")]
    assert "京东商城" in problems[0].message and "淘宝" in problems[0].message


def test_sources_missing_is_a_warning_on_the_review_line(kb):
    source = change("sources: [淘宝平台争议处理规则]\n", "")
    [problem] = check(kb, source, (9, "sources-missing"))
    assert problem.level == "warning"
    assert "sources: [" in problem.message  # what to write


def test_sources_of_the_wrong_shape_are_a_field_type_error(kb):
    # The article is still linted as a draft without the bad field, so its sources are missing.
    missing, problem = check(
        kb,
        change("sources: [淘宝平台争议处理规则]", "sources: 淘宝规则"),
        (20, "field-type"),
        (9, "sources-missing"),
    )
    assert problem.rule == "field-type" and "sources: [" in problem.message
    assert missing.level == "warning"


def test_policy_expired_is_a_warning(kb):
    source = change(
        "applies_when:", "effective_from: 2026-10-01\neffective_until: 2026-11-11\napplies_when:"
    )
    [problem] = check(kb, source, (11, "policy-expired"))
    assert problem.level == "warning"
    assert "延长 effective_until" in problem.message


def test_policy_expiring_is_a_warning(kb):
    source = change("applies_when:", "effective_until: 2026-12-06\napplies_when:")
    [problem] = check(kb, source, (10, "policy-expiring"))
    assert problem.level == "warning"
    assert "还有 10 天" in problem.message


def test_policy_far_from_expiry_is_clean(kb):
    check(kb, change("applies_when:", "effective_until: 2026-12-11\napplies_when:"))


def test_effective_range(kb):
    source = change(
        "applies_when:", "effective_from: 2026-12-01\neffective_until: 2026-11-30\napplies_when:"
    )
    [problem] = check(kb, source, (11, "effective-range"))
    assert problem.level == "error"
    assert "2026-12-01" in problem.message and "2026-11-30" in problem.message


def test_every_problem_of_an_article_in_one_run(kb):
    source = (
        change("platforms: [淘宝, 拼多多]", "platforms: [淘宝, 拼夕夕]")
        .replace("{{order_id}}", "{{ordr_id}}")
        .replace("[[seven-day-return]]", "[[seven-day-retrun]]")
    )
    check(kb, source, (6, "platform-unknown"), (19, "placeholder-unknown"), (22, "link-broken"))


# --- problems found while loading


def test_missing_field(kb):
    [problem] = check(kb, change("owner: 售前组\n", ""), (2, "missing-field"))
    assert "`owner`" in problem.message
    assert "例如 `owner: " in problem.message, "the example is of the missing field itself"


def test_an_article_that_fails_to_load_still_gets_all_its_problems(kb):
    # Issue 13.9: a missing field hid the article's other problems.
    source = (
        change("owner: 售前组\n", "")
        .replace("{{order_id}}", "{{ordr_id}}")
        .replace("[[seven-day-return]]", "[[seven-day-retrun]]")
    )
    check(kb, source, (2, "missing-field"), (18, "placeholder-unknown"), (21, "link-broken"))


def test_links_to_an_article_that_fails_to_load_are_no_errors_elsewhere(kb):
    # Issue 13.9: other files got `[[cancel-order]] 指向不存在的文章` because it failed to load.
    other = kb / "articles" / "returns-refunds" / "seven-day-return.md"
    other.write_text(other.read_text("utf-8") + "\n还没发货的见 [[cancel-order]]。\n", "utf-8")
    check(kb, change("review_every_days: 3650", "review_every_days: 半年"), (9, "field-type"))


def test_a_type_error_names_the_offending_line(kb):
    # Issue 13.9: a bad list item was reported on the list's first line.
    source = change("tags: [取消订单, 未发货]", "tags:\n  - 取消订单\n  - 未发货\n  - 404")
    [problem] = check(kb, source, (8, "field-type"))
    assert "`404`" in problem.message and "例如 `tags: [" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "line", "expected"),
    [
        ("review_every_days: 3650", "review_every_days: -3", 9, "正整数天数"),
        ("review_every_days: 3650", "review_every_days: 半年", 9, "正整数天数"),
        ("reviewed: 2026-11-01", "reviewed: 2026/11/01", 8, "YYYY-MM-DD"),
        ("tags: [取消订单, 未发货]", "tags: 取消订单", 5, "`tags: [退款, 未发货]`"),
        ("owner: 售前组", "owner: 42", 7, "`owner: 售后组`"),
        ("applies_when:\n  order_status: 未发货", "applies_when: 未发货", 10, "事实到取值的映射"),
        ("  order_status: 未发货", "  order_status: {a: b}", 10, "取值或取值列表"),
    ],
)
def test_field_type(kb, old, new, line, expected):
    [problem] = check(kb, change(old, new), (line, "field-type"))
    assert expected in problem.message


def test_unknown_field_did_you_mean(kb):
    source = change("owner: 售前组", "owner: 售前组\nkeyword: [拍错了]")
    [problem] = check(kb, source, (8, "unknown-field"))
    assert problem.message == "未知字段 `keyword`，是不是 `keywords`？"


def test_unknown_field_without_a_close_match_lists_the_fields(kb):
    [problem] = check(
        kb, change("owner: 售前组", "owner: 售前组\n优先级: 高"), (8, "unknown-field")
    )
    assert "可用字段：id, title, category" in problem.message


def test_empty_checklist(kb):
    source = change(
        "checklist:\n  - 通知仓库拦截订单。\n  - text: 拼多多：确认拦截后直接同意仅退款。\n"
        "    when: {platform: 拼多多}\n",
        "checklist: []\n",
    )
    [problem] = check(kb, source, (12, "empty-checklist"))
    assert "至少写一步" in problem.message


def test_empty_replies(kb):
    source = change(
        "replies:\n  - id: confirm-cancel\n    title: 同意取消\n"
        "    text: 亲，订单 {{order_id}} 已拦截，款项 {{amount}} 原路退回。\n",
        "replies: []\n",
    )
    [problem] = check(kb, source, (16, "empty-replies"))
    assert "至少写一条" in problem.message


@pytest.mark.parametrize(
    "step",
    [
        "  - text: 拼多多：确认拦截后直接同意仅退款。\n    if: {platform: 拼多多}",
        "  - text: 拼多多：确认拦截后直接同意仅退款。\n    when: 拼多多",
        "  - when: {platform: 拼多多}",
        "  - 42",
    ],
)
def test_step_shape(kb, step):
    source = change(
        "  - text: 拼多多：确认拦截后直接同意仅退款。\n    when: {platform: 拼多多}", step
    )
    [problem] = check(kb, source, (14, "step-shape"))
    assert "text" in problem.message and "when" in problem.message


REPLY = "    title: 同意取消\n    text: 亲，订单 {{order_id}} 已拦截，款项 {{amount}} 原路退回。\n"


@pytest.mark.parametrize(
    "reply",
    [
        "    text: 亲，已为您取消。\n",  # no title
        "    title: 同意取消\n    text: 亲，已为您取消。\n    lang: zh\n",  # unknown key
        "    title: 同意取消\n    text: 亲，已为您取消。\n    when: 拼多多\n",  # when not a mapping
        "    title: 同意取消\n    text: [亲, 已为您取消]\n",  # text not text
        "    title: 同意取消\n    text: 亲，已为您取消。\n    use: greeting\n",  # not a place
    ],
)
def test_reply_shape(kb, reply):
    [problem] = check(kb, change(REPLY, reply), (17, "reply-shape"))
    assert "`id`、`title`、`text`" in problem.message


def test_a_reply_may_say_it_opens_or_closes_a_message(kb):
    for use in ("opening", "closing"):
        check(kb, change(REPLY, f"    title: 您好\n    text: 亲，您好！\n    use: {use}\n"))


def test_reply_that_is_only_a_sentence(kb):
    check(
        kb,
        change("  - id: confirm-cancel\n" + REPLY, "  - 亲，已为您取消。\n"),
        (17, "reply-shape"),
    )


def test_yaml_syntax(kb):
    [problem] = check(
        kb, change("title: 未发货取消订单", "title: 未发货: 取消订单"), (3, "yaml-syntax")
    )
    assert problem.message.startswith("YAML 语法错误")


def test_encoding(kb):
    source = change("title: 未发货取消订单", "title: 未发货取消订单（旧）")
    raw = source.encode("utf-8").replace("（旧）".encode(), "（旧）".encode("gb2312"))
    [problem] = check(kb, raw, (3, "encoding"))
    assert "请用 UTF-8 另存此文件" in problem.message


def test_front_matter(kb):
    [problem] = check(kb, "# 未发货取消订单\n", (1, "front-matter"))
    assert "第一行应为 `---`" in problem.message


def test_kb_file_problems(kb):
    facts = (kb / "facts.yaml").read_text(encoding="utf-8")
    (kb / "facts.yaml").write_text(facts + "mood:\n  type: feeling\n", encoding="utf-8")
    mood_line = facts.count("\n") + 1
    (kb / "slots.yaml").write_text(
        "order_id:\n  label: 订单号\n  patterns:\n    - '\\d{16}'\n    - '(\\d{16'\n",
        encoding="utf-8",
    )
    (kb / "categories.yaml").write_text(
        "before-shipment:\n  name: 发货前\nafter-sales:\n  description: 没有名字\n",
        encoding="utf-8",
    )
    (kb / "banned_phrases.yaml").unlink()
    write_article(kb, ARTICLE, CANCEL_ORDER)

    _, problems = lint_kb(kb, TODAY)

    # Each problem names the line of its entry: the key, or the pattern itself.
    found = {(p.path, p.line, p.rule) for p in problems}
    assert ("kb/categories.yaml", 3, "file-shape") in found
    assert ("kb/facts.yaml", mood_line, "file-shape") in found
    assert ("kb/slots.yaml", 5, "slot-pattern") in found
    assert ("kb/banned_phrases.yaml", 1, "missing-file") in found
    facts_problem = next(p for p in problems if p.path == "kb/facts.yaml")
    assert "`mood`" in facts_problem.message and "type: enum" in facts_problem.message


def test_a_fact_pattern_must_compile_and_name_a_declared_value(kb_copy):
    facts = (kb_copy / "facts.yaml").read_text(encoding="utf-8")
    facts = facts.replace(
        "  patterns:\n",
        "  patterns:\n    京东: ['(\\d{6']\n    淘特: ['\\d{20}']\n",
        1,
    )
    (kb_copy / "facts.yaml").write_text(facts, encoding="utf-8")

    _, problems = lint_kb(kb_copy, TODAY)

    found = [p for p in problems if p.rule == "fact-pattern"]
    assert len(found) == 2
    assert all(p.path == "kb/facts.yaml" for p in found)
    assert any("无效" in p.message for p in found)
    assert any("`淘特`" in p.message for p in found)


def test_a_fact_phrase_listed_twice_is_a_warning_on_the_entry_that_never_counts(kb_copy):
    facts = (kb_copy / "facts.yaml").read_text(encoding="utf-8")
    facts = facts.replace(
        "    破损: [破损, 碎了, 压坏, 压扁]", "    破损: [破损, 碎了, 压坏, 压扁, 坏了]"
    )
    facts = facts.replace(
        "  ignore: [收到短信, 收到退款]", "  ignore: [收到短信, 收到退款, 已签收]"
    )
    (kb_copy / "facts.yaml").write_text(facts, encoding="utf-8")
    lines = facts.splitlines()

    kb_loaded, problems = lint_kb(kb_copy, TODAY)

    found = sorted((p.line, p.level, p.message) for p in problems if p.rule == "fact-phrase-twice")
    assert [(line, level) for line, level, _ in found] == [
        (lines.index("  ignore: [收到短信, 收到退款, 已签收]") + 1, "warning"),
        (lines.index("    破损: [破损, 碎了, 压坏, 压扁, 坏了]") + 1, "warning"),
    ]
    assert "「已签收」" in found[0][2] and "`ignore`" in found[0][2]
    assert "「坏了」已写在 `质量问题` 下" in found[1][2] and "`破损`" in found[1][2]
    # Read as the warning says: the first listing wins.
    assert extract_enum("收到就坏了", kb_loaded.facts["reason"]).value == "质量问题"


def test_a_slot_pattern_that_is_not_linear_safe_is_an_error_naming_the_fix(kb):
    (kb / "slots.yaml").write_text(
        "amount:\n  label: 金额\n  patterns:\n    - '(?<!\\d)(\\d+)元'\n    - '(\\d+)元'\n",
        encoding="utf-8",
    )
    write_article(kb, ARTICLE, CANCEL_ORDER)

    kb_loaded, problems = lint_kb(kb, TODAY)

    [problem] = [p for p in problems if p.rule == "slot-pattern-linear"]
    assert (problem.path, problem.line, problem.level) == ("kb/slots.yaml", 5, "error")
    assert "(?<!\\d)" in problem.message
    assert [p.regex for p in kb_loaded.slots["amount"].patterns] == [r"(?<!\d)(\d+)元"]


BODY = "买家已付款、仓库未发货时取消订单。已经收到货的见 [[seven-day-return]]。\n"


@pytest.mark.parametrize("tag", ["style", "math", "STYLE", "svg", "div"])
def test_an_unclosed_raw_tag_in_the_body_is_a_warning_on_its_line(kb, tag):
    body = f"{BODY}\n第二段。\n\n<{tag}>\n\n## 后面的内容\n\n会从页面上消失。\n"
    [problem] = check(kb, change(BODY, body), (26, "raw-html-unclosed"))

    assert problem.level == "warning"
    assert f"</{tag.lower()}>" in problem.message and "&lt;" in problem.message


@pytest.mark.parametrize(
    "body",
    [
        "<style>.x{}</style> 后面照常。\n",
        "写成代码：`<style>` 不算。\n",
        "```html\n<math>\n```\n后面照常。\n",
        "<div>\n<div>内层</div>\n</div>\n",
        "<svg/> 自闭合。\n",
    ],
    ids=["closed", "code-span", "fence", "nested", "self-closing"],
)
def test_closed_or_quoted_raw_tags_are_fine(kb, body):
    check(kb, change(BODY, BODY + body))


def test_a_tag_closed_in_a_code_span_is_still_open(kb):
    body = f"{BODY}<math>\n\n说明：`</math>` 是结束标签。\n"
    check(kb, change(BODY, body), (23, "raw-html-unclosed"))


def test_a_fact_phrase_list_must_be_a_list(kb_copy):
    facts = (kb_copy / "facts.yaml").read_text(encoding="utf-8")
    facts = facts.replace("  not_after: [", "  not_after: 能收到\n  unused_not_after: [", 1)
    (kb_copy / "facts.yaml").write_text(facts, encoding="utf-8")

    kb, problems = lint_kb(kb_copy, TODAY)

    [problem] = [p for p in problems if "not_after" in p.message]
    assert (problem.path, problem.rule) == ("kb/facts.yaml", "file-shape")
    assert "短语列表" in problem.message
    assert kb.facts["order_status"].not_after == ()  # not 能, 收, 到 one by one


def rules_in_code() -> set[str]:
    """Rule ids of every Problem(path, line, message, rule, ...) built anywhere in the code."""
    found = set()
    for package in (indexer, assist_app):
        for path in Path(package.__file__).parent.glob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Problem":
                    rule = node.args[3]
                    assert isinstance(rule, ast.Constant), ast.unparse(node)
                    found.add(rule.value)
    return found


def test_every_rule_in_the_code_has_a_test_here():
    tested = set(re.findall(r'"([a-z]+(?:-[a-z]+)*)"', Path(__file__).read_text(encoding="utf-8")))

    assert {"id-format", "encoding", "unknown-field", "slot-pattern"} <= rules_in_code()
    assert rules_in_code() - tested == set()


def test_has_errors():
    warning = Problem("a.md", 1, "m", "review-overdue", "warning")
    error = Problem("a.md", 1, "m", "id-file")

    assert not has_errors([])
    assert not has_errors([warning])
    assert has_errors([warning], strict=True)
    assert has_errors([warning, error])


def test_problems_are_sorted_by_file_and_line(kb):
    write_article(
        kb,
        ARTICLE,
        change("platforms: [淘宝, 拼多多]", "platforms: [拼夕夕]").replace(
            "reviewed: 2026-11-01", "reviewed: 2027-01-01"
        ),
    )
    write_article(kb, "before-shipment/a-first.md", "no front matter\n")

    _, problems = lint_kb(kb, TODAY)

    assert [(p.path.rsplit("/", 1)[1], p.line) for p in problems] == [
        ("a-first.md", 1),
        ("cancel-order.md", 6),
        ("cancel-order.md", 8),
    ]


# --- the real knowledge base


def test_the_real_kb_lints_without_errors_or_warnings():
    kb, problems = lint_kb(KB_DIR)  # today's date: overdue reviews would show here

    assert [p.format() for p in problems] == []
    assert len(kb.articles) >= 30


def test_every_rule_is_documented_for_editors():
    for codes, documentation in problem_codes():
        assert documentation and documentation.strip(), codes


# --- the `kb lint` command (real subprocesses for the exit codes)


def kb_with(tmp_path: Path, source: str | None = None) -> Path:
    """A copy of the mini KB, with `source` as its cancel-order article when given."""
    kb = copy_mini_kb(tmp_path)
    if source is not None:
        write_article(kb, ARTICLE, source)
    return kb


def test_kb_lint_exit_0_on_a_clean_kb(tmp_path):
    result = run_kb("--kb", kb_with(tmp_path), "lint")

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "3 篇文章，0 个错误，0 个警告" in result.stderr


def test_kb_lint_exit_1_on_errors_with_one_line_per_problem(tmp_path):
    source = change("platforms: [淘宝, 拼多多]", "platforms: [淘宝, 拼夕夕]")
    kb = kb_with(tmp_path, source.replace("{{order_id}}", "{{ordr_id}}"))

    result = run_kb("--kb", kb, "lint")

    assert result.returncode == 1
    first, second = result.stdout.splitlines()
    assert first.startswith(
        "kb/articles/before-shipment/cancel-order.md:6: [error] 未知平台 `拼夕夕`"
    )
    assert first.endswith("(platform-unknown)")
    assert re.fullmatch(
        r"kb/articles/before-shipment/cancel-order\.md:19: \[error\] .+ \(placeholder-unknown\)",
        second,
    )
    assert "2 个错误，0 个警告" in result.stderr


def test_kb_lint_warnings_fail_only_with_strict(tmp_path):
    # Reviewed long ago with a short cycle: overdue whatever today's date is.
    source = change("reviewed: 2026-11-01", "reviewed: 2020-01-01")
    kb = kb_with(tmp_path, source.replace("review_every_days: 3650", "review_every_days: 30"))

    plain = run_kb("--kb", kb, "lint")
    strict = run_kb("--kb", kb, "lint", "--strict")

    assert plain.returncode == 0
    assert strict.returncode == 1
    for result in (plain, strict):
        assert re.fullmatch(
            r"kb/articles/before-shipment/cancel-order\.md:8: \[warning\] "
            r"已超过复核期.+ \(review-overdue\)\n",
            result.stdout,
        )
        assert "0 个错误，1 个警告" in result.stderr


def test_kb_lint_json_format(tmp_path):
    kb = kb_with(tmp_path, change("{{amount}}", "{{amount}"))

    result = CliRunner().invoke(main, ["--kb", str(kb), "lint", "--format", "json"])

    assert result.exit_code == 1
    assert json.loads(result.stdout) == [
        {
            "path": "kb/articles/before-shipment/cancel-order.md",
            "line": 19,
            "message": "回复 `confirm-cancel` 中有不成对的花括号：占位符写成 `{{order_id}}`",
            "rule": "placeholder-syntax",
            "level": "error",
        }
    ]


def test_kb_lint_json_format_on_a_clean_kb_is_an_empty_list(tmp_path):
    result = CliRunner().invoke(main, ["--kb", str(kb_with(tmp_path)), "lint", "--format", "json"])

    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_kb_lint_rules_lists_exactly_the_codes_lint_prints(tmp_path):
    result = CliRunner().invoke(main, ["--kb", str(kb_with(tmp_path)), "lint", "--rules"])

    listed = [
        code for line in result.stdout.splitlines() for code in line.split(": ", 1)[0].split(", ")
    ]
    assert result.exit_code == 0
    assert len(listed) == len(set(listed))
    assert set(listed) == rules_in_code()
    assert "id-format, id-file: `id` 只用小写字母" in result.stdout
