"""Evaluate `when` / `applies_when` conditions against the facts of a case."""

from __future__ import annotations

import operator
import re

COMPARISON = re.compile(r"^\s*(>=|<=|>|<|=)\s*(-?\d+(?:\.\d+)?)\s*$")
_OPERATORS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
}


def condition_holds(wanted: list[str], value: str | float) -> bool:
    """True when a fact's value satisfies one of the wanted values or comparisons."""
    for item in wanted:
        match = COMPARISON.match(item)
        if match and isinstance(value, int | float):
            if _OPERATORS[match.group(1)](value, float(match.group(2))):
                return True
        elif str(value) == item:
            return True
    return False


# A comparison as an agent would say it: 签收天数 > 7 is 签收超过 7 天.
_COMPARISON_WORDS = {">": "超过", ">=": "满", "<": "不到", "<=": "不超过", "=": "正好"}


def _say_comparison(fact_label: str, item: str) -> str:
    match = COMPARISON.match(item)
    word, number = _COMPARISON_WORDS[match.group(1)], match.group(2)
    # A count of days reads as days: 签收天数 超过 7 → 签收超过 7 天.
    if fact_label.endswith("天数"):
        return f"{fact_label[:-2]}{word} {number} 天"
    return f"{fact_label}{word} {number}"


def describe(fact_label: str, wanted: list[str]) -> str:
    """Say a condition in words for an agent: 平台为拼多多 / 签收超过 7 天."""
    if all(COMPARISON.match(w) for w in wanted):
        return "或".join(_say_comparison(fact_label, w) for w in wanted)
    return f"{fact_label}为{'或'.join(wanted)}"
