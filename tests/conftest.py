"""Shared fixtures: knowledge bases built into real Whoosh indexes on disk.

Two KBs, for two kinds of test:
- the shop fixture KB (tests/fixtures/shop_kb/, `index_root`, `engine`, `settings`,
  `live_server`, `kb_copy`): a dozen articles written for the tests, for tests of code
  (matching mechanics, assist, the API, the pages, the CLI). Editors never change it, so these
  tests change only when the code does.
- the starter KB (kb/, the `starter_*` fixtures): for tests of the starter KB's content on
  purpose (that it lints, that its facts read real wording, that its procedures are found).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from kb_helpers import SHOP_KB

from assist_app.settings import PROJECT_ROOT, Settings
from indexer.build import build_index
from indexer.search import SearchEngine

KB_DIR = PROJECT_ROOT / "kb"
FIXTURES = Path(__file__).parent / "fixtures"


# --- The shop fixture KB: tests of code ---


@pytest.fixture(scope="session")
def index_root(tmp_path_factory) -> Path:
    """The shop fixture KB indexed once per test session (read-only: copy it to change it)."""
    root = tmp_path_factory.mktemp("shop-index")
    build_index(SHOP_KB, root)
    return root


@pytest.fixture(scope="session")
def engine(index_root) -> SearchEngine:
    return SearchEngine(index_root)


@pytest.fixture(scope="session")
def settings(index_root) -> Settings:
    return Settings(kb_dir=SHOP_KB, index_root=index_root)


@pytest.fixture
def kb_copy(tmp_path) -> Path:
    """A writable copy of the shop fixture KB, for tests that break or change it."""
    target = tmp_path / "kb"
    shutil.copytree(SHOP_KB, target)
    return target


# --- The starter KB: tests of its content ---


@pytest.fixture(scope="session")
def starter_index_root(tmp_path_factory) -> Path:
    """The starter KB indexed once per test session (read-only for tests: copy it to change it)."""
    root = tmp_path_factory.mktemp("index")
    build_index(KB_DIR, root)
    return root


@pytest.fixture(scope="session")
def starter_engine(starter_index_root) -> SearchEngine:
    return SearchEngine(starter_index_root)


@pytest.fixture(scope="session")
def starter_settings(starter_index_root) -> Settings:
    return Settings(kb_dir=KB_DIR, index_root=starter_index_root)


@pytest.fixture
def starter_kb_copy(tmp_path) -> Path:
    """A writable copy of the starter KB, for content tests that change it."""
    target = tmp_path / "kb"
    shutil.copytree(KB_DIR, target)
    return target


# --- The web layer over HTTP (tests/test_api.py, test_pages.py, test_browser.py) ---


@pytest.fixture(scope="session")
def live_server(settings) -> str:
    """The real app over the shop fixture KB's index, served on 127.0.0.1; its base URL."""
    from web_helpers import serve_app

    from assist_app import create_app

    with serve_app(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="session")
def starter_server(starter_settings) -> str:
    """The real app over the starter KB's index, served on 127.0.0.1; its base URL."""
    from web_helpers import serve_app

    from assist_app import create_app

    with serve_app(create_app(starter_settings)) as url:
        yield url
