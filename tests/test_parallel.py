"""Loading on every core gives what loading in one process gives: the same articles, the same
problems in the same order, each naming its file and line."""

from __future__ import annotations

import sys

import pytest

from assist_app.settings import PROJECT_ROOT
from indexer import parallel
from indexer.lint import lint_kb

sys.path.insert(0, str(PROJECT_ROOT))
from bench.generate import generate  # noqa: E402

# A generated KB loaded on every core: slow (`make test-fast` skips it).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_kb(tmp_path_factory):
    kb_dir = tmp_path_factory.mktemp("big") / "kb"
    generate(PROJECT_ROOT / "kb", kb_dir, articles=300, seed=3, cases=10)
    articles = sorted((kb_dir / "articles").rglob("*.md"))
    # Two broken files far apart: a YAML error, and a missing required key.
    articles[5].write_text("---\ntitle: [未闭合\n---\n正文\n", encoding="utf-8")
    text = articles[250].read_text(encoding="utf-8")
    articles[250].write_text(text.replace("\nowner:", "\nowner_typo:", 1), encoding="utf-8")
    return kb_dir, articles


def test_loading_on_every_core_reports_what_one_process_reports(big_kb, monkeypatch):
    kb_dir, broken = big_kb
    kb_multi, problems_multi = lint_kb(kb_dir)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ITEMS", 10**9)
    kb_single, problems_single = lint_kb(kb_dir)

    assert kb_multi == kb_single
    assert [p.format() for p in problems_multi] == [p.format() for p in problems_single]
    errors = [p for p in problems_multi if p.level == "error"]
    assert {p.path for p in errors} >= {
        str(broken[5].relative_to(kb_dir.parent)),
        str(broken[250].relative_to(kb_dir.parent)),
    }
    assert len(kb_multi.articles) == 298
