"""What anyone may read about the server itself: no file paths in pages, errors or /readyz.

Paths say where buyers' messages are kept (var/insights.sqlite) and how the host is laid out;
/readyz answers load balancers without a sign-in, and error pages reach every visitor. Operators
find the paths in the server's log and in `kb insights` (the CLI runs on the host).
"""

from __future__ import annotations

import re

PATH_MASK = "…"
# An absolute path: a "/" not inside a word or URL (postgresql://…), up to a space, a quote or
# punctuation that ends it in our messages (：，（ …).
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])/[^\s'\"“”‘’，,；;（）()：]+")


def without_paths(text: str | None) -> str | None:
    """The text with every absolute file path replaced by …"""
    if text is None:
        return None
    return _ABSOLUTE_PATH.sub(PATH_MASK, text)
