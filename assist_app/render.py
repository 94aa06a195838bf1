"""Articles as people read them: safe body HTML, resolved [[id]] links, related articles, marks.

Shared by the JSON API and the pages, so both show an article the same way. No Flask here: the
caller passes `href`, which turns an article id into its page's URL.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import markdown
import nh3

from assist_app.assist import gap, placeholder_label, when_status
from indexer.markup import LINK, PLACEHOLDER, shop_key
from indexer.model import Article, KnowledgeBase

Href = Callable[[str], str]

STATUS_LABELS = {"active": "", "upcoming": "即将生效", "expired": "已失效"}
MARKDOWN_EXTENSIONS = ["tables", "sane_lists"]
# Ammonia's defaults, plus the classes our own link and slot markup use.
BODY_ATTRIBUTES = {
    **nh3.ALLOWED_ATTRIBUTES,
    "a": {"href", "hreflang", "class", "title"},
    "span": {"class", "title"},
}


def category_name(kb: KnowledgeBase, key: str) -> str:
    return kb.categories[key].name if key in kb.categories else key


def _link(target: str, kb: KnowledgeBase, href: Href) -> str:
    """An escaped [[target]] as a link to its article, or as plain marked text when unknown."""
    article_id = html.unescape(target).strip()
    linked = kb.article(article_id)
    if linked is None:
        return f'<span class="link-missing" title="没有这篇文章">{html.escape(article_id)}</span>'
    return (
        f'<a class="article-link" href="{html.escape(href(linked.id))}">'
        f"{html.escape(linked.title)}</a>"
    )


def linked_text(text: str, kb: KnowledgeBase, href: Href) -> str:
    """Plain text (a checklist step) as HTML: escaped, with its [[id]] links resolved and its
    {{shop.…}} references shown with the shop's settings."""
    linked = LINK.sub(lambda m: _link(m.group(1), kb, href), html.escape(text))
    return PLACEHOLDER.sub(lambda m: _shop_html(m.group(1), kb) or m.group(0), linked)


def _shop_html(name: str, kb: KnowledgeBase) -> str | None:
    """A {{shop.…}} reference as HTML: the shop's setting (marked when still an example), or a
    gap when it is not set; None for any other placeholder."""
    key = shop_key(name)
    if key is None:
        return None
    entry = kb.shop.get(key)
    label = html.escape(placeholder_label(name, kb))
    if entry is None or not entry.value:
        return f'<span class="slot" title="店铺资料未设置：kb/shop.yaml">{gap(label)}</span>'
    note = "（示例值，店铺还没有改成自己的）" if entry.example else ""
    return (
        f'<span class="shop-value{" shop-example" if entry.example else ""}" '
        f'title="店铺资料：{label}{note}">{html.escape(entry.value)}</span>'
    )


def body_html(article: Article, kb: KnowledgeBase, href: Href) -> str:
    """The Markdown body as sanitized HTML: whatever an editor wrote, no script survives."""
    rendered = markdown.markdown(article.body, extensions=MARKDOWN_EXTENSIONS)
    rendered = LINK.sub(lambda m: _link(m.group(1), kb, href), rendered)
    return nh3.clean(rendered, attributes=BODY_ATTRIBUTES, link_rel="noopener noreferrer")


# A {{slot}} placeholder, or a gap the template leaves to the agent in so many words (【约定时间】).
_GAP_OR_SLOT = re.compile(PLACEHOLDER.pattern + r"|【[^【】\n]{1,30}】")


def template_html(text: str, kb: KnowledgeBase) -> str:
    """A reply template as HTML: escaped, each {{slot}} and 【gap】 marked as a gap to fill."""

    def mark(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return f'<span class="slot" title="坐席补充">{match.group(0)}</span>'
        shop = _shop_html(name, kb)
        if shop is not None:
            return shop
        spec = kb.slots.get(name)
        return (
            f'<span class="slot" title="{{{{{name}}}}}">{gap(spec.label if spec else name)}</span>'
        )

    return _GAP_OR_SLOT.sub(mark, html.escape(text))


def related(article: Article, kb: KnowledgeBase) -> dict[str, list[Article]]:
    """Articles this one links to and articles that link to it."""
    outgoing = [a for a in (kb.article(i) for i in article.links()) if a is not None]
    incoming = [a for a in kb.articles if a.id != article.id and article.id in a.links()]
    return {"to": outgoing, "from": incoming}


def summary(article: Article, kb: KnowledgeBase, today: dt.date) -> dict[str, Any]:
    """What a list of articles shows: title, category, owner, review and validity marks."""
    status = article.status_on(today)
    return {
        "id": article.id,
        "title": article.title,
        "category": article.category,
        "category_name": category_name(kb, article.category),
        "tags": list(article.tags),
        "platforms": list(article.platforms),
        "owner": article.owner,
        "reviewed": article.reviewed.isoformat(),
        "review_due": article.review_due().isoformat(),
        "review_overdue": article.review_due() < today,
        "status": status,
        "status_label": STATUS_LABELS[status],
        "effective_from": article.effective_from.isoformat() if article.effective_from else None,
        "effective_until": article.effective_until.isoformat() if article.effective_until else None,
    }


def detail(article: Article, kb: KnowledgeBase, today: dt.date, href: Href) -> dict[str, Any]:
    """A whole article: summary, conditions in words, raw checklist and replies, safe body."""

    def condition(when: dict[str, list[str]]) -> str:
        return when_status(when, {}, kb)["when"]

    links = related(article, kb)
    return {
        **summary(article, kb, today),
        "keywords": list(article.keywords),
        "sources": list(article.sources),
        "applies_when": condition(article.applies_when),
        "checklist": [
            {"text": step.text, "when": step.when, "when_text": condition(step.when)}
            for step in article.checklist
        ],
        "replies": [
            {
                "id": reply.id,
                "title": reply.title,
                "text": reply.text,
                "slots": list(dict.fromkeys(PLACEHOLDER.findall(reply.text))),
                "when": reply.when,
                "when_text": condition(reply.when),
            }
            for reply in article.replies
        ],
        "body_html": body_html(article, kb, href),
        "links": {
            direction: [{"id": a.id, "title": a.title, "url": href(a.id)} for a in articles]
            for direction, articles in links.items()
        },
        "specializes": (
            {"id": general.id, "title": general.title, "url": href(general.id)}
            if (general := kb.article(article.specializes))
            else None
        ),
    }
