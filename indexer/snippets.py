"""What an agent sees of why an article matched: the words it shares with the case, and the
sentence of the article that holds most of them, marked."""

from __future__ import annotations

import html
import re

from indexer import analysis
from indexer.markup import LINK
from indexer.model import Article

_SENTENCE = re.compile(r"[^。！？!?\n；;]+[。！？!?；;]?")


_LINK = re.compile(r"\[\[([^\[\]]+)\]\]")


def snippet_candidates(
    article: Article, articles: dict[str, Article] | None = None
) -> list[tuple[str, str]]:
    """What a snippet can show: keywords, steps and body sentences, each with its lower case
    (what is matched). Shown, a [[link]] reads as the linked article's title, so a snippet never
    loses it ("见；"); matched, it is the text around it, as before."""
    texts = [
        *article.keywords,
        *(s.text for s in article.checklist),
        *_SENTENCE.findall(article.body),
    ]
    if articles is None:
        return [(text, text.lower()) for text in texts]
    shown = [_LINK.sub(lambda m: _link_text(m.group(1), articles), t) for t in texts]
    return [(show, text.lower()) for show, text in zip(shown, texts, strict=True)]


def _link_text(target: str, articles: dict[str, Article]) -> str:
    found = articles.get(target.strip())
    return f"《{found.title}》" if found else target.strip()


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
    best = re.sub(r"[#*`>]", "", LINK.sub("", best)).strip()
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


def matched_terms(article_text: str, words: tuple[str, ...]) -> list[str]:
    """The case's words that the article's normalised text contains, longest first: what the
    agent sees as the match. Single characters (先, 拍, 没) match everywhere and say nothing."""
    found = {t for t in words if len(t) > 1 and t in article_text}
    return sorted(found, key=lambda t: (-len(t), t))


def normalized_text(article: Article) -> str:
    """The article's searchable text, normalised as a case is, for finding matched words."""
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
