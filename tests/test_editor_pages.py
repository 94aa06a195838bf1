"""Editors' pages over HTTP: 最近更新 (/changes) from git history, and both pages in the nav.

The KB is the shop fixture KB committed into a git repository made for the test (`kb_repo`),
so the history the page reads is one the test wrote.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from kb_helpers import SHOP_KB, edit
from web_helpers import fetch, serve_app

from assist_app import create_app
from assist_app.editor_pages import CHANGES_DEFAULT_DAYS, MAX_DAYS
from assist_app.settings import Settings
from indexer.changes import changes_since


@pytest.fixture
def serve(index_root, tmp_path):
    """Serve the app over the session's index with a given KB folder; yield its base URL."""
    with contextlib.ExitStack() as stack:

        def start(kb_dir):
            insights = str(tmp_path / "insights.sqlite")
            app = create_app(Settings(kb_dir=kb_dir, index_root=index_root, insights_url=insights))
            return stack.enter_context(serve_app(app))

        yield start


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=e", "-c", "user.email=e@example.com", *args],
        check=True,
    )


@pytest.fixture
def kb_repo(tmp_path) -> Path:
    """The shop fixture KB in a new git repository: one commit adding it, one changing two
    articles; the KB folder's path."""
    kb = tmp_path / "repo" / "kb"
    shutil.copytree(SHOP_KB, kb)
    git(kb.parent, "init", "-q")
    git(kb.parent, "add", "-A")
    git(kb.parent, "commit", "-qm", "KB")
    edit(kb / "articles/in-transit/slow-delivery.md", "  - 怎么还没到\n", "  - 物流三天没动\n")
    edit(
        kb / "articles/returns-refunds/refund-progress.md",
        "银行卡比余额慢。",
        "银行卡比余额慢一些。",
    )
    git(kb.parent, "commit", "-qam", "two edits")
    return kb


def test_changes_lists_what_git_history_says(serve, kb_repo):
    base = serve(kb_repo)
    since = dt.date.today() - dt.timedelta(days=MAX_DAYS)
    expected = changes_since(kb_repo, since)
    assert {c.article_id for c in expected} == {
        p.stem for p in (SHOP_KB / "articles").rglob("*.md")
    }, "every article was added within the window"
    page = fetch(f"{base}/changes?since={since.isoformat()}")
    assert page.status == 200
    assert f"{len(expected)} 篇文章有变化" in page.text
    for change in expected[:5]:
        assert change.title in page.text
        assert f'href="/articles/{change.article_id}"' in page.text
    assert f'value="{since.isoformat()}"' in page.text


def test_changes_defaults_to_the_last_days(serve, kb_repo):
    page = fetch(f"{serve(kb_repo)}/changes")
    default = (dt.date.today() - dt.timedelta(days=CHANGES_DEFAULT_DAYS)).isoformat()
    assert page.status == 200
    assert f"{default} 以来改过的流程" in page.text
    assert f'aria-current="page">近 {CHANGES_DEFAULT_DAYS} 天' in page.text


def test_a_bad_date_is_a_400_page_naming_the_format(serve, kb_repo):
    page = fetch(f"{serve(kb_repo)}/changes?since=26/11/2026")
    assert page.status == 400 and page.content_type.startswith("text/html")
    assert "YYYY-MM-DD" in page.text and "26/11/2026" in page.text


def test_without_git_history_the_page_says_so(serve, kb_copy, kb_repo, monkeypatch):
    # A KB copied out of a repository has no history.
    page = fetch(f"{serve(kb_copy)}/changes")
    assert page.status == 200 and "不在 git 仓库中" in page.text

    # No git on the server at all.
    real_run = subprocess.run

    def no_git(args, *rest, **kwargs):
        if args and args[0] == "git":
            raise FileNotFoundError(2, "No such file or directory", "git")
        return real_run(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "run", no_git)
    page = fetch(f"{serve(kb_repo)}/changes")
    assert page.status == 200 and "没有安装 git" in page.text


def test_both_pages_are_in_the_nav(serve, kb_repo):
    base = serve(kb_repo)
    for path in ("/", "/articles", "/changes", "/insights"):
        text = fetch(f"{base}{path}").text
        assert 'href="/changes"' in text and ">最近更新</a>" in text, path
        assert 'href="/insights"' in text and ">检索洞察</a>" in text, path


def test_changes_are_read_from_git_once_per_kb_version(serve, kb_repo):
    repo = kb_repo.parent
    base = serve(kb_repo)
    first = fetch(f"{base}/changes")
    assert first.status == 200 and "篇文章有变化" in first.text

    shutil.rmtree(repo / ".git")  # the history is gone: only a cached answer can list changes
    again = fetch(f"{base}/changes")

    assert again.status == 200 and again.text == first.text
    other_date = fetch(f"{base}/changes?since=2020-01-01")  # another key: read again, and fails
    assert "不在 git 仓库中" in other_date.text
