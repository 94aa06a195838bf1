"""Shared fixtures: the real starter KB built into a real Whoosh index on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assist_app.settings import PROJECT_ROOT, Settings
from indexer.build import build_index
from indexer.search import SearchEngine

KB_DIR = PROJECT_ROOT / "kb"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def index_root(tmp_path_factory) -> Path:
    """The starter KB indexed once per test session (read-only for tests: copy it to change it)."""
    root = tmp_path_factory.mktemp("index")
    build_index(KB_DIR, root)
    return root


@pytest.fixture(scope="session")
def engine(index_root) -> SearchEngine:
    return SearchEngine(index_root)


@pytest.fixture(scope="session")
def settings(index_root) -> Settings:
    return Settings(kb_dir=KB_DIR, index_root=index_root)


@pytest.fixture
def kb_copy(tmp_path) -> Path:
    """A writable copy of the starter KB, for tests that break or change it."""
    target = tmp_path / "kb"
    shutil.copytree(KB_DIR, target)
    return target


# --- The web layer over HTTP (tests/test_api.py, test_pages.py, test_browser.py) ---


@pytest.fixture(scope="session")
def live_server(settings) -> str:
    """The real app over the session's real index, served on 127.0.0.1; its base URL."""
    from web_helpers import serve_app

    from assist_app import create_app

    with serve_app(create_app(settings)) as url:
        yield url
