"""Turn search hits into what an agent uses: a checklist tailored to the case, filled replies.

Pure functions over indexer results; no Flask here, so the CLI, the API and the pages share them.
"""

from __future__ import annotations

import html
import re
from typing import Any

from assist_app.settings import DEFAULT_ASSIST_RESULTS
from indexer.conditions import condition_holds, describe
from indexer.extract import Evidence
from indexer.markup import PLACEHOLDER, plain_value, shop_key, show_value
from indexer.model import Article, KnowledgeBase, Reply, Step
from indexer.ranking import Hit
from indexer.search import SearchEngine, SearchResult


def gap(label: str) -> str:
    """How an unfilled slot shows in a reply: a marked gap the agent must fill."""
    return f"【{label}】"


def placeholder_label(name: str, kb: KnowledgeBase) -> str:
    """What the agent sees for a placeholder left unfilled: its slot's or shop entry's label."""
    key = shop_key(name)
    if key is not None:
        entry = kb.shop.get(key)
        return entry.label if entry else name
    spec = kb.slots.get(name)
    return spec.label if spec else name


def fill_shop(text: str, kb: KnowledgeBase) -> tuple[str, list[str], list[str]]:
    """Fill {{shop.…}} references from the shop profile (kb/shop.yaml).

    Returns the text, the labels of entries left as 【gaps】 (unset or unknown) and the labels
    filled with a starter example value the shop has not replaced yet."""
    gaps: list[str] = []
    examples: list[str] = []

    def replace(match: re.Match) -> str:
        key = shop_key(match.group(1))
        if key is None:
            return match.group(0)
        entry = kb.shop.get(key)
        if entry is None or not entry.value:
            label = entry.label if entry else match.group(1)
            if label not in gaps:
                gaps.append(label)
            return gap(label)
        if entry.example and entry.label not in examples:
            examples.append(entry.label)
        return entry.value

    return PLACEHOLDER.sub(replace, text), gaps, examples


def slot_values(
    kb: KnowledgeBase, facts: dict[str, Evidence], slots: dict[str, Evidence]
) -> dict[str, str]:
    """Slot values read from the case, plus slots declared as taken from a fact (platform)."""
    values = {name: show_value(ev.value) for name, ev in slots.items()}
    for name, spec in kb.slots.items():
        if name not in values and spec.from_fact and spec.from_fact in facts:
            values[name] = show_value(facts[spec.from_fact].value)
    return values


def fill_reply(
    reply: Reply,
    values: dict[str, str],
    kb: KnowledgeBase,
    facts: dict[str, Evidence] | None = None,
) -> dict[str, Any]:
    """Fill a reply template; slots we could not read and shop entries not set become gaps and
    are listed as missing; shop entries still at their example value are listed as examples."""
    missing: list[str] = []
    examples: list[str] = []

    def replace(match: re.Match) -> str:
        name = match.group(1)
        key = shop_key(name)
        if key is not None:
            entry = kb.shop.get(key)
            if entry is not None and entry.value:
                if entry.example and entry.label not in examples:
                    examples.append(entry.label)
                return entry.value
        elif name in values:
            return values[name]
        if name not in missing:
            missing.append(name)
        return gap(placeholder_label(name, kb))

    text = PLACEHOLDER.sub(replace, reply.text)
    return {
        "id": reply.id,
        "title": reply.title,
        "text": text,
        "missing": missing,
        "missing_labels": [placeholder_label(n, kb) for n in missing],
        # Shop settings filled with the starter profile's example values: the console says so.
        "examples": examples,
        "warnings": banned_phrases_in(text, kb),
        **when_status(reply.when, facts or {}, kb),
    }


def fill_replies(
    article: Article, values: dict[str, str], facts: dict[str, Evidence], kb: KnowledgeBase
) -> list[dict[str, Any]]:
    """All replies of an article, those that fit the case first, not-applicable ones last."""
    replies = [fill_reply(r, values, kb, facts) for r in article.replies]
    order = {True: 0, None: 1, False: 2}
    return sorted(replies, key=lambda r: order[r["applies"]])


def banned_phrases_in(text: str, kb: KnowledgeBase) -> list[dict[str, str]]:
    """Wording in a reply that platforms penalise, with the reason to show the agent."""
    lowered = text.lower()
    return [
        {"phrase": p, "why": why} for p, why in kb.banned_phrases.items() if p.lower() in lowered
    ]


def when_status(when: dict[str, list[str]], facts: dict[str, Evidence], kb: KnowledgeBase) -> dict:
    """Whether a step's or reply's `when` holds: True, False (with why) or None (a fact unknown)."""
    if not when:
        return {"applies": True, "when": "", "reason": ""}
    conditions, unknown, failed = [], [], []
    for fact, wanted in when.items():
        label = kb.facts[fact].label if fact in kb.facts else fact
        conditions.append(describe(label, wanted))
        if fact not in facts:
            unknown.append(describe(label, wanted))
        elif not condition_holds(wanted, facts[fact].value):
            failed.append(f"{label}是“{show_value(facts[fact].value)}”")
    if failed:
        applies, reason = False, "不适用：" + "，".join(failed)
    elif unknown:
        applies, reason = None, "需确认：" + "，".join(unknown)
    else:
        applies, reason = True, "适用：" + "，".join(conditions)
    return {"applies": applies, "when": "；".join(conditions), "reason": reason}


def tailor_step(step: Step, facts: dict[str, Evidence], kb: KnowledgeBase) -> dict[str, Any]:
    """A checklist step for this case: its text with the shop's settings filled in, the shop
    settings left as gaps or at example values, and whether it applies (see when_status)."""
    text, gaps, examples = fill_shop(step.text, kb)
    return {"text": text, "gaps": gaps, "examples": examples, **when_status(step.when, facts, kb)}


def tailor_checklist(article: Article, facts: dict[str, Evidence], kb: KnowledgeBase) -> list[dict]:
    return [tailor_step(step, facts, kb) for step in article.checklist]


def why(hit: Hit) -> dict[str, Any]:
    """Why a result ranks where it does: the matched words and the facts that moved it."""
    return {
        "matched_terms": list(hit.matched),
        "facts": [
            {"fact": n.fact, "value": n.value, "effect": n.effect, "text": n.text}
            for n in hit.fact_notes
        ],
        "closest_phrasing": hit.closest,
        "bm25": hit.bm25,
    }


def facts_view(result: SearchResult, kb: KnowledgeBase) -> dict[str, Any]:
    return {name: plain_value(ev.value) for name, ev in result.query.facts.items()}


def fact_details(result: SearchResult, kb: KnowledgeBase) -> list[dict[str, Any]]:
    """Each fact with its label, the words it was read from, and the choices an agent can pick."""
    details = []
    for name, spec in kb.facts.items():
        ev = result.query.facts.get(name)
        details.append(
            {
                "name": name,
                "label": spec.label,
                "type": spec.type,
                "value": None if ev is None else facts_view(result, kb)[name],
                "evidence": None if ev is None else ev.phrase,
                "source": fact_source(result, name),
                "choices": list(spec.values) if spec.type == "enum" else [],
            }
        )
    return details


def fact_source(result: SearchResult, name: str) -> str | None:
    """Where a fact's value came from: the agent, the shop's settings, the case, or nowhere."""
    query = result.query
    if name not in query.facts:
        return None
    if name in query.overridden:
        return "agent"
    return "shop" if name in query.from_shop else "case"


def assist(
    engine: SearchEngine,
    case: str,
    limit: int = DEFAULT_ASSIST_RESULTS,
    overrides: dict[str, str | float] | None = None,
) -> dict[str, Any]:
    """Answer a case: facts and slots read from it, and ranked procedures ready to use."""
    result = engine.search(case, limit=limit, overrides=overrides)
    kb = result.kb
    values = slot_values(kb, result.query.facts, result.query.slots)
    return {
        # Whether the first procedure is a confident match: when true the results are only
        # candidates (可能相关) and the agent should not follow them as the procedure.
        "no_good_match": result.no_good_match,
        "evidence": result.evidence,
        # The evidence as a share of the KB's calibrated line (under 1.0: no good match); null
        # when the KB has no line. Insights record it as the answer's match strength.
        "match_strength": result.match_strength,
        # Whether the case is worded like the out-of-scope topics (pre-sales, account,
        # membership …: facts.yaml) more than like its first procedure, which lowered the
        # evidence: the console says so beside 未找到合适流程.
        "reads_out_of_scope": result.reads_out_of_scope,
        # How the case was read: the turns of a pasted chat, and whose they were. The text is
        # HTML-escaped like snippets: a buyer's <script> comes back inert.
        "turns": [{"speaker": t.speaker, "text": html.escape(t.text)} for t in result.query.turns],
        "facts": facts_view(result, kb),
        "fact_details": fact_details(result, kb),
        "slots": values,
        "slot_labels": {name: spec.label for name, spec in kb.slots.items()},
        "results": [
            {
                "id": hit.article.id,
                "title": hit.article.title,
                "category": hit.article.category,
                "category_name": kb.categories[hit.article.category].name
                if hit.article.category in kb.categories
                else hit.article.category,
                "score": hit.score,
                "snippet": hit.snippet,
                "why": why(hit),
                "status": hit.article.status_on(engine.today()),
                "checklist": tailor_checklist(hit.article, result.query.facts, kb),
                "replies": fill_replies(hit.article, values, result.query.facts, kb),
            }
            for hit in result.hits
        ],
        "took_ms": round(result.took_ms, 2),
        "kb_version": result.build.get("kb_version"),
    }


def format_answer(answer: dict[str, Any]) -> str:
    """An answer (`assist`) as text for a terminal: facts, slots, ranked results and why."""
    facts = "，".join(f"{k}={v}" for k, v in answer["facts"].items()) or "（无）"
    slots = "，".join(f"{k}={v}" for k, v in answer["slots"].items()) or "（无）"
    lines = [f"事实：{facts}", f"槽位：{slots}", ""]
    if len(answer["turns"]) > 1:
        speakers = {"buyer": "买家", "agent": "客服", "unknown": "未标明"}
        lines[-1:-1] = [
            "对话："
            + " / ".join(f"{speakers[t['speaker']]}：{t['text'][:20]}" for t in answer["turns"])
        ]
    if answer["no_good_match"]:
        why = (
            "（读起来像售前、账户、会员等售后流程以外的问题）"
            if answer["reads_out_of_scope"]
            else ""
        )
        lines.append(f"未找到合适流程{why}；以下仅供参考（可能相关）：")
    for rank, result in enumerate(answer["results"], start=1):
        lines.append(f"{rank}. {result['id']}  {result['title']}  ({result['score']:.3f})")
        terms = "、".join(result["why"]["matched_terms"][:8])
        if terms:
            lines.append(f"   匹配词：{terms}")
        if result["why"]["closest_phrasing"]:
            lines.append(f"   相近说法：{result['why']['closest_phrasing']}")
        for note in result["why"]["facts"]:
            lines.append(f"   {'↑' if note['effect'] > 0 else '↓'} {note['text']}")
    return "\n".join(lines)
