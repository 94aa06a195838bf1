"""Article markup: `[[id]]` links between articles, `{{slot}}` placeholders in reply
templates, and how a value read from a case is written into text."""

from __future__ import annotations

import re

# A link to another article by its id, in a body or a step: [[seven-day-return]].
LINK = re.compile(r"\[\[([^\[\]]*)\]\]")


def links_in(*texts: str) -> tuple[str, ...]:
    """Article ids that texts link to ([[id]]), first mention first."""
    return tuple(dict.fromkeys(t.strip() for text in texts for t in LINK.findall(text)))


# A placeholder in a reply template: {{order_id}}, spaces inside allowed. Any name between the
# braces is a placeholder, not only snake_case: lint then names an undefined one, and a slot
# slots.yaml defines under another spelling is filled like any other (tests/test_markup.py).
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


# A placeholder naming an entry of the shop profile (kb/shop.yaml): {{shop.dispatch_cutoff}}.
SHOP_PREFIX = "shop."


def shop_key(name: str) -> str | None:
    """The shop-profile key a placeholder names ({{shop.return_address}} -> return_address)."""
    return name[len(SHOP_PREFIX) :] if name.startswith(SHOP_PREFIX) else None


def plain_value(value: str | float) -> str | float | int:
    """A number read from a case as people write it: 7.0 days is 7 days, 29.9 stays 29.9."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def show_value(value: str | float) -> str:
    """A value read from a case as text (in a reply, a reason, a condition)."""
    return str(plain_value(value))
