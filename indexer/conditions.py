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


def describe(fact_label: str, wanted: list[str]) -> str:
    """Say a condition in words for an agent: 平台为 拼多多 / 签收天数 > 7."""
    if all(COMPARISON.match(w) for w in wanted):
        return f"{fact_label} {' 或 '.join(w.strip() for w in wanted)}"
    return f"{fact_label}为{'或'.join(wanted)}"
