"""The search path under threads, as `kb serve` runs it (a pool of threads per worker): every
answer is the one the same case gets alone.

MEASURED.md saw one Whoosh searcher shared by four threads give exceptions and wrong results;
serving no longer touches Whoosh (score arrays, memory-mapped read-only), and this holds the
rest of the path to the same standard: jieba, OpenCC, pinyin, the caches, the engine's reload.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
from kb_helpers import SHOP_KB

from assist_app.assist import assist
from indexer.build import build_index
from indexer.layout import current_build
from indexer.search import SearchEngine

THREADS = 8


def answer_of(engine: SearchEngine, case: str) -> tuple:
    answer = assist(engine, case)
    return (
        tuple((r["id"], r["score"]) for r in answer["results"]),
        tuple(sorted(answer["facts"].items())),
        tuple(sorted(answer["slots"].items())),
    )


def fixture_cases(engine: SearchEngine) -> list[str]:
    """Cases for the shop fixture KB: each keyword of its articles, with an order number and a
    platform so slots and facts are read too."""
    articles = engine.current().kb.articles
    return [f"{kw} 拼多多 订单3900581274630918275" for a in articles for kw in a.keywords]


def test_concurrent_answers_are_the_answers_alone(engine):
    cases = fixture_cases(engine)
    alone = {case: answer_of(engine, case) for case in cases}

    with ThreadPoolExecutor(THREADS) as pool:
        together = list(pool.map(lambda case: answer_of(engine, case), cases * 4))

    assert together == [alone[case] for case in cases * 4]


@pytest.mark.slow
def test_threads_searching_through_a_rebuild_get_one_build_or_the_other(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(SHOP_KB, kb)
    root = tmp_path / "index"
    build_index(kb, root)
    engine = SearchEngine(root)
    cases = fixture_cases(engine)
    before = {case: answer_of(engine, case) for case in cases}

    with ThreadPoolExecutor(THREADS) as pool:
        running = pool.map(lambda case: answer_of(engine, case), cases * 6)
        build_index(kb, root)  # the same KB again: a new build, the same answers
        together = list(running)

    assert together == [before[case] for case in cases * 6]
    assert engine.current().build_dir == current_build(root)
