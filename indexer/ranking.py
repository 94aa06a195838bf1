"""Rank a case's candidates: BM25F from the score arrays, re-ranked with facts, context and the
closest example phrasing; every hit says why it ranks where it does."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np

from indexer import phrasing_model
from indexer.conditions import condition_holds, describe
from indexer.extract import Evidence
from indexer.loaded import LoadedIndex
from indexer.markup import show_value
from indexer.model import OUT_OF_SCOPE_FACT, Article, KnowledgeBase
from indexer.query import Query, query_terms
from indexer.snippets import matched_terms, snippet
from indexer.weights import (
    AGENT_FACT_WEIGHT,
    CANDIDATES,
    CONTEXT_MATCH_BONUS,
    DEFAULT_FACT_WEIGHT,
    FACT_CONFLICT_PENALTY,
    FACT_MATCH_BONUS,
    FACT_WEIGHTS,
    GATE_MISSING_PENALTY,
    LATEST_TURN_MODEL_SHARE,
    MODEL_SHARPNESS,
    MODEL_SMOOTHING,
    MODEL_WEIGHT,
    OUT_OF_SCOPE_EVIDENCE,
    OUT_OF_SCOPE_READING_MARGIN,
    PHRASING_EVIDENCE,
    PHRASING_SHOWN_FROM,
    PHRASING_WEIGHT,
    SPECIALIZED_LEAD,
    STAFF_AUDIENCE_PENALTY,
    UPCOMING_WEIGHT,
)

# The fact that says a case is written by staff (an agent, the warehouse, finance, a
# wholesale customer's store), for whom back-office procedures are meant.
STAFF_FACT = "asker"


@dataclass(frozen=True)
class FactNote:
    """How one fact of the case bears on an article: raised (+1) or lowered (-1) it."""

    fact: str
    value: str
    effect: int
    text: str
    # "fact": a fact agrees or conflicts; "context": a context fact (platform, season …) agrees;
    # "gate": the case does not show the article's context; "audience": a back-office
    # procedure for a buyer's case; "version": the platform's own version of a procedure that
    # scored higher (it leads, see lead_platform_versions).
    kind: str = "fact"


@dataclass(frozen=True)
class Hit:
    article: Article
    score: float
    bm25: float
    matched: tuple[str, ...]
    fact_notes: tuple[FactNote, ...]
    snippet: str
    closest: str = ""  # the article keyword most like the case, if any is alike
    likeness: float = 0.0  # the closest keyword's character-bigram cosine with the case
    # The case's (whole buyer side's) mean log-likelihood per character under the article's
    # phrasings (indexer/phrasing_model.py).
    likelihood: float = 0.0


@dataclass(frozen=True)
class Candidate:
    """An article of the candidate pool as ranking scored it, before it becomes a Hit."""

    score: float
    article: Article
    status: str  # Article.status_on today: "active" or "upcoming" (expired ones are dropped)
    bm25: float
    notes: tuple[FactNote, ...]
    phrase: str  # the article keyword most like the case ("" when none is alike)
    likeness: float
    likelihood: float  # the case's mean log-likelihood under the article's phrasings


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
    """How the case's facts bear on the article: applies_when facts that agree (+1) or
    disagree (-1), a platform outside its list, a context it needs that the case does not show,
    and a back-office article for a buyer's case (each -1)."""
    notes = []
    for fact, wanted in article.applies_when.items():
        if fact not in facts:
            spec = kb.facts.get(fact)
            if spec is not None and spec.gate:
                notes.append(
                    FactNote(
                        fact,
                        "",
                        -1,
                        f"本流程只用于{describe(spec.label, wanted)}，案例没有说明{spec.label}",
                        "gate",
                    )
                )
            continue
        value = facts[fact].value
        label = kb.facts[fact].label if fact in kb.facts else fact
        shown = show_value(value)
        if fact == "threat" and "reason" in facts and condition_holds(wanted, value):
            # A threat beside a concrete problem: the agent acts on the problem first and calms
            # the buyer while doing it, so the problem's own procedure should lead.
            notes.append(
                FactNote(
                    fact,
                    shown,
                    -1,
                    f"买家有具体问题（{show_value(facts['reason'].value)}），"
                    f"先按该问题的流程处理，{shown}的安抚同步进行",
                )
            )
        elif condition_holds(wanted, value):
            # A context (platform, season) that agrees lets the article lead; it says little
            # about what the case is about, so it adds CONTEXT_MATCH_BONUS, not a fact's bonus.
            context = fact in kb.facts and kb.facts[fact].gate
            notes.append(
                FactNote(
                    fact, shown, +1, f"{label}“{shown}”符合本流程", "context" if context else "fact"
                )
            )
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
    if article.audience == "staff" and STAFF_FACT not in facts:
        notes.append(
            FactNote(
                "audience",
                "staff",
                -1,
                "这是内部流程（仓库、财务、批发或客服培训），案例读起来是买家的问题",
                "audience",
            )
        )
    return notes


def fact_weight(fact: str) -> float:
    """How much a fact read from the text counts (FACT_WEIGHTS, else in full)."""
    return FACT_WEIGHTS.get(fact, DEFAULT_FACT_WEIGHT)


def adjustment(notes: list[FactNote], certain: frozenset[str] = frozenset()) -> float:
    """What the notes add to an article's score (a share of the query's best BM25 score).

    A fact in `certain` (the agent set it) counts AGENT_FACT_WEIGHT: reduced weights are for
    what the text only suggests."""
    total = 0.0
    for note in notes:
        weight = fact_weight(note.fact)
        if note.fact in certain:
            weight = max(weight, AGENT_FACT_WEIGHT)
        if note.kind == "gate":
            total -= GATE_MISSING_PENALTY
        elif note.kind == "audience":
            total -= STAFF_AUDIENCE_PENALTY
        elif note.kind == "context":
            total += CONTEXT_MATCH_BONUS
        elif note.effect > 0:
            total += FACT_MATCH_BONUS * weight
        else:
            total -= FACT_CONFLICT_PENALTY * weight
    return total


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
    numbers = np.array([loaded.doc_number[article_id] for article_id in bm25], dtype=np.int64)
    closest = loaded.impacts.closest_keywords(query.grams, numbers)
    likelihoods = loaded.model.likelihoods(query.text, numbers, MODEL_SMOOTHING)
    shares = phrasing_model.shares(likelihoods, MODEL_SHARPNESS)
    if query.latest_text:
        latest = loaded.model.preference(
            query.latest_text, numbers, MODEL_SMOOTHING, MODEL_SHARPNESS
        )
        shares = (1 - LATEST_TURN_MODEL_SHARE) * shares + LATEST_TURN_MODEL_SHARE * latest
    scored = []
    for (article_id, raw), number, share, likelihood in zip(
        bm25.items(), numbers, shares, likelihoods, strict=True
    ):
        article = loaded.articles[article_id]
        status = article.status_on(today)
        if status == "expired":
            continue
        notes = fact_notes(article, query.facts, kb)
        position, likeness = closest.get(int(number), (0, 0.0))
        score = (
            raw / top
            + PHRASING_WEIGHT * likeness
            + MODEL_WEIGHT * share
            + adjustment(notes, query.overridden)
        )
        if status == "upcoming":
            score *= UPCOMING_WEIGHT
        phrase = article.keywords[position] if likeness else ""
        scored.append(
            Candidate(
                round(score, 4),
                article,
                status,
                raw,
                tuple(notes),
                phrase,
                likeness,
                float(likelihood),
            )
        )
    scored = lead_platform_versions(scored)
    scored.sort(key=lambda c: (-c.score, c.article.id))
    hits = []
    for candidate in scored[:limit]:
        article = candidate.article
        terms = matched_terms(
            loaded.normalized_text(article.id), (*query.tokens, *query.expansions)
        )
        hits.append(
            Hit(
                article,
                candidate.score,
                round(candidate.bm25, 3),
                tuple(terms),
                candidate.notes,
                snippet(article, terms, loaded.snippet_candidates(article.id)),
                candidate.phrase if candidate.likeness >= PHRASING_SHOWN_FROM else "",
                round(candidate.likeness, 4),
                candidate.likelihood,
            )
        )
    return hits


def lead_platform_versions(scored: list[Candidate]) -> list[Candidate]:
    """The candidates, where each article in force that `specializes` a general one which
    scored higher now scores just above it (SPECIALIZED_LEAD), with a note saying why, when
    the case shows the article's context (a context note agrees) and no note speaks against it."""
    by_id = {c.article.id: c for c in scored}
    led = []
    for candidate in scored:
        general = candidate.article.specializes
        context = [n for n in candidate.notes if n.kind == "context" and n.effect > 0]
        if (
            general in by_id
            and by_id[general].score >= candidate.score
            and candidate.status == "active"
            and context
            and all(n.effect > 0 for n in candidate.notes)
        ):
            note = FactNote(
                "specializes",
                general,
                +1,
                f"{context[0].value}的专门流程，排在通用流程“{by_id[general].article.title}”之前",
                "version",
            )
            candidate = replace(
                candidate,
                score=round(by_id[general].score + SPECIALIZED_LEAD, 4),
                notes=(*candidate.notes, note),
            )
        led.append(candidate)
    return led


def reads_out_of_scope(loaded: LoadedIndex, query: Query, hit: Hit) -> bool:
    """Whether the case reads more like the out-of-scope topics' phrases (facts.yaml) than like
    its first procedure's phrasings, by the phrasing model, per character, by more than
    OUT_OF_SCOPE_READING_MARGIN: 这款有没有大码 holds no out-of-scope phrase (有货吗, 多大码 …)
    but is worded like them."""
    if not loaded.out_of_scope.total:
        # No phrasings: their likelihood would be the smoothing's alone, which can beat an
        # article that shares few of the case's characters without saying anything.
        return False
    outside = loaded.model.outside_likelihood(query.text, loaded.out_of_scope, MODEL_SMOOTHING)
    return outside - hit.likelihood > OUT_OF_SCOPE_READING_MARGIN


def match_evidence(
    hit: Hit | None, facts: dict[str, Evidence], worded_out_of_scope: bool = False
) -> float:
    """How strongly the case supports its first procedure, on a scale that does not depend on
    the other hits: BM25 plus the closest phrasing, discounted for an out-of-scope topic (a
    phrase of one, or a case worded like them: reads_out_of_scope)."""
    if hit is None:
        return 0.0
    evidence = hit.bm25 + PHRASING_EVIDENCE * hit.likeness
    # Only a fact that counts in full vouches for an out-of-scope case: 签收了 agrees with the
    # return procedure whatever the buyer then asks (评价不了).
    agreed = any(
        n.effect > 0 and n.kind == "fact" and fact_weight(n.fact) >= DEFAULT_FACT_WEIGHT
        for n in hit.fact_notes
    )
    if (OUT_OF_SCOPE_FACT in facts or worded_out_of_scope) and not agreed:
        evidence *= OUT_OF_SCOPE_EVIDENCE
    return round(evidence, 3)
