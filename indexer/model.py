"""The knowledge base's content model: frozen values that every later stage reads."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from indexer.markup import links_in


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a knowledge-base file, with where it is and what to write instead."""

    path: str
    line: int
    message: str
    rule: str
    level: str = "error"  # "error" fails `kb lint`; "warning" fails only with --strict

    def format(self) -> str:
        return f"{self.path}:{self.line}: [{self.level}] {self.message} ({self.rule})"


@dataclass(frozen=True, slots=True)
class Step:
    """A checklist step; `when` maps fact names to the values (or comparisons) it needs."""

    text: str
    when: dict[str, list[str]] = field(default_factory=dict)
    line: int = 0


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply template whose text holds {{slot}} placeholders; `when` as for a Step."""

    id: str
    title: str
    text: str
    line: int = 0
    when: dict[str, list[str]] = field(default_factory=dict)
    # Where a reply goes in a composed message: "opening" (a greeting), "closing" (a goodbye),
    # or "" (a reply to the case itself, the default).
    use: str = ""


@dataclass(frozen=True, slots=True)
class Article:
    """One procedure: front matter fields plus its Markdown body."""

    id: str
    title: str
    category: str
    tags: tuple[str, ...]
    keywords: tuple[str, ...]
    platforms: tuple[str, ...]
    owner: str
    reviewed: dt.date
    review_every_days: int
    applies_when: dict[str, list[str]]
    checklist: tuple[Step, ...]
    replies: tuple[Reply, ...]
    body: str
    path: str = ""
    effective_from: dt.date | None = None
    effective_until: dt.date | None = None
    # Who the procedure is for: "buyer" (a buyer's case, the default) or "staff" (back office:
    # wholesale, warehouse, finance, agent training), which a buyer's message must not lead to.
    audience: str = "buyer"
    # The law or platform rule the procedure rests on, so an editor knows what to re-check
    # when it changes (消费者权益保护法 第二十五条, 淘宝平台争议处理规则 …).
    sources: tuple[str, ...] = ()
    # Whole messages as buyers write them (在吗 我买的水壶底下一直漏水): they teach the phrasing
    # model how the article is asked about, and are not searched as keywords (a long message
    # would make BM25 find the article by its every word).
    examples: tuple[str, ...] = ()
    # The general procedure this article is a platform's own version of (pdd-exchange of
    # exchange-general): on a case that shows its platform it ranks just above that one.
    specializes: str = ""
    # Line of each front-matter key and of the body's first line, for problems found later.
    lines: dict[str, int] = field(default_factory=dict, compare=False)

    def review_due(self) -> dt.date:
        return self.reviewed + dt.timedelta(days=self.review_every_days)

    def links(self) -> tuple[str, ...]:
        """Ids the article links to ([[id]]) from its body and steps, first mention first."""
        return links_in(self.body, *(step.text for step in self.checklist))

    def framing_replies(self) -> tuple[Reply, ...]:
        """Replies that open or close any composed message (`use: opening` / `closing`)."""
        return tuple(reply for reply in self.replies if reply.use)

    def status_on(self, day: dt.date) -> str:
        """Return "active", "upcoming" (即将生效) or "expired" (已失效) for a time-boxed policy."""
        if self.effective_until and day > self.effective_until:
            return "expired"
        if self.effective_from and day < self.effective_from:
            return "upcoming"
        return "active"


@dataclass(frozen=True)
class FactDef:
    """A fact declared in facts.yaml: an enum with signal phrases, or a number read by code."""

    name: str
    label: str
    type: str  # "enum" | "number"
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    extractor: str = ""
    # A context fact (platform, customer type, season): an article whose applies_when names it
    # is for cases that show it, so it is lowered when the case does not say.
    gate: bool = False
    # Regular expressions that signal a value by shape where no word does: a Pinduoduo order
    # id (261203-583920174658392) says the platform.
    patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Phrases that signal no value although a value's phrase is inside them: 收到一条短信
    # holds 收到, 地址不用了 holds 用了. They take their span, so the shorter phrase is not read.
    ignore: tuple[str, ...] = ()
    # Words after which a value's phrase says nothing: 能/必须/希望 收到 is a wish, not a
    # receipt (明天能收到吗, 必须今天收到).
    not_after: tuple[str, ...] = ()
    # Whole messages on the fact's topic as buyers write them: not read as phrases, they teach
    # the phrasing model what such a case reads like (read for the out-of-scope fact:
    # ranking.reads_out_of_scope).
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlotPattern:
    regex: str
    near: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlotDef:
    """A placeholder declared in slots.yaml and how to read it from a case."""

    name: str
    label: str
    patterns: tuple[SlotPattern, ...] = ()
    values: tuple[str, ...] = ()
    from_fact: str = ""


@dataclass(frozen=True)
class Category:
    key: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class ShopEntry:
    """One number or name that belongs to the shop, not to an article (kb/shop.yaml):
    replies and steps cite it as {{shop.<key>}}. An empty value is unset; `example` marks a
    starter value the shop has not yet replaced with its own."""

    key: str
    label: str
    value: str = ""
    example: bool = False
    line: int = 0


# The shop entry naming the one platform a shop sells on (kb/shop.yaml), which is also the
# name of the fact it sets when a case does not say its platform.
SHOP_PLATFORM = "platform"
# The fact that names a topic no procedure covers (pre-sales, account, membership …).
OUT_OF_SCOPE_FACT = "out_of_scope"


@dataclass(frozen=True)
class KnowledgeBase:
    """Everything under kb/: articles and the vocabularies that matching and linting use."""

    articles: tuple[Article, ...]
    categories: dict[str, Category]
    facts: dict[str, FactDef]
    slots: dict[str, SlotDef]
    synonyms: dict[str, tuple[str, ...]]
    stopwords: frozenset[str]
    dict_words: tuple[str, ...]  # lines of dict.txt, as jieba reads them
    banned_phrases: dict[str, str]
    # Below this evidence (weights.match_evidence) the first procedure is not a good match:
    # calibrated on the KB's evaluation sets by `kb eval --calibrate` (kb/matching.yaml).
    # 0 never flags.
    no_good_match_below: float = 0.0
    # The shop profile (kb/shop.yaml) by key: cut-off times, promised response times, what an
    # agent may grant alone, addresses, the shop's name.
    shop: dict[str, ShopEntry] = field(default_factory=dict)

    @functools.cached_property
    def by_id(self) -> dict[str, Article]:
        """Articles by id (the first of duplicates; lint reports those)."""
        found: dict[str, Article] = {}
        for a in self.articles:
            found.setdefault(a.id, a)
        return found

    def article(self, article_id: str) -> Article | None:
        return self.by_id.get(article_id)

    def out_of_scope_phrases(self) -> tuple[str, ...]:
        """How buyers ask about what no procedure covers: the phrases of the out-of-scope
        fact's values and its example messages (facts.yaml), none when the KB declares no
        such fact."""
        spec = self.facts.get(OUT_OF_SCOPE_FACT)
        if spec is None:
            return ()
        return (*(p for phrases in spec.values.values() for p in phrases), *spec.examples)

    def banned_in(self, text: str) -> list[tuple[str, int]]:
        """The banned phrases (banned_phrases.yaml) in `text`, ignoring case, with where each
        starts: the one test lint (reply templates) and `kb learn` (proposed phrasings) share."""
        lowered = text.lower()
        return [
            (phrase, lowered.index(phrase.lower()))
            for phrase in self.banned_phrases
            if phrase.lower() in lowered
        ]
