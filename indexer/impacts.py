"""Score arrays derived from a build's Whoosh index: what a query adds up when it is served.

Whoosh is the index: the build writes it, and this module reads its postings, document
lengths and statistics and scores every posting once with Whoosh's own BM25F (`scoring.bm25`,
the same idf, average lengths and field boosts). A query's score for an article is then the
sum of its terms' precomputed scores (times each term's query boost), which is exactly what
Whoosh computes for an OR of Term queries, done by numpy over arrays instead of Whoosh's
matchers in Python: at 10,000 articles Whoosh took ~100 ms a query, mostly per-posting Python
calls; the arrays take well under 1 ms (bench/README.md). `tests/test_impacts.py` checks the
scores equal Whoosh's search scores.

Files, in `<build>/arrays/`, memory-mapped read-only so the workers of a server share one copy
in the page cache:
    terms.json            docs (article ids by document number), {field: [term, ...]} and
                          [keyword bigram, ...], each list in the order of its runs below
    term_offsets.npy      int64 start of each term's run (and the end of the last)
    term_docs.npy         document numbers (uint16 up to 65,536 documents, else int32), one run
                          per term (sorted)
    term_scores.npy       float32 BM25F score of that term in that document
    gram_offsets.npy      int64 start of each keyword bigram's run (and the end of the last)
    keyword_ids.npy       int32 keyword numbers, one run per keyword bigram
    keyword_doc.npy       int32 document number of each keyword (keywords in document order)
    keyword_size.npy      int32 number of distinct bigrams of each keyword

The keyword arrays serve "closest example phrasing" (the keyword whose character bigrams are
most like the case's, by cosine), which otherwise needs a set of bigrams per keyword in every
worker (120 MB at 10,000 articles).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from whoosh import index, scoring

from indexer import analysis, parallel, whoosh_segments

# A term of a query: field, text, query boost.
QueryTerm = tuple[str, str, float]


def derive(whoosh_dir: Path, articles: Sequence[tuple[str, Sequence[str]]], out_dir: Path) -> int:
    """Write the score arrays of the Whoosh index in `whoosh_dir` to `out_dir`.

    `articles` are (id, keywords) in the KB's order, which numbers the documents here: a
    build written by parallel Whoosh writers holds them in whatever order its segments got
    them, and equal scores must rank the same way in every build. Fields are scored on every
    core for a big KB. Returns the number of postings scored.
    """
    global _job
    out_dir.mkdir()
    doc_ids = [article_id for article_id, _ in articles]
    ours = {article_id: n for n, article_id in enumerate(doc_ids)}
    ix = index.open_dir(str(whoosh_dir))
    try:
        with ix.reader() as reader:
            n_docs = reader.doc_count_all()
            # Whoosh's document number -> ours.
            renumber = np.array(
                [ours.get(reader.stored_fields(d)["id"], -1) for d in range(n_docs)],
                dtype=np.int64,
            )
            # A multi-segment reader lists its fields from a set: sort them, for stable files.
            fields = sorted(set(reader.indexed_field_names()) - {"id", "category"})
    finally:
        ix.close()
    if n_docs != len(doc_ids) or len(set(renumber.tolist()) - {-1}) != n_docs:
        raise ValueError("Whoosh 索引中的文章与知识库不一致")
    _job = (str(whoosh_dir), renumber)
    try:
        big = n_docs >= parallel.PARALLEL_MIN_ITEMS
        runs = list(parallel.fork_imap(_field_runs, fields, parallel=big))
    finally:
        _job = None
    fields_table = {field: terms for field, (terms, _, _, _) in zip(fields, runs, strict=True)}
    term_offsets = np.concatenate([[0], np.cumsum(np.concatenate([r[1] for r in runs]))])
    docs_runs = [r[2] for r in runs]
    score_runs = [r[3] for r in runs]
    keyword_doc, keyword_size, gram_runs = [], [], {}
    for doc, (_, phrases) in enumerate(articles):
        for phrase in phrases:
            grams = set(analysis.bigrams(analysis.normalize(phrase)))
            for gram in grams:
                gram_runs.setdefault(gram, []).append(len(keyword_doc))
            keyword_doc.append(doc)
            keyword_size.append(len(grams))
    gram_offsets, keyword_ids = [0], []
    for ids in gram_runs.values():
        keyword_ids.extend(ids)
        gram_offsets.append(len(keyword_ids))
    _save(out_dir / "term_offsets.npy", term_offsets.astype(np.int64))
    # Two bytes a posting instead of four up to 65,536 articles: a tenth of a worker's memory.
    doc_type = np.uint16 if n_docs <= np.iinfo(np.uint16).max + 1 else np.int32
    _save(out_dir / "term_docs.npy", _concat(docs_runs, doc_type))
    _save(out_dir / "term_scores.npy", _concat(score_runs, np.float32))
    _save(out_dir / "gram_offsets.npy", np.array(gram_offsets, dtype=np.int64))
    _save(out_dir / "keyword_ids.npy", np.array(keyword_ids, dtype=np.int32))
    _save(out_dir / "keyword_doc.npy", np.array(keyword_doc, dtype=np.int32))
    _save(out_dir / "keyword_size.npy", np.array(keyword_size, dtype=np.int32))
    (out_dir / "terms.json").write_text(
        json.dumps(
            {"docs": doc_ids, "fields": fields_table, "keyword_grams": list(gram_runs)},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return int(term_offsets[-1])


_job: tuple | None = None  # (Whoosh folder, Whoosh doc number -> ours), for forked workers


def _field_runs(field: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """One field's terms, and per term its run length, documents (ours) and scores."""
    whoosh_dir, renumber = _job
    weighting = scoring.BM25F()
    terms, counts, docs, scores_ = [], [], [], []
    ix = index.open_dir(whoosh_dir)
    try:
        with ix.searcher(weighting=weighting) as searcher:
            reader = searcher.reader()
            leaves = reader.leaf_readers()
            scorable = reader.schema[field].scorable
            if scorable:
                lengths = np.array(
                    [reader.doc_field_length(d, field, 1) for d in range(reader.doc_count_all())],
                    dtype=np.float64,
                )
                avgfl = searcher.avg_field_length(field) or 1
                b = whoosh_segments.field_b(weighting, field)
            for raw in reader.lexicon(field):
                ids, weights = whoosh_segments.postings(leaves, field, raw)
                if scorable:
                    idf = searcher.idf(field, raw.decode("utf-8"))
                    scores = scoring.bm25(idf, weights, lengths[ids], avgfl, b, weighting.K1)
                else:  # Whoosh scores a term of an unscored field by its weight
                    scores = weights
                ids = renumber[ids]
                order = np.argsort(ids, kind="stable")
                terms.append(raw.decode("utf-8"))
                counts.append(len(ids))
                docs.append(ids[order])
                scores_.append(scores[order].astype(np.float32))
    finally:
        ix.close()
    empty = np.zeros(0)
    return (
        terms,
        np.array(counts, dtype=np.int64),
        np.concatenate(docs) if docs else empty.astype(np.int64),
        np.concatenate(scores_) if scores_ else empty.astype(np.float32),
    )


def _concat(runs: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(runs).astype(dtype) if runs else np.zeros(0, dtype=dtype)


def _save(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)


def mapped(path: Path) -> np.ndarray:
    """A build's array, memory-mapped read-only, as a plain view of the mapping: slicing a
    np.memmap makes a memmap object per slice, a fifth of the scoring time on the starter KB."""
    return np.asarray(np.load(path, mmap_mode="r", allow_pickle=False))


class ImpactIndex:
    """The arrays of one build, memory-mapped, and the two sums a query needs from them."""

    def __init__(self, directory: Path):
        table = json.loads((directory / "terms.json").read_text(encoding="utf-8"))
        self.docs: list[str] = table["docs"]
        # term -> its run's number, per field; runs are numbered across fields in file order.
        self.fields: dict[str, dict[str, int]] = {}
        for field, terms in table["fields"].items():
            first = sum(map(len, self.fields.values()))
            self.fields[field] = {term: n for n, term in enumerate(terms, first)}
        self.keyword_grams = {gram: n for n, gram in enumerate(table["keyword_grams"])}

        def load(name: str) -> np.ndarray:
            return mapped(directory / name)

        self.term_offsets = load("term_offsets.npy")
        self.gram_offsets = load("gram_offsets.npy")
        self.term_docs = load("term_docs.npy")
        self.term_scores = load("term_scores.npy")
        self.keyword_ids = load("keyword_ids.npy")
        self.keyword_doc = load("keyword_doc.npy")
        self.keyword_size = load("keyword_size.npy").astype(np.float64)
        # First keyword of each document (keywords are stored in document order).
        self.keyword_start = np.searchsorted(self.keyword_doc, np.arange(len(self.docs) + 1))

    def scores(self, terms: Iterable[QueryTerm]) -> np.ndarray:
        """Each document's score for an OR of the terms: the sum of the matching terms' scores
        times their boosts, as Whoosh's BM25F gives it (0 where nothing matched)."""
        docs, scores = [], []
        for field, text, boost in terms:
            run = self.fields.get(field, {}).get(text)
            if run is None:
                continue
            start, stop = self.term_offsets[run], self.term_offsets[run + 1]
            docs.append(self.term_docs[start:stop])
            part = self.term_scores[start:stop]
            scores.append(part * boost if boost != 1.0 else part)
        if not docs:
            return np.zeros(len(self.docs))
        return np.bincount(
            np.concatenate(docs),
            weights=np.concatenate(scores).astype(np.float64),
            minlength=len(self.docs),
        )

    def closest_keywords(self, grams: Iterable[str], docs: Iterable[int]) -> dict[int, tuple]:
        """For each document, its keyword most like the case by character-bigram cosine:
        {doc: (keyword position within the document's keywords, cosine)}; the first keyword
        wins a tie. Documents with no keyword sharing a bigram are left out."""
        grams = set(grams)
        runs = [self.keyword_grams[g] for g in grams if g in self.keyword_grams]
        if not runs:
            return {}
        offsets = self.gram_offsets
        overlap = np.bincount(
            np.concatenate([self.keyword_ids[offsets[n] : offsets[n + 1]] for n in runs]),
            minlength=len(self.keyword_size),
        )
        # Only keywords that share a bigram with the case and belong to a wanted document:
        # a few hundred, where every keyword of the KB is ~60,000 at 10,000 articles.
        shared = np.flatnonzero(overlap)
        owner = self.keyword_doc[shared]
        keep = np.isin(owner, np.fromiter(docs, dtype=np.int64))
        shared, owner = shared[keep], owner[keep]
        cosine = overlap[shared] / np.sqrt(len(grams) * self.keyword_size[shared])
        # Per document its best keyword; on a tie the first (lowest keyword number).
        order = np.lexsort((shared, -cosine, owner))
        first = np.ones(len(order), dtype=bool)
        first[1:] = owner[order][1:] != owner[order][:-1]
        best = {}
        for i in order[first]:
            doc = int(owner[i])
            best[doc] = (int(shared[i] - self.keyword_start[doc]), float(cosine[i]))
        return best
