"""A case as matching reads it: the buyer's turns, cut into words, expanded, with facts and slots.

Queries are built in code from analyser tokens, never parsed (user text is not query syntax);
chat noise is dropped; synonyms add the articles' own words; character bigrams catch
segmentation differences and typos.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer import analysis
from indexer.extract import Evidence, extract_facts, extract_slots
from indexer.impacts import QueryTerm
from indexer.model import SHOP_PLATFORM, KnowledgeBase
from indexer.turns import Turn, buyer_side, split_turns
from indexer.weights import (
    CONTEXT_WORD_BOOST,
    GRAM_BOOST,
    LATEST_TURN_BOOST,
    MAX_ANALYSED_CHARS,
    PINYIN_BOOST,
    SYNONYM_BOOST,
    TEXT_FIELDS,
)

# Pinyin as agents type it: initials (tk) up to a phrase spelt out (quxiaodingdan, 13).
_ASCII_WORD = re.compile(r"^[a-z]{2,30}$")
_LONG_NUMBER = re.compile(r"\d{5,}|[a-z]+\d{5,}")
# Where a fact set by the shop's settings says it came from.
SHOP_SETTING = "店铺设置"

# Anonymised or template gaps in pasted text ([订单x], [数字x], 【订单号】): not the buyer's words.
_PLACEHOLDER = re.compile(r"\[[^\[\]\s]{1,8}x\]|【[^【】\s]{1,8}】")
# What a chat client writes into the buyer's message about the order asked about (JD's card:
# 咨询订单号:… 订单金额:… 下单时间:…, and its prompt 请选择咨询订单). It says which order, not
# what the buyer wants: facts and slots read it (the amount), matching does not, or 金额 and
# 时间 pull price and delivery procedures. 咨询订单号 stays: it says the case is on JD (a context
# word, facts.yaml). On the real messages: single 377 -> 379 of 440 first, pastes 64 -> 65 of 81
# (top-3 76 -> 78); one own realstyle chat that leaned on the prompt's 订单 lost its first place.
# The card's other forms say which order or item too: 订单编号:… (with 订单金额 empty), 查询订单号:…
# 商品号:… and 商品ID:… (the text is lower-cased by then). A value is numbers and marks only: an
# anonymised one is a gap by now, and the buyer's words right after it are theirs. The client
# also names the channel a chat came in by (京东快递(移动端)): facts read it (京东), matching
# does not, or its 快递 pulls delivery procedures.
_CLIENT_CARD = re.compile(
    r"(?:订单金额|下单时间)[:：][ \t]*[\d.¥￥/:-]*(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"
    r"|(?:订单编号|查询订单号|商品号|商品id)[:：][ \t]*[\da-z_-]*|请选择咨询订单"
    r"|\S{0,8}[(（]移动端[)）]"
)


@dataclass(frozen=True)
class Query:
    """A case description analysed for matching."""

    text: str  # the buyer's side as matching reads it (normalised, chat-client cards left out)
    tokens: tuple[str, ...]
    expansions: tuple[str, ...]
    pinyin: tuple[str, ...]
    grams: tuple[str, ...]
    facts: dict[str, Evidence]
    slots: dict[str, Evidence]
    overridden: frozenset[str] = frozenset()
    turns: tuple[Turn, ...] = ()
    # Words of the buyer's latest message, which weigh more (LATEST_TURN_BOOST).
    latest: frozenset[str] = frozenset()
    # Words that name a context (京东, 自营, 春节: phrases of `gate` facts), which weigh less
    # (CONTEXT_WORD_BOOST): where a case happens is not what it is about.
    context: frozenset[str] = frozenset()
    # Facts taken from the shop's settings, not from the case (the shop's one platform).
    from_shop: frozenset[str] = frozenset()
    # The buyer's latest message when a chat has several (else ""), which the phrasing model
    # weighs apart from the whole buyer side.
    latest_text: str = ""


def analyse_case(
    case: str, kb: KnowledgeBase, synonyms, overrides: dict[str, str | float] | None = None
) -> Query:
    """Split a case into turns, then read the buyer's side: words, synonyms, facts and slots."""
    turns = split_turns(analysis.encodable(_ends(case, 2 * MAX_ANALYSED_CHARS)))
    read = buyer_side(turns)
    buyer_text = _ends("\n".join(t.text for t in read), MAX_ANALYSED_CHARS)
    folded = _folded(buyer_text)
    text = folded.lower()
    slots = extract_slots(folded, kb.slots)
    facts = extract_facts(text, kb.facts, slots)
    context = context_words(text, kb)
    text = _CLIENT_CARD.sub(" ", text)
    for name, value in (overrides or {}).items():
        facts[name] = Evidence(value, "坐席指定")
    shop_default = shop_platform(kb) if SHOP_PLATFORM not in facts else None
    if shop_default:
        facts[SHOP_PLATFORM] = Evidence(shop_default, SHOP_SETTING)
    tokens, expansions, pinyin, grams = analyse_text(text, kb, synonyms)
    latest = latest_message(read)
    if latest == text:  # the buyer's side is that one message
        latest = ""
    latest_words: frozenset[str] = frozenset()
    if latest:
        words = analyse_text(latest, kb, synonyms)
        latest_words = frozenset(w for part in words for w in part)
    return Query(
        text,
        tokens,
        expansions,
        pinyin,
        grams,
        facts,
        slots,
        frozenset(overrides or ()),
        tuple(turns),
        latest_words,
        context,
        frozenset([SHOP_PLATFORM]) if shop_default else frozenset(),
        latest,
    )


def shop_platform(kb: KnowledgeBase) -> str | None:
    """The one platform the shop sells on (kb/shop.yaml), for a case that does not say its
    own: a JD-only shop's 退货你们上门取吗 is a JD case. None when unset, a starter example or
    not a value of the platform fact (lint reports that)."""
    entry = kb.shop.get(SHOP_PLATFORM)
    fact = kb.facts.get(SHOP_PLATFORM)
    if entry is None or entry.example or not entry.value or fact is None:
        return None
    return entry.value if entry.value in fact.values else None


def _ends(text: str, limit: int) -> str:
    """At most `limit` characters: a long case's first and last parts, where a message states
    its problem and a chat its latest concern."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return text[:half] + "\n" + text[-half:]


def context_words(text: str, kb: KnowledgeBase) -> frozenset[str]:
    """Tokens and bigrams of the context phrases (of `gate` facts) that the text contains."""
    words: set[str] = set()
    for spec in kb.facts.values():
        if not spec.gate:
            continue
        for phrases in spec.values.values():
            for phrase in phrases:
                needle = phrase.lower()
                if needle in text:
                    words.update(analysis.cut(needle))
                    words.update(analysis.bigrams(needle))
    return frozenset(words)


def latest_message(read: list[Turn]) -> str:
    """The buyer's latest message of a chat with speakers, normalised; "" for one message.

    Unlabelled runs are not split: measured on real pastes, boosting their last sentence cost
    more cases than it won (buyers state the problem first and chat after it)."""
    if len(read) < 2:
        return ""
    return _CLIENT_CARD.sub(" ", _folded(read[-1].text).lower())


def _folded(text: str) -> str:
    """Buyer text with placeholders left out, folded (full width, traditional characters)."""
    return analysis.fold(_PLACEHOLDER.sub(" ", text))


def analyse_text(text: str, kb: KnowledgeBase, synonyms) -> tuple[tuple[str, ...], ...]:
    """The words of normalised case text that are matched: jieba tokens (order numbers left
    out), synonym expansions, pinyin-like Latin words, character bigrams.

    `synonyms` are (variant, the canonical word's tokens) pairs (LoadedIndex.synonyms).
    """
    text = analysis.squeeze_runs(text)
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
    """The query as an OR of (field, term, boost): any term may match, none is required.

    Words of the buyer's latest message count LATEST_TURN_BOOST more."""

    def boost(word: str, base: float) -> float:
        if word in query.context:
            base *= CONTEXT_WORD_BOOST
        return base * (1 + LATEST_TURN_BOOST) if word in query.latest else base

    fields = [f for f in TEXT_FIELDS if f != "grams"]
    terms = []
    for token in query.tokens:
        terms += [(f, token, boost(token, 1.0)) for f in fields]
    for token in query.expansions:
        terms += [(f, token, boost(token, SYNONYM_BOOST)) for f in fields]
    terms += [("grams", g, boost(g, GRAM_BOOST)) for g in query.grams]
    terms += [("pinyin", p, PINYIN_BOOST) for p in query.pinyin]
    return terms
