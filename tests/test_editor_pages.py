"""Editors' pages over HTTP: 最近更新 (/changes) from git history, and both pages in the nav."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import subprocess

import pytest
from web_helpers import fetch, serve_app

from assist_app import create_app
from assist_app.editor_pages import CHANGES_DEFAULT_DAYS, MAX_DAYS
from assist_app.settings import PROJECT_ROOT, Settings
from indexer.changes import changes_since

KB_DIR = PROJECT_ROOT / "kb"


@pytest.fixture
def serve(starter_index_root, tmp_path):
    """Serve the app over the session's index with a given KB folder; yield its base URL."""
    with contextlib.ExitStack() as stack:

        def start(kb_dir):
            insights = str(tmp_path / "insights.sqlite")
            app = create_app(
                Settings(kb_dir=kb_dir, index_root=starter_index_root, insights_url=insights)
            )
            return stack.enter_context(serve_app(app))

        yield start


def test_changes_lists_what_git_history_says(serve):
    base = serve(KB_DIR)
    since = dt.date.today() - dt.timedelta(days=MAX_DAYS)
    expected = changes_since(KB_DIR, since)
    assert expected, "the repository's KB has history"
    page = fetch(f"{base}/changes?since={since.isoformat()}")
    assert page.status == 200
    assert f"{len(expected)} 篇文章有变化" in page.text
    for change in expected[:5]:
        assert change.title in page.text
        assert f'href="/articles/{change.article_id}"' in page.text
    assert f'value="{since.isoformat()}"' in page.text


def test_changes_defaults_to_the_last_days(serve):
    page = fetch(f"{serve(KB_DIR)}/changes")
    default = (dt.date.today() - dt.timedelta(days=CHANGES_DEFAULT_DAYS)).isoformat()
    assert page.status == 200
    assert f"{default} 以来改过的流程" in page.text
    assert f'aria-current="page">近 {CHANGES_DEFAULT_DAYS} 天' in page.text


def test_a_bad_date_is_a_400_page_naming_the_format(serve):
    page = fetch(f"{serve(KB_DIR)}/changes?since=26/11/2026")
    assert page.status == 400 and page.content_type.startswith("text/html")
    assert "YYYY-MM-DD" in page.text and "26/11/2026" in page.text


def test_without_git_history_the_page_says_so(serve, starter_kb_copy, monkeypatch):
    # A KB copied out of the repository has no history.
    page = fetch(f"{serve(starter_kb_copy)}/changes")
    assert page.status == 200 and "不在 git 仓库中" in page.text

    # No git on the server at all.
    real_run = subprocess.run

    def no_git(args, *rest, **kwargs):
        if args and args[0] == "git":
            raise FileNotFoundError(2, "No such file or directory", "git")
        return real_run(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "run", no_git)
    page = fetch(f"{serve(KB_DIR)}/changes")
    assert page.status == 200 and "没有安装 git" in page.text


def test_both_pages_are_in_the_nav(serve):
    base = serve(KB_DIR)
    for path in ("/", "/articles", "/changes", "/insights"):
        text = fetch(f"{base}{path}").text
        assert 'href="/changes"' in text and ">最近更新</a>" in text, path
        assert 'href="/insights"' in text and ">检索洞察</a>" in text, path


def test_changes_are_read_from_git_once_per_kb_version(serve, tmp_path):
    kb = tmp_path / "repo" / "kb"
    shutil.copytree(KB_DIR, kb)
    repo = kb.parent
    git = ["git", "-C", str(repo), "-c", "user.name=e", "-c", "user.email=e@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "KB"], check=True)
    base = serve(kb)
    first = fetch(f"{base}/changes")
    assert first.status == 200 and "篇文章有变化" in first.text

    shutil.rmtree(repo / ".git")  # the history is gone: only a cached answer can list changes
    again = fetch(f"{base}/changes")

    assert again.status == 200 and again.text == first.text
    other_date = fetch(f"{base}/changes?since=2020-01-01")  # another key: read again, and fails
    assert "不在 git 仓库中" in other_date.text
