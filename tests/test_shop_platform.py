"""The shop's one platform (kb/shop.yaml `platform`): a case that does not say its platform is
read as on the shop's, so the shop's platform procedure is not held back by the context gate;
a case that names a platform keeps its own."""

from __future__ import annotations

import pytest
from kb_helpers import copy_mini_kb, edit, write_article

from assist_app.assist import assist
from indexer.build import build_index
from indexer.search import SearchEngine

JD_PICKUP = """---
id: jd-pickup
title: 京东退货上门取件
category: returns-refunds
tags: [上门取件]
platforms: [京东]
keywords:
  - 退货能上门取件吗
owner: 售后组
reviewed: 2026-11-01
review_every_days: 3650
sources: [京东售后服务政策]
applies_when:
  platform: 京东
checklist:
  - 在服务单里预约上门取件时间。
replies:
  - id: pickup
    title: 预约取件
    text: 亲，服务单里可以预约京东小哥上门取件哦。
---
京东售后的上门取件。
"""
CASE = "退货能上门取件吗 我不方便出门"


@pytest.fixture
def kb_dir(tmp_path):
    kb = copy_mini_kb(tmp_path)
    write_article(kb, "returns-refunds/jd-pickup.md", JD_PICKUP)
    # The platform is a context fact: an article for one platform is lowered where the case
    # does not show it (as in the starter KB).
    edit(
        kb / "facts.yaml", "platform:\n  label: 平台\n", "platform:\n  label: 平台\n  gate: true\n"
    )
    return kb


def engine_for(kb_dir, tmp_path, shop_line: str | None) -> SearchEngine:
    if shop_line is not None:
        with (kb_dir / "shop.yaml").open("a", encoding="utf-8") as f:
            f.write(shop_line + "\n")
    root = tmp_path / "index"
    build_index(kb_dir, root)
    return SearchEngine(root)


def platform_detail(answer) -> dict:
    return next(d for d in answer["fact_details"] if d["name"] == "platform")


def test_without_a_shop_platform_the_platform_procedure_is_held_back(kb_dir, tmp_path):
    engine = engine_for(kb_dir, tmp_path, None)
    result = engine.search(CASE, limit=3)
    assert "platform" not in result.query.facts
    jd = next(h for h in result.hits if h.article.id == "jd-pickup")
    assert any(n.kind == "gate" for n in jd.fact_notes)


def test_a_case_without_a_platform_is_read_as_on_the_shops_platform(kb_dir, tmp_path):
    engine = engine_for(kb_dir, tmp_path, 'platform: {label: 本店所在平台, value: "京东"}')
    answer = assist(engine, CASE)
    assert answer["facts"]["platform"] == "京东"
    assert platform_detail(answer)["source"] == "shop"
    assert answer["results"][0]["id"] == "jd-pickup"
    result = engine.search(CASE, limit=3)
    assert [n.kind for n in result.hits[0].fact_notes if n.fact == "platform"] == ["context"]


def test_a_platform_the_case_names_wins_over_the_shops(kb_dir, tmp_path):
    engine = engine_for(kb_dir, tmp_path, 'platform: {label: 本店所在平台, value: "京东"}')
    answer = assist(engine, "拼多多买的 " + CASE)
    assert answer["facts"]["platform"] == "拼多多"
    assert platform_detail(answer)["source"] == "case"
    agent = assist(engine, CASE, overrides={"platform": "淘宝"})
    assert agent["facts"]["platform"] == "淘宝"
    assert platform_detail(agent)["source"] == "agent"


@pytest.mark.parametrize(
    "line",
    [
        'platform: {label: 本店所在平台, value: "京东", example: true}',  # a starter example
        'platform: {label: 本店所在平台, value: ""}',  # a multi-platform shop
    ],
)
def test_an_example_or_empty_shop_platform_sets_nothing(kb_dir, tmp_path, line):
    engine = engine_for(kb_dir, tmp_path, line)
    answer = assist(engine, CASE)
    assert "platform" not in answer["facts"]
    assert platform_detail(answer)["source"] is None
