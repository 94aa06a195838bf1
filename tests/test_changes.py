"""kb changes: what changed in each article since a date, read from a real git history."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess

from kb_helpers import MINI_KB

from indexer.changes import changes_since

GIT = ["-c", "user.name=editor", "-c", "user.email=editor@example.com"]


def commit(repo, message, when: str | None = None):
    """Commit everything, dated `when` (ISO) if given, else now."""
    env = {**os.environ, **({"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when} if when else {})}
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), *GIT, "commit", "-qm", message], check=True, env=env)


def test_changes_say_what_happened_to_each_article(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(MINI_KB, kb)
    subprocess.run(["git", "-C", str(tmp_path), "init", "-q"], check=True)
    commit(tmp_path, "base", when="2026-01-05T10:00:00")

    cancel = kb / "articles/before-shipment/cancel-order.md"
    text = cancel.read_text(encoding="utf-8")
    text = text.replace(
        "  - 通知仓库拦截订单。\n", "  - 通知仓库拦截订单。\n  - 备注订单已拦截。\n"
    )
    text = text.replace("已拦截，款项", "已为您拦截，款项")
    text = text.replace("owner:", "examples: [刚拍的还没发 不要了]\nowner:")
    cancel.write_text(text, encoding="utf-8")
    (kb / "articles/product-issues/damaged-item.md").unlink()
    commit(tmp_path, "edit cancel-order, drop damaged-item")

    found = {c.article_id: c for c in changes_since(kb, dt.date.today())}

    assert set(found) == {"cancel-order", "damaged-item"}
    assert "新增或改写 1 个步骤" in found["cancel-order"].summary
    assert "修改回复 confirm-cancel" in found["cancel-order"].summary
    assert "买家问法示例更新" in found["cancel-order"].summary
    assert found["damaged-item"].summary == ("已删除",)
    assert found["cancel-order"].last_changed == dt.date.today().isoformat()


def test_nothing_changed_since_a_future_date(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(MINI_KB, kb)
    subprocess.run(["git", "-C", str(tmp_path), "init", "-q"], check=True)
    commit(tmp_path, "base")

    assert changes_since(kb, dt.date.today() + dt.timedelta(days=1)) == []
    assert {c.summary for c in changes_since(kb, dt.date.today())} == {("新文章",)}
