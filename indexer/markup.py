"""How article markup shows values to people."""

from __future__ import annotations


def show_value(value: str | float) -> str:
    """A fact or slot value as people write it: 7, not 7.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
