"""Adding keywords to an article by editing its text: every other byte stays as written."""

from __future__ import annotations

import pytest
import yaml

from indexer.keyword_patch import KeywordPatchError, add_keywords, yaml_scalar

ARTICLE = """\
---
id: x
# who edits this: 售后组
title: 标题  # a comment after a value
keywords:
  - 已有说法
  # a comment inside the list
  - "引号里的: 说法"
owner: 售后组
---
正文 keywords: 不是 front matter
"""


def front(text: str) -> dict:
    return yaml.safe_load(text.split("---\n")[1])


def test_a_block_list_gets_lines_after_its_last_item_and_nothing_else_changes():
    edited = add_keywords(ARTICLE, ["新的说法", "退货 物流不动"])

    old, new = ARTICLE.splitlines(), edited.splitlines()
    assert new[:8] == old[:8]
    assert new[8:10] == ["  - 新的说法", "  - 退货 物流不动"]
    assert new[10:] == old[8:]
    assert front(edited)["keywords"] == ["已有说法", "引号里的: 说法", "新的说法", "退货 物流不动"]


def test_a_flow_list_gets_items_before_its_bracket_keeping_its_comment():
    text = "---\nid: x\nkeywords: [a, b]  # 说明\ntitle: t\n---\nbody\n"

    edited = add_keywords(text, ["新说法", "x,y"])

    assert edited == '---\nid: x\nkeywords: [a, b, 新说法, "x,y"]  # 说明\ntitle: t\n---\nbody\n'


def test_an_article_without_keywords_gets_a_list_and_crlf_files_keep_crlf():
    text = "---\r\nid: x\r\ntitle: t\r\n---\r\nbody\r\n"

    edited = add_keywords(text, ["新说法"])

    assert edited == "---\r\nid: x\r\ntitle: t\r\nkeywords:\r\n  - 新说法\r\n---\r\nbody\r\n"


def test_phrasings_it_has_are_not_added_twice():
    assert add_keywords(ARTICLE, ["已有说法"]) == ARTICLE
    assert add_keywords(ARTICLE, ["新", "新"]).count("  - 新\n") == 1


@pytest.mark.parametrize(
    "phrase",
    ["a: b", "#开头", "- 破折号", "yes", "123", "[括号]", "引号'和\"", " 前后空格 ", "星*号"],
)
def test_any_phrase_reads_back_as_itself(phrase):
    assert yaml.safe_load(f"k: {yaml_scalar(phrase)}")["k"] == phrase
    assert yaml.safe_load(f"k: [{yaml_scalar(phrase, in_flow=True)}]")["k"] == [phrase]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("id: x\n", "---"),
        ("---\nid: x\n", "结束"),
        ("---\nid: [x\n---\n", "YAML"),
        ("---\nkeywords: 一个说法\n---\n", "列表"),
        ("---\nkeywords: [a,\n  b]\n---\n", "写法"),
    ],
)
def test_front_matter_it_cannot_edit_safely_is_an_error(text, why):
    with pytest.raises(KeywordPatchError, match=why):
        add_keywords(text, ["新说法"])
