"""indexer.regex_safety: which patterns search in linear time, and every pattern we run is one."""

from __future__ import annotations

import re

import pytest
from conftest import KB_DIR

from indexer.extract import _DAY_PATTERNS
from indexer.loader import load_kb
from indexer.regex_safety import linear_time_problem


@pytest.mark.parametrize(
    "pattern",
    [
        r"(\d+)块(\d)",  # a start at every digit of a run rescans the run
        r"(\d+(?:\.\d{1,2})?)\s*元",
        r"\s*\d+",
        r"a[^b]*c",  # "aaaa…": every a starts a scan to the end
        r"(\d+)+",  # nested repeats
        r"\d+0?\d*x",  # two repeats share a run
        r"(?<![a-z])\d+x",  # a lookbehind that does not refuse the repeat's characters
    ],
)
def test_quadratic_shapes_are_named(pattern):
    assert linear_time_problem(pattern) is not None


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?<!\d)(\d+)块(\d)(?![\d.])",
        r"(?<![\dA-Za-z])(\d{16,19})(?!\d)",  # bounded repeats cost a bounded amount per start
        r"[¥￥]\s*(\d+(?:\.\d{1,2})?)",  # nothing the repeats take can start a match
        r"(?:收到|签收)(?:了|都)*(\d+|[一二三]{1,3})天",
        r"(?<![\d.\-/:])(\d+(?:\.\d{1,2})?)(?![\d.\-/:：])(?!\s*(?:[年月日]|小时))",
    ],
)
def test_linear_shapes_pass(pattern):
    assert linear_time_problem(pattern) is None


def test_every_slot_fact_and_day_pattern_is_linear_safe():
    kb, _ = load_kb(KB_DIR)
    patterns = [p.regex for slot in kb.slots.values() for p in slot.patterns]
    patterns += [pattern.pattern for pattern, _ in _DAY_PATTERNS]
    patterns += [r for fact in kb.facts.values() for rs in fact.patterns.values() for r in rs]

    assert {p: linear_time_problem(p, re.IGNORECASE) for p in patterns} == dict.fromkeys(patterns)
