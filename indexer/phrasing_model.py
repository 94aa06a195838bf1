"""A model of how each article is asked about, learned from the KB's own phrasings.

BM25 scores the words a case shares with an article; buyers often share few (椅子腿断了 and
坏了 have no word in common). This model reads every article's title, tags, keywords and
`examples` (whole messages as buyers write them, by editors) as phrasings of how it is asked
about, and scores a case by how likely its characters are under each article's phrasings: a
multinomial naive Bayes over character unigrams and bigrams, the classic text classifier that
needs no training loop and learns from a few dozen phrasings.
It is rebuilt with the index, so an editor who adds a phrasing teaches it (`kb check` shows
the effect); nothing in it comes from code. Phrasings that belong to no article (the
out-of-scope topics' phrases and example messages in facts.yaml) are counted on the same
vocabulary when a build is loaded (`outside`), so a case can be asked whether it reads more
like them than like its first procedure.

Files, in `<build>/arrays/` next to the score arrays, memory-mapped read-only (a worker holds
no Python set of grams, which would be millions of objects at 10,000 articles):
    model_grams.npy        int64 the vocabulary, sorted: a character's code point, or a
                           bigram's (first × 0x110000 + second)
    model_doc_offsets.npy  int64 start of each document's row (and the end of the last)
    model_doc_grams.npy    int32 the grams a document's phrasings use, as positions in the
                           vocabulary (sorted within a row)
    model_doc_counts.npy   float32 how often they use each
    model_totals.npy       float64 grams in each document's phrasings
A case is scored against a few dozen candidate documents, so the counts are kept by document:
the candidates' rows are read in one go, however many grams a case has (a pasted chat of 2,000
characters has some 2,000; read gram by gram they took 15 ms, now 2 ms).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer import analysis
from indexer.impacts import mapped

_CODES = 0x110000  # code points: a bigram's code is first × _CODES + second


def _letters(text: str) -> list[int]:
    """Code points of a text's letters, digits and Chinese characters, normalised; a run of
    one character counts as its first eight, as the words do (analysis.squeeze_runs)."""
    return [ord(c) for c in analysis.squeeze_runs(analysis.normalize(text)) if c.isalnum()]


def model_grams(text: str) -> Counter[int]:
    """Character unigrams and bigrams of a text's letters, digits and Chinese characters,
    across word boundaries (a chat message has few spaces where words end), as codes."""
    codes = _letters(text)
    grams = Counter(codes)
    grams.update(a * _CODES + b for a, b in zip(codes, codes[1:], strict=False))
    return grams


def derive(phrasings: Sequence[Sequence[str]], out_dir: Path) -> None:
    """Write the model of documents whose phrasings are `phrasings` (in document order).

    The grams of model_grams, counted for every document at once with numpy: a 10,000-article
    KB has some 250,000 phrasings, and a Counter per phrasing took a tenth of the build."""
    letters: list[int] = []  # every phrasing's letters, each phrasing followed by -1
    owners: list[int] = []  # the document of each entry of letters
    for doc, phrases in enumerate(phrasings):
        for phrase in phrases:
            codes = _letters(phrase)
            letters.extend(codes)
            letters.append(-1)  # no bigram spans two phrasings
            owners.extend([doc] * (len(codes) + 1))
    text = np.array(letters, dtype=np.int64)
    owner = np.array(owners, dtype=np.int64)
    letter = text >= 0
    pair = letter[:-1] & letter[1:]
    grams = np.concatenate([text[letter], text[:-1][pair] * _CODES + text[1:][pair]])
    docs = np.concatenate([owner[letter], owner[:-1][pair]])
    order = np.lexsort((grams, docs))
    grams, docs = grams[order], docs[order]
    # One entry per (document, gram) with how often it occurs there, by document.
    starts = np.flatnonzero(_changes(docs, grams))
    counts = np.diff(np.append(starts, len(grams)))
    grams, docs = grams[starts], docs[starts]
    vocabulary, positions = np.unique(grams, return_inverse=True)
    totals = np.bincount(docs, weights=counts, minlength=len(phrasings)).astype(np.float64)
    offsets = np.searchsorted(docs, np.arange(len(phrasings) + 1))
    np.save(out_dir / "model_grams.npy", vocabulary.astype(np.int64))
    np.save(out_dir / "model_doc_offsets.npy", offsets.astype(np.int64))
    np.save(out_dir / "model_doc_grams.npy", positions.astype(np.int32))
    np.save(out_dir / "model_doc_counts.npy", counts.astype(np.float32))
    np.save(out_dir / "model_totals.npy", totals)


def _changes(*keys: np.ndarray) -> np.ndarray:
    """Where sorted rows start a new key: True at the first row and wherever a key changes."""
    first = np.zeros(len(keys[0]), dtype=bool)
    first[:1] = True
    for key in keys:
        first[1:] |= key[1:] != key[:-1]
    return first


@dataclass(frozen=True)
class OutsidePhrasings:
    """Phrasings of what no document covers, as counts of the model's known grams."""

    runs: np.ndarray  # int64 positions in the model's vocabulary, sorted
    counts: np.ndarray  # float64 how often the phrasings use each
    total: float  # grams in the phrasings, known or not


class PhrasingModel:
    """One build's phrasing model, memory-mapped; scores a case against chosen documents."""

    def __init__(self, directory: Path):
        self.vocabulary = mapped(directory / "model_grams.npy")
        self.doc_offsets = mapped(directory / "model_doc_offsets.npy")
        self.doc_grams = mapped(directory / "model_doc_grams.npy")
        self.doc_counts = mapped(directory / "model_doc_counts.npy")
        self.totals = mapped(directory / "model_totals.npy")

    def _known_grams(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The case's grams the phrasings know: their runs (positions in the vocabulary) and
        how often the case uses each."""
        return self._known(model_grams(text))

    def _known(self, grams: Counter[int]) -> tuple[np.ndarray, np.ndarray]:
        """Of counted grams, those the phrasings know: their runs and counts."""
        codes = np.fromiter(grams.keys(), dtype=np.int64, count=len(grams))
        times = np.fromiter(grams.values(), dtype=np.float64, count=len(grams))
        runs = np.searchsorted(self.vocabulary, codes)
        known = runs < len(self.vocabulary)
        known[known] = self.vocabulary[runs[known]] == codes[known]
        return runs[known], times[known]

    def likelihoods(self, text: str, docs: np.ndarray, smoothing: float) -> np.ndarray:
        """Per document of `docs`: the mean log-probability of the case's known grams under
        that document's phrasings (additive smoothing), so cases of any length compare;
        all zeros when the case has no gram the phrasings know."""
        runs, times = self._known_grams(text)
        if not len(runs) or not len(docs):
            return np.zeros(len(docs))
        order = np.argsort(runs)
        runs, times = runs[order], times[order]
        # The wanted documents' rows, end to end, and which document each entry is of.
        starts = self.doc_offsets[docs]
        lengths = self.doc_offsets[docs + 1] - starts
        ends = np.cumsum(lengths)
        entries = np.repeat(starts - (ends - lengths), lengths) + np.arange(ends[-1])
        owner = np.repeat(np.arange(len(docs)), lengths)
        # An entry whose gram the case uses gains for its document, once per use in the case.
        grams = self.doc_grams[entries]
        where = np.searchsorted(runs, grams)
        used = where < len(runs)
        used[used] = runs[where[used]] == grams[used]
        gains = times[where[used]] * np.log1p(self.doc_counts[entries[used]] / smoothing)
        seen = np.bincount(owner[used], weights=gains, minlength=len(docs))
        # Every gram costs log(smoothing / (total + smoothing × |V|)) in every document; the
        # grams a document's phrasings hold gain log(1 + count / smoothing) over that.
        size = times.sum()
        unseen = size * (
            np.log(smoothing) - np.log(self.totals[docs] + smoothing * len(self.vocabulary))
        )
        return (seen + unseen) / size

    def outside(self, phrasings: Sequence[str]) -> OutsidePhrasings:
        """Phrasings that belong to no document, counted on this model's vocabulary."""
        counts: Counter[int] = Counter()
        for phrase in phrasings:
            counts.update(model_grams(phrase))
        runs, weights = self._known(counts)
        order = np.argsort(runs)
        return OutsidePhrasings(runs[order], weights[order], float(sum(counts.values())))

    def outside_likelihood(self, text: str, outside: OutsidePhrasings, smoothing: float) -> float:
        """The case's mean log-probability under `outside` phrasings, on the same scale as
        `likelihoods` (the same known grams and smoothing); 0.0 when no gram is known."""
        runs, times = self._known_grams(text)
        if not len(runs):
            return 0.0
        where = np.searchsorted(outside.runs, runs)
        found = where < len(outside.runs)
        found[found] = outside.runs[where[found]] == runs[found]
        counts = np.zeros(len(runs))
        counts[found] = outside.counts[where[found]]
        total = outside.total + smoothing * len(self.vocabulary)
        return float((times * np.log((counts + smoothing) / total)).sum() / times.sum())

    def preference(
        self, text: str, docs: np.ndarray, smoothing: float, sharpness: float
    ) -> np.ndarray:
        """How much the model prefers each of `docs` for the case: a softmax over them of
        the likelihoods, summing to 1 (equal shares when the case has no known gram)."""
        return shares(self.likelihoods(text, docs, smoothing), sharpness)


def shares(likelihoods: np.ndarray, sharpness: float) -> np.ndarray:
    """A softmax of likelihoods (PhrasingModel.likelihoods) times `sharpness`, summing to 1."""
    if len(likelihoods) == 0:
        return np.zeros(0)
    scaled = likelihoods * sharpness
    exp = np.exp(scaled - scaled.max())
    return exp / exp.sum()
