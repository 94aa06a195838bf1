"""`kb serve --watch`: the index follows edits to the KB files (real builds on the mini KB)."""

from __future__ import annotations

import threading

import pytest
from kb_helpers import copy_mini_kb, edit

from assist_app.watch import KbWatcher
from indexer.build import build_index
from indexer.freshness import changed_since_build, fingerprint
from indexer.layout import current_build
from indexer.search import SearchEngine

ARTICLE = "articles/product-issues/damaged-item.md"


@pytest.fixture
def watched(tmp_path):
    """The mini KB, its index and a watcher polling every 0.1 s; its messages and a signal
    per finished build attempt."""
    kb = copy_mini_kb(tmp_path)
    root = tmp_path / "index"
    build_index(kb, root)
    said: list[str] = []
    attempted = threading.Semaphore(0)

    def say(line: str) -> None:
        said.append(line)
        if "索引" in line and ("重建" in line):
            attempted.release()

    watcher = KbWatcher(kb, root, say, poll_seconds=0.1)
    watcher.start()
    yield kb, root, said, attempted
    watcher.stop()
    watcher.join(timeout=10)


def test_an_edit_is_searchable_without_running_kb_index(watched):
    kb, root, said, attempted = watched
    engine = SearchEngine(root)
    case = "蓝鲸宝宝"
    assert engine.search(case, 5).hits == ()
    before = current_build(root)

    edit(kb / ARTICLE, "  - 收到就碎了\n", "  - 收到就碎了\n  - 蓝鲸宝宝\n")

    assert attempted.acquire(timeout=60), f"no rebuild after the edit: {said}"
    assert current_build(root) != before
    assert engine.search(case, 5).hits[0].article.id == "damaged-item"
    assert any("索引已重建" in line for line in said)
    assert changed_since_build(kb, current_build(root)) == []


def test_a_broken_edit_keeps_the_last_good_index_and_says_why(watched):
    kb, root, said, attempted = watched
    before = current_build(root)

    edit(kb / ARTICLE, "category: product-issues", "category: nowhere")

    assert attempted.acquire(timeout=60), f"no build attempt after the edit: {said}"
    assert current_build(root) == before
    assert any(ARTICLE in line and "category-unknown" in line for line in said), said
    assert any("没有重建" in line for line in said)


def test_editor_backup_files_and_eval_sets_are_not_the_kb(tmp_path):
    kb = copy_mini_kb(tmp_path)
    before = fingerprint(kb)
    (kb / "articles" / "product-issues" / ".damaged-item.md.swp").write_text("x", "utf-8")
    (kb / "articles" / "product-issues" / "damaged-item.md~").write_text("x", "utf-8")
    (kb / "eval").mkdir(exist_ok=True)
    (kb / "eval" / "more.yaml").write_text("- case: x\n", "utf-8")
    (kb / "articles" / "product-issues" / ".#damaged-item.md").write_text("x", "utf-8")
    (kb / "articles" / ".drafts").mkdir()
    (kb / "articles" / ".drafts" / "new-idea.md").write_text("x", "utf-8")
    assert fingerprint(kb) == before
    (kb / ARTICLE).unlink()
    assert fingerprint(kb) != before


def test_articles_in_any_folder_and_the_kb_files_are_the_kb(tmp_path):
    kb = copy_mini_kb(tmp_path)
    before = fingerprint(kb)
    nested = kb / "articles" / "product-issues" / "seasonal" / "spring"
    nested.mkdir(parents=True)
    (nested / "new.md").write_text("x", "utf-8")
    with_nested = fingerprint(kb)
    assert with_nested != before
    assert "articles/product-issues/seasonal/spring/new.md" in {name for name, *_ in with_nested}
    synonyms = kb / "synonyms.yaml"
    synonyms.write_text(synonyms.read_text("utf-8") + "\n", "utf-8")
    assert fingerprint(kb) != with_nested
