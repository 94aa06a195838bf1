"""Helpers for tests that need a small, controlled knowledge base on disk.

tests/fixtures/mini_kb/ holds three articles (cancel-order, seven-day-return, damaged-item) and
minimal categories, facts, slots, synonyms and banned phrases. Tests copy it before changing it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
MINI_KB = FIXTURES / "mini_kb"
# The shop fixture KB: a dozen articles for tests of search, assist, the API and the pages
# (conftest builds it once per session; `kb_copy` copies it).
SHOP_KB = FIXTURES / "shop_kb"
KB_COMMAND = Path(sys.executable).parent / "kb"

# The mini KB's cancel-order article, line for line: tests change one line and expect a problem
# on that line (line numbers are in the comments).
CANCEL_ORDER = """\
---
id: cancel-order
title: 未发货取消订单
category: before-shipment
tags: [取消订单, 未发货]
platforms: [淘宝, 拼多多]
owner: 售前组
reviewed: 2026-11-01
review_every_days: 3650
applies_when:
  order_status: 未发货
checklist:
  - 通知仓库拦截订单。
  - text: 拼多多：确认拦截后直接同意仅退款。
    when: {platform: 拼多多}
replies:
  - id: confirm-cancel
    title: 同意取消
    text: 亲，订单 {{order_id}} 已拦截，款项 {{amount}} 原路退回。
sources: [淘宝平台争议处理规则]
---
买家已付款、仓库未发货时取消订单。已经收到货的见 [[seven-day-return]]。
"""
# 1 ---  2 id  3 title  4 category  5 tags  6 platforms  7 owner  8 reviewed
# 9 review_every_days  10 applies_when  11 order_status  12 checklist  13 step  14 when-step
# 15 when  16 replies  17 reply id  18 title  19 text  20 sources  21 ---  22 body


def copy_mini_kb(tmp_path: Path, name: str = "kb") -> Path:
    """A writable copy of the mini KB at tmp_path/<name>."""
    target = tmp_path / name
    shutil.copytree(MINI_KB, target)
    return target


def write_article(kb_dir: Path, relative: str, text: str | bytes) -> Path:
    """Write an article file under kb_dir/articles/ (relative like 'before-shipment/x.md')."""
    path = kb_dir / "articles" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of a file's text; fail loudly if it is not there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def run_kb(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed `kb` command as a real subprocess."""
    return subprocess.run(
        [str(KB_COMMAND), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def snapshot(index_root: Path) -> tuple[str, dict[str, str]]:
    """Where `current` points and a hash of every file of that build."""
    target = os.readlink(index_root / "current")
    files = {
        str(f.relative_to(index_root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted((index_root / target).rglob("*"))
        if f.is_file()
    }
    return target, files
