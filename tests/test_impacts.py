"""The score arrays give what Whoosh gives: same scores, same candidates, same closest phrasing.

Checked on the starter KB and on a generated KB of 400 articles (postings longer than one of
Whoosh's blocks), for every evaluation case: Whoosh's own searcher over the build's Whoosh
index, with its BM25F, is the reference.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import yaml
from whoosh import index, scoring
from whoosh.query import Or, Term
from whoosh.writing import SegmentWriter

from assist_app.settings import PROJECT_ROOT
from indexer import analysis, build, parallel
from indexer.build import build_index
from indexer.layout import current_build
from indexer.loader import load_kb
from indexer.query import query_terms
from indexer.ranking import top_documents
from indexer.search import SearchEngine
from indexer.weights import CANDIDATES, TEXT_FIELDS
from indexer.whoosh_segments import LengthsOnceSegmentWriter, finish_segment

sys.path.insert(0, str(PROJECT_ROOT))
from bench.generate import generate  # noqa: E402


@pytest.fixture(scope="module")
def generated_root(tmp_path_factory):
    kb_dir = tmp_path_factory.mktemp("generated") / "kb"
    generate(PROJECT_ROOT / "kb", kb_dir, articles=400, seed=7, cases=120)
    root = tmp_path_factory.mktemp("generated-index")
    build_index(kb_dir, root)
    return root, kb_dir / "eval" / "cases.yaml"


def _cases(path) -> list[str]:
    return [c["case"] for c in yaml.safe_load(path.read_text(encoding="utf-8"))]


def _whoosh_scores(searcher, terms) -> dict[str, float]:
    query = Or([Term(field, text, boost=boost) for field, text, boost in terms])
    return {hit["id"]: hit.score for hit in searcher.search(query, limit=None)}


def _compare(root, cases):
    engine = SearchEngine(root)
    loaded = engine.current()
    docs = loaded.impacts.docs
    ix = index.open_dir(str(current_build(root) / "whoosh"))
    compared = 0
    with ix.searcher(weighting=scoring.BM25F()) as searcher:
        for case in cases:
            terms = query_terms(engine.analyse(case))
            if not terms:
                continue
            expected = _whoosh_scores(searcher, terms)
            scores = loaded.impacts.scores(terms)
            assert {docs[n] for n in np.flatnonzero(scores)} == set(expected), case
            for article_id, score in expected.items():
                assert scores[loaded.doc_number[article_id]] == pytest.approx(score, rel=1e-5)
            # The candidate pool: Whoosh's top CANDIDATES, allowing for float32 near-ties.
            ours = {docs[n] for n in top_documents(scores, CANDIDATES)}
            theirs = sorted(expected, key=lambda i: -expected[i])[:CANDIDATES]
            cutoff = expected[theirs[-1]]
            assert {i for i in theirs if expected[i] > cutoff * (1 + 1e-5)} <= ours, case
            compared += 1
    ix.close()
    return compared


def test_scores_equal_whooshs_on_the_starter_kb(starter_index_root):
    assert _compare(starter_index_root, _cases(PROJECT_ROOT / "kb/eval/cases.yaml")) > 250


@pytest.mark.slow
def test_scores_equal_whooshs_on_a_generated_kb(generated_root):
    root, cases = generated_root
    assert _compare(root, _cases(cases)) > 100


def test_closest_keyword_is_the_best_bigram_cosine(starter_index_root):
    engine = SearchEngine(starter_index_root)
    loaded = engine.current()
    for case in _cases(PROJECT_ROOT / "kb/eval/cases.yaml")[:80]:
        grams = frozenset(engine.analyse(case).grams)
        found = loaded.impacts.closest_keywords(grams, range(len(loaded.impacts.docs)))
        for doc, article_id in enumerate(loaded.impacts.docs):
            best, best_score = None, 0.0
            for position, keyword in enumerate(loaded.articles[article_id].keywords):
                kw = frozenset(analysis.bigrams(analysis.normalize(keyword)))
                if kw and grams:
                    score = len(grams & kw) / math.sqrt(len(grams) * len(kw))
                    if score > best_score:
                        best, best_score = position, score
            if best is None:
                assert doc not in found, (case, article_id)
            else:
                assert found[doc][0] == best, (case, article_id)
                assert found[doc][1] == pytest.approx(best_score), (case, article_id)


def test_top_documents_breaks_ties_in_document_order():
    scores = np.array([0.0, 2.0, 1.0, 2.0, 1.0, 1.0, 0.0])
    assert list(top_documents(scores, 4)) == [1, 3, 2, 4]
    assert list(top_documents(scores, 10)) == [1, 3, 2, 4, 5]
    assert list(top_documents(np.zeros(3), 2)) == []


@pytest.mark.slow
def test_a_build_on_every_core_equals_a_build_on_one(generated_root, tmp_path, monkeypatch):
    # 400 articles: one Whoosh segment per core, written by forked workers; or one segment.
    multi_root, cases = generated_root
    monkeypatch.setattr(parallel, "PARALLEL_MIN_ITEMS", 10**9)
    single_root = tmp_path / "single"
    build_index(cases.parent.parent, single_root)

    multi, single = current_build(multi_root), current_build(single_root)
    if parallel.cores() > 1:
        assert len(_segments(multi)) > 1
    assert len(_segments(single)) == 1
    for name in sorted(p.name for p in (single / "arrays").iterdir()):
        assert (multi / "arrays" / name).read_bytes() == (single / "arrays" / name).read_bytes()


def _segments(build_dir):
    ix = index.open_dir(str(build_dir / "whoosh"))
    try:
        return ix._segments()
    finally:
        ix.close()


@pytest.mark.slow
def test_our_segment_writer_writes_the_bytes_whooshs_writes(generated_root, tmp_path):
    # It only reads the field lengths once; postings, terms (with their block statistics)
    # and columns must come out byte for byte as Whoosh's own SegmentWriter writes them.
    _, cases = generated_root
    kb, _ = load_kb(cases.parent.parent)
    analysis.init_segmenter(kb.dict_words, tmp_path / "jieba")
    tokens = [build.tokenize_article(a, kb) for a in kb.articles]
    written = {}
    for name, writer_class in (("whoosh", SegmentWriter), ("ours", LengthsOnceSegmentWriter)):
        folder = tmp_path / name
        folder.mkdir()
        ix = index.create_in(str(folder), build.schema())
        writer = writer_class(ix, _lk=False, compound=False)
        for article, fields in zip(kb.articles, tokens, strict=True):
            writer.add_document(
                id=article.id,
                category=article.category,
                pinyin=" ".join(fields["pinyin"]),
                **{f: " ".join(fields[f]) for f in TEXT_FIELDS},
            )
        segment = finish_segment(writer)
        # Files are named after the segment's random id; what follows it names the part.
        written[name] = {
            p.name.removeprefix(segment.segment_id()): p.read_bytes()
            for p in folder.iterdir()
            if p.name.startswith(segment.segment_id())
        }
    assert {".pst", ".trm"} <= set(written["whoosh"])
    assert written["ours"] == written["whoosh"]
