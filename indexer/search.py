"""From a case description to ranked procedures, each with the reasons it ranks where it does.

Query design (see MEASURED.md): the query is built in code from analyser tokens, never parsed
(user text is not query syntax); chat noise is dropped; synonyms add the articles' own words;
character bigrams catch segmentation differences and typos; facts read from the case move
articles whose `applies_when` agrees up and those that contradict it down.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from indexer import analysis, layout
from indexer.conditions import condition_holds, describe
from indexer.extract import Evidence, extract_facts, extract_slots
from indexer.field_weights import TEXT_FIELDS
from indexer.impacts import ImpactIndex, QueryTerm
from indexer.markup import show_value as _show
from indexer.model import Article, KnowledgeBase
from indexer.snapshot import read_snapshot

MAX_ANALYSED_CHARS = 2000  # longer cases are cut here: the gist of a chat message comes first
CANDIDATES = 40  # BM25 candidates re-ranked with facts
SYNONYM_BOOST = 0.8
GRAM_BOOST = 2.0
PINYIN_BOOST = 2.0
# Re-ranking, relative to the best BM25 score of the query (so 0.3 = 30 % of the top score).
FACT_MATCH_BONUS = 0.3
FACT_CONFLICT_PENALTY = 0.45
# A policy not yet in force (即将生效) is shown, but below what applies today.
UPCOMING_WEIGHT = 0.8
# How much the closest example phrasing (an article keyword, by character-bigram cosine) adds:
# short colloquial messages often say what a keyword says with different word boundaries.
PHRASING_WEIGHT = 0.5
# Where the buyer's return parcel is (on its way back, back at our warehouse) settles that the
# case is past starting a return: refund progress or inspection, not the return procedure.
FACT_WEIGHTS = {"return_parcel": 2.0}
DEFAULT_FACT_WEIGHT = 1.0
_ASCII_WORD = re.compile(r"^[a-z]{2,12}$")
_LONG_NUMBER = re.compile(r"\d{5,}|[a-z]+\d{5,}")
_SENTENCE = re.compile(r"[^。！？!?\n；;]+[。！？!?；;]?")


class IndexNotReady(Exception):
    """No built index to search: run `kb index` first."""


@dataclass(frozen=True)
class Query:
    """A case description analysed for matching."""

    text: str
    tokens: tuple[str, ...]
    expansions: tuple[str, ...]
    pinyin: tuple[str, ...]
    grams: tuple[str, ...]
    facts: dict[str, Evidence]
    slots: dict[str, Evidence]
    overridden: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FactNote:
    """How one fact of the case bears on an article: raised (+1) or lowered (-1) it."""

    fact: str
    value: str
    effect: int
    text: str


@dataclass(frozen=True)
class Hit:
    article: Article
    score: float
    bm25: float
    matched: tuple[str, ...]
    fact_notes: tuple[FactNote, ...]
    snippet: str
    closest: str = ""  # the article keyword most like the case, if any is alike


@dataclass(frozen=True)
class SearchResult:
    query: Query
    hits: tuple[Hit, ...]
    took_ms: float
    build: dict = field(default_factory=dict)


class LoadedIndex:
    """One build, loaded: its score arrays (derived from the Whoosh index) and its KB.

    The arrays are memory-mapped read-only: a server's workers share one copy in the page
    cache, and a build directory deleted under a running server stays readable until this
    index is dropped (an unlinked file lives on while it is mapped).
    """

    def __init__(self, build_dir: Path, index_root: Path):
        self.build_dir = build_dir
        self.manifest = layout.read_manifest(build_dir)
        self.kb: KnowledgeBase = read_snapshot(build_dir / layout.SNAPSHOT_FILE)
        self.impacts = ImpactIndex(build_dir / layout.ARRAYS_DIR)
        self.articles = {a.id: a for a in self.kb.articles}
        if set(self.impacts.docs) != set(self.articles):
            raise ValueError("索引与知识库快照的文章不一致")
        self.doc_number = {article_id: n for n, article_id in enumerate(self.impacts.docs)}
        # applies_when conditions by (fact, value), to find articles a case's facts agree with.
        self.by_condition: dict[tuple[str, str], list[str]] = {}
        for a in self.kb.articles:
            for fact, wanted in a.applies_when.items():
                for value in wanted:
                    self.by_condition.setdefault((fact, value), []).append(a.id)
        analysis.init_segmenter(self.kb.dict_words, index_root / layout.JIEBA_DIR)
        # Each way of saying a word, and the tokens of the word the articles use.
        self.synonyms = []
        for canonical, variants in self.kb.synonyms.items():
            canonical_tokens = tuple(analysis.cut(analysis.normalize(canonical), self.kb.stopwords))
            for variant in (canonical, *variants):
                self.synonyms.append((variant.lower(), canonical_tokens))
        # For the articles shown most recently: their normalised text (for matched words) and
        # their snippet candidates.
        self.normalized_text = lru_cache(maxsize=1024)(self._normalized_text)
        self.snippet_candidates = lru_cache(maxsize=1024)(
            lambda article_id: snippet_candidates(self.articles[article_id])
        )

    def _normalized_text(self, article_id: str) -> str:
        article = self.articles[article_id]
        return analysis.normalize(
            "\n".join(
                [
                    article.title,
                    *article.keywords,
                    *article.tags,
                    *(s.text for s in article.checklist),
                    article.body,
                ]
            )
        )

    def fact_candidates(self, facts: dict[str, Evidence], room: int) -> list[str]:
        """Up to `room` articles whose applies_when names a value the case's facts have.

        Comparisons (days_since_receipt: "> 7") are left to ranking: they qualify no article alone.
        """
        if room <= 0:
            return []
        found: dict[str, int] = {}
        for fact, evidence in facts.items():
            for article_id in self.by_condition.get((fact, _show(evidence.value)), ()):
                found[article_id] = found.get(article_id, 0) + 1
        return sorted(found, key=lambda i: (-found[i], i))[:room]


def analyse_case(
    case: str, kb: KnowledgeBase, synonyms, overrides: dict[str, str | float] | None = None
) -> Query:
    """Normalise a case, cut it, expand synonyms and read its facts and slots."""
    folded = analysis.fold(case[:MAX_ANALYSED_CHARS])
    text = folded.lower()
    slots = extract_slots(folded, kb.slots)
    facts = extract_facts(text, kb.facts, slots)
    for name, value in (overrides or {}).items():
        facts[name] = Evidence(value, "坐席指定")
    tokens, expansions, pinyin, grams = analyse_text(text, kb, synonyms)
    return Query(
        text,
        tokens,
        expansions,
        pinyin,
        grams,
        facts,
        slots,
        frozenset(overrides or ()),
    )


def analyse_text(text: str, kb: KnowledgeBase, synonyms) -> tuple[tuple[str, ...], ...]:
    """The words of normalised case text that are matched: jieba tokens (order numbers left
    out), synonym expansions, pinyin-like Latin words, character bigrams.

    `synonyms` are (variant, the canonical word's tokens) pairs (LoadedIndex.synonyms).
    """
    tokens = [
        t for t in dict.fromkeys(analysis.cut(text, kb.stopwords)) if not _LONG_NUMBER.fullmatch(t)
    ]
    present = set(tokens)
    expansions = []
    for variant, canonical_tokens in synonyms:
        if variant in text:
            for token in canonical_tokens:
                if token not in present:
                    present.add(token)
                    expansions.append(token)
    pinyin = [t for t in tokens if _ASCII_WORD.match(t)]
    grams = list(dict.fromkeys(analysis.bigrams(text)))
    return tuple(tokens), tuple(expansions), tuple(pinyin), tuple(grams)


def query_terms(query: Query) -> list[QueryTerm]:
    """The query as an OR of (field, term, boost): any term may match, none is required."""
    terms = []
    for token in query.tokens:
        terms += [(f, token, 1.0) for f in TEXT_FIELDS if f != "grams"]
    for token in query.expansions:
        terms += [(f, token, SYNONYM_BOOST) for f in TEXT_FIELDS if f != "grams"]
    terms += [("grams", g, GRAM_BOOST) for g in query.grams]
    terms += [("pinyin", p, PINYIN_BOOST) for p in query.pinyin]
    return terms


def top_documents(scores: np.ndarray, k: int) -> np.ndarray:
    """Numbers of the (at most) k best-scoring matched documents, best first; equal scores
    in document order, as Whoosh's collector ranks them."""
    matched = np.flatnonzero(scores > 0)
    if len(matched) > k:
        values = scores[matched]
        kth = np.partition(values, len(matched) - k)[len(matched) - k]
        above = matched[values > kth]
        matched = np.concatenate([above, matched[values == kth][: k - len(above)]])
    return matched[np.lexsort((matched, -scores[matched]))]


def fact_notes(article: Article, facts: dict[str, Evidence], kb: KnowledgeBase) -> list[FactNote]:
    """Facts of the case that agree (+1) or disagree (-1) with the article's applies_when."""
    notes = []
    for fact, wanted in article.applies_when.items():
        if fact not in facts:
            continue
        value = facts[fact].value
        label = kb.facts[fact].label if fact in kb.facts else fact
        shown = _show(value)
        if fact == "threat" and "reason" in facts and condition_holds(wanted, value):
            # A threat beside a concrete problem: the agent acts on the problem first and calms
            # the buyer while doing it, so the problem's own procedure should lead.
            notes.append(
                FactNote(
                    fact,
                    shown,
                    -1,
                    f"买家有具体问题（{_show(facts['reason'].value)}），"
                    f"先按该问题的流程处理，{shown}的安抚同步进行",
                )
            )
        elif condition_holds(wanted, value):
            notes.append(FactNote(fact, shown, +1, f"{label}“{shown}”符合本流程"))
        else:
            notes.append(
                FactNote(
                    fact,
                    shown,
                    -1,
                    f"{label}“{shown}”与本流程不符（适用于{describe(label, wanted)}）",
                )
            )
    platform = facts.get("platform")
    if (
        platform
        and article.platforms
        and "platform" not in article.applies_when
        and platform.value not in article.platforms
    ):
        listed = "、".join(article.platforms)
        notes.append(
            FactNote(
                "platform",
                str(platform.value),
                -1,
                f"平台“{platform.value}”不在本文适用平台（{listed}）内",
            )
        )
    return notes


def snippet_candidates(article: Article) -> list[tuple[str, str]]:
    """What a snippet can show: keywords, steps and body sentences, each with its lower case."""
    texts = [
        *article.keywords,
        *(s.text for s in article.checklist),
        *_SENTENCE.findall(article.body),
    ]
    return [(text, text.lower()) for text in texts]


def snippet(
    article: Article, terms: list[str], candidates: list[tuple[str, str]], width: int = 90
) -> str:
    """The sentence that holds most matched terms, HTML-escaped, terms wrapped in <mark>."""
    # Single characters (不, 说) match everywhere; marking them is noise unless nothing else matched.
    terms = [t for t in terms if len(t) > 1] or terms
    if not terms:
        return html.escape(article.body[:width])
    wanted = sorted(set(terms), key=len, reverse=True)
    best = max(candidates, key=lambda c: sum(1 for t in wanted if t in c[1]), default=("", ""))[0]
    best = re.sub(r"\[\[([^\]]+)\]\]|[#*`>]", "", best).strip()
    if len(best) > width:
        first = min((best.lower().find(t) for t in wanted if t in best.lower()), default=0)
        start = max(0, first - width // 3)
        best = ("…" if start else "") + best[start : start + width] + "…"
    return mark(best, wanted)


def mark(text: str, wanted: list[str]) -> str:
    """The text HTML-escaped, each occurrence of a wanted (lower-case) word in <mark>: the
    leftmost first, the longest of those starting at one place. No regex: a pattern per
    query cost more than the rest of the snippet."""
    lowered = text.lower()
    if len(lowered) != len(text):  # lower() changed a length (rare letters): mark nothing
        return html.escape(text)
    found = []
    for word in wanted:
        start = lowered.find(word) if word else -1
        while start != -1:
            found.append((start, -len(word)))
            start = lowered.find(word, start + 1)
    out, position = [], 0
    for start, negative_length in sorted(found):
        if start < position:
            continue
        end = start - negative_length
        out += [html.escape(text[position:start]), f"<mark>{html.escape(text[start:end])}</mark>"]
        position = end
    out.append(html.escape(text[position:]))
    return "".join(out)


class SearchEngine:
    """Searches the current build of an index root, switching to a new build when one appears."""

    def __init__(self, index_root: Path, today: dt.date | None = None):
        self.index_root = Path(index_root)
        self._today = today
        self._lock = threading.Lock()
        self._loaded: LoadedIndex | None = None
        self._target: str | None = None
        self.load_error: str | None = None

    def today(self) -> dt.date:
        return self._today or dt.date.today()

    def current(self) -> LoadedIndex:
        """The loaded build, reloaded when `current` points elsewhere (an atomic switch)."""
        target = layout.current_target(self.index_root)
        if target != self._target or self._loaded is None:
            with self._lock:
                if target != self._target or self._loaded is None:
                    self._reload(target)
        if self._loaded is None:
            why = f"{self.load_error}；" if self.load_error else ""
            raise IndexNotReady(f"没有可用的索引：{self.index_root}（{why}先运行 kb index）")
        # jieba's tokenizer is per process: another KB built or loaded here since (tests, tools)
        # may have swapped in one without this KB's dictionary words. Cheap when it is ours.
        analysis.init_segmenter(self._loaded.kb.dict_words, self.index_root / layout.JIEBA_DIR)
        return self._loaded

    def _reload(self, target: str | None) -> None:
        build = layout.current_build(self.index_root) if target else None
        if build is None:
            # Keep serving what we have: a deleted index directory must not take the service down.
            self.load_error = "索引目录中没有当前构建" if self._loaded else None
            self._target = target if self._loaded is None else self._target
            return
        try:
            loaded = LoadedIndex(build, self.index_root)
        except Exception as e:  # a broken build must never replace a good one
            self.load_error = f"加载构建 {build.name} 失败：{e}"
            self._target = target
            return
        self._loaded, self._target, self.load_error = loaded, target, None

    def analyse(self, case: str, overrides=None) -> Query:
        loaded = self.current()
        return analyse_case(case, loaded.kb, loaded.synonyms, overrides)

    def search(
        self, case: str, limit: int = 5, overrides: dict[str, str | float] | None = None
    ) -> SearchResult:
        """Rank the KB's active articles for a case; return the best `limit` with reasons."""
        started = time.perf_counter()
        loaded = self.current()
        query = analyse_case(case, loaded.kb, loaded.synonyms, overrides)
        hits = rank(loaded, query, limit, self.today())
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query, tuple(hits), took, loaded.manifest)


def matched_terms(loaded: LoadedIndex, article: Article, query: Query) -> list[str]:
    """Query words the article contains, longest first: what the agent sees as the match."""
    text = loaded.normalized_text(article.id)
    found = {t for t in (*query.tokens, *query.expansions) if t in text}
    return sorted(found, key=lambda t: (-len(t), t))


def rank(loaded: LoadedIndex, query: Query, limit: int, today: dt.date) -> list[Hit]:
    """BM25F candidates (top CANDIDATES), re-ranked with facts and phrasing; reasons for the best."""
    kb = loaded.kb
    scores = loaded.impacts.scores(query_terms(query))
    docs = loaded.impacts.docs
    bm25 = {docs[n]: float(scores[n]) for n in top_documents(scores, CANDIDATES)}
    # When the text alone does not fill the pool, articles whose applies_when the facts satisfy
    # join it: "pdd 怎么弄" names no procedure but its platform does.
    for article_id in loaded.fact_candidates(query.facts, CANDIDATES - len(bm25)):
        bm25.setdefault(article_id, 0.0)
    top = max(bm25.values(), default=0.0) or 1.0
    closest = loaded.impacts.closest_keywords(
        query.grams, [loaded.doc_number[article_id] for article_id in bm25]
    )
    scored = []
    for article_id, raw in bm25.items():
        article = loaded.articles[article_id]
        status = article.status_on(today)
        if status == "expired":
            continue
        notes = fact_notes(article, query.facts, kb)
        ups = sum(FACT_WEIGHTS.get(n.fact, DEFAULT_FACT_WEIGHT) for n in notes if n.effect > 0)
        downs = sum(FACT_WEIGHTS.get(n.fact, DEFAULT_FACT_WEIGHT) for n in notes if n.effect < 0)
        position, likeness = closest.get(loaded.doc_number[article_id], (0, 0.0))
        phrase = article.keywords[position] if likeness else ""
        score = (
            raw / top
            + PHRASING_WEIGHT * likeness
            + FACT_MATCH_BONUS * ups
            - FACT_CONFLICT_PENALTY * downs
        )
        if status == "upcoming":
            score *= UPCOMING_WEIGHT
        scored.append((round(score, 4), article_id, raw, notes, phrase if likeness >= 0.3 else ""))
    scored.sort(key=lambda s: (-s[0], s[1]))
    hits = []
    for score, article_id, raw, notes, phrase in scored[:limit]:
        article = loaded.articles[article_id]
        terms = matched_terms(loaded, article, query)
        hits.append(
            Hit(
                article,
                score,
                round(raw, 3),
                tuple(terms),
                tuple(notes),
                snippet(article, terms, loaded.snippet_candidates(article.id)),
                phrase,
            )
        )
    return hits
