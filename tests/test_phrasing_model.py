"""The phrasing model: learned from the articles' own phrasings at build time, it prefers the
article whose examples share the case's characters, and an editor's new phrasing teaches it."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from kb_helpers import copy_mini_kb, edit

from indexer import phrasing_model
from indexer.build import build_index
from indexer.phrasing_model import PhrasingModel
from indexer.query import query_terms
from indexer.search import SearchEngine

FURNITURE = ["椅子腿断了", "桌面裂开了", "柜门掉下来了"]
PARCEL = ["快递还没到", "物流三天不动了", "包裹到哪了"]


def model_of(tmp_path, *phrasings) -> PhrasingModel:
    out = tmp_path / "arrays"
    out.mkdir()
    phrasing_model.derive(phrasings, out)
    return PhrasingModel(out)


# Phrasings drawn from a few characters, so grams repeat within and across documents: Chinese,
# traditional (folded to simplified), full-width digits, Latin, punctuation and line breaks.
PHRASE = st.text(alphabet="椅子腿断快递臺灣ａＢ１2 ，!\n", max_size=12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(PHRASE, max_size=4), max_size=5))
def test_the_built_counts_are_the_grams_a_case_is_read_by(tmp_path_factory, phrasings):
    # derive counts every document at once; a case is read with model_grams: the two must
    # agree gram for gram, or an article's own words would not score as its own.
    out = tmp_path_factory.mktemp("arrays")
    phrasing_model.derive(phrasings, out)
    model = PhrasingModel(out)
    built = [Counter() for _ in phrasings]
    for doc in range(len(phrasings)):
        start, stop = model.doc_offsets[doc], model.doc_offsets[doc + 1]
        positions = model.doc_grams[start:stop].tolist()
        assert positions == sorted(set(positions))  # each gram once, in vocabulary order
        for position, n in zip(positions, model.doc_counts[start:stop].tolist(), strict=True):
            built[doc][int(model.vocabulary[position])] += n
    for doc, phrases in enumerate(phrasings):
        wanted = sum((phrasing_model.model_grams(p) for p in phrases), Counter())
        assert built[doc] == wanted
        assert model.totals[doc] == sum(wanted.values())


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(PHRASE, max_size=4), min_size=1, max_size=5),
    PHRASE,
    st.data(),
)
def test_likelihoods_are_the_smoothed_mean_log_probability_of_the_case(
    tmp_path_factory, phrasings, case, data
):
    # Read by document rows for speed; checked against the formula, gram by gram, for any
    # choice and order of documents.
    out = tmp_path_factory.mktemp("arrays")
    phrasing_model.derive(phrasings, out)
    model = PhrasingModel(out)
    docs = data.draw(st.permutations(range(len(phrasings))).map(lambda p: np.array(p[:3])))
    counts = [sum((phrasing_model.model_grams(p) for p in ph), Counter()) for ph in phrasings]
    vocabulary = set().union(*counts)
    known = {g: n for g, n in phrasing_model.model_grams(case).items() if g in vocabulary}
    got = model.likelihoods(case, docs, 0.5)
    for doc, value in zip(docs.tolist(), got.tolist(), strict=True):
        if not known:
            assert value == 0.0
            continue
        total = sum(counts[doc].values()) + 0.5 * len(vocabulary)
        logs = sum(n * np.log((counts[doc][g] + 0.5) / total) for g, n in known.items())
        assert abs(value - logs / sum(known.values())) < 1e-6


def test_prefers_the_article_whose_phrasings_share_the_case_characters(tmp_path):
    model = model_of(tmp_path, FURNITURE, PARCEL)
    # No word in common with either article: 凳子/折断 are in no phrasing, 腿/断 are.
    shares = model.preference("凳子的腿折断了", np.array([0, 1]), 1.0, 4.0)
    assert abs(shares.sum() - 1.0) < 1e-9
    assert shares[0] > 0.8
    shares = model.preference("物流一直没动静", np.array([0, 1]), 1.0, 4.0)
    assert shares[1] > 0.8


@settings(max_examples=40, deadline=None)
@given(PHRASE, st.lists(PHRASE, min_size=1, max_size=4))
def test_phrasings_outside_every_document_read_on_the_documents_scale(
    tmp_path_factory, case, phrases
):
    # The out-of-scope topics' phrases are compared with a procedure's phrasings per
    # character: counted apart from the build, they must score a case exactly as a document
    # holding the same phrasings does, or the comparison would be biased by construction.
    out = tmp_path_factory.mktemp("arrays")
    phrasing_model.derive([FURNITURE, phrases], out)
    model = PhrasingModel(out)
    as_document = model.likelihoods(case, np.array([1]), 0.5)[0]
    outside = model.outside_likelihood(case, model.outside(phrases), 0.5)
    assert abs(outside - as_document) < 1e-6  # float32 counts in the build


def test_phrasings_outside_the_vocabulary_count_in_their_total_only(tmp_path):
    model = model_of(tmp_path, FURNITURE, PARCEL)
    known = model.outside(["椅子快递"])
    more = model.outside(["椅子快递", "账号密码"])  # no gram of 账号密码 is in any document
    assert known.runs.tolist() == more.runs.tolist()
    assert more.total > known.total
    assert model.outside_likelihood("椅子", more, 0.5) < model.outside_likelihood(
        "椅子", known, 0.5
    )
    assert model.outside_likelihood("账号密码", known, 0.5) == 0.0  # nothing it could read


def test_scores_only_the_documents_asked_for_in_their_order(tmp_path):
    model = model_of(tmp_path, FURNITURE, PARCEL, ["发票抬头开错了"])
    both = model.likelihoods("椅子断了", np.array([0, 2]), 1.0)
    reversed_ = model.likelihoods("椅子断了", np.array([2, 0]), 1.0)
    assert both.tolist() == reversed_[::-1].tolist()
    assert both[0] > both[1]


def test_a_case_with_no_known_character_leaves_the_choice_to_the_other_evidence(tmp_path):
    model = model_of(tmp_path, FURNITURE, PARCEL)
    assert model.preference("？？！！😡", np.array([0, 1]), 1.0, 4.0).tolist() == [0.5, 0.5]
    assert model.preference("qwz", np.array([0, 1]), 1.0, 4.0).tolist() == [0.5, 0.5]
    assert model.preference("椅子", np.array([], dtype=np.int64), 1.0, 4.0).size == 0


def test_the_case_length_does_not_sharpen_the_preference(tmp_path):
    model = model_of(tmp_path, FURNITURE, PARCEL)
    once = model.preference("椅子腿断了", np.array([0, 1]), 1.0, 4.0)
    thrice = model.preference("椅子腿断了 椅子腿断了 椅子腿断了", np.array([0, 1]), 1.0, 4.0)
    assert abs(once[0] - thrice[0]) < 0.05


DAMAGED = "damaged-item"
CHIPPED = "边角磕掉了一块"  # no word of the mini KB's damaged-item article


def rebuilt(kb_dir, root) -> tuple[SearchEngine, float]:
    """Build kb_dir into root: the engine, and the built model's share for CHIPPED that goes
    to damaged-item among all articles."""
    build_index(kb_dir, root)
    engine = SearchEngine(root)
    loaded = engine.current()
    shares = loaded.model.preference(CHIPPED, np.arange(len(loaded.impacts.docs)), 1.0, 4.0)
    return engine, float(shares[loaded.doc_number[DAMAGED]])


def test_an_editors_new_phrasing_teaches_the_built_model(tmp_path):
    kb_dir = copy_mini_kb(tmp_path)
    root = tmp_path / "index"
    _, before = rebuilt(kb_dir, root)
    edit(
        kb_dir / "articles/product-issues/damaged-item.md",
        "  - 收到就碎了",
        "  - 收到就碎了\n  - 边角磕坏了",
    )
    _, after = rebuilt(kb_dir, root)
    assert before < 0.5 < after


def test_a_long_run_of_one_character_weighs_as_its_first_eight(tmp_path):
    model = model_of(tmp_path, FURNITURE, ["碎了碎了"])
    eight = model.likelihoods("碎" * 8, np.array([0, 1]), 1.0)
    many = model.likelihoods("碎" * 2000, np.array([0, 1]), 1.0)
    assert eight.tolist() == many.tolist()


def test_examples_teach_the_model_and_are_not_searched_as_words(tmp_path):
    kb_dir = copy_mini_kb(tmp_path)
    root = tmp_path / "index"

    def bm25_of_chipped_word(engine: SearchEngine) -> float:
        loaded = engine.current()
        scores = loaded.impacts.scores(query_terms(engine.analyse("磕掉")))
        return float(scores[loaded.doc_number[DAMAGED]])

    engine, share_before = rebuilt(kb_dir, root)
    bm25_before = bm25_of_chipped_word(engine)
    edit(
        kb_dir / "articles/product-issues/damaged-item.md",
        "owner:",
        "examples:\n  - 桌子边角磕坏了一块 怎么弄\nowner:",
    )
    engine, share_after = rebuilt(kb_dir, root)
    assert share_before < 0.5 < share_after
    assert bm25_before == bm25_of_chipped_word(engine) == 0.0, (
        "an example is no keyword: BM25 does not see it"
    )
    assert engine.current().kb.by_id[DAMAGED].examples == ("桌子边角磕坏了一块 怎么弄",), (
        "the served snapshot carries the examples"
    )
