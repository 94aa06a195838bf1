"""Articles due for review: each article's owner re-reads it every `review_every_days`."""

from __future__ import annotations

import datetime as dt

from indexer.model import Article, KnowledgeBase


def due_for_review(kb: KnowledgeBase, horizon: dt.date) -> list[Article]:
    """Articles whose review falls on or before `horizon`, by owner, the most overdue first."""
    return sorted(
        (a for a in kb.articles if a.review_due() <= horizon),
        key=lambda a: (a.owner, a.review_due()),
    )


def format_reviews(due: list[Article], today: dt.date) -> str:
    """The articles to review as text for a terminal, under their owners."""
    if not due:
        return "没有到期需要复核的文章"
    lines, owner = [], None
    for article in due:
        if article.owner != owner:
            owner = article.owner
            lines.append(f"\n{owner}")
        late = (today - article.review_due()).days
        state = f"已超期 {late} 天" if late > 0 else f"{-late} 天后到期"
        lines.append(f"  {article.review_due()}  {state}  {article.id}  {article.path}")
    return "\n".join(lines)
