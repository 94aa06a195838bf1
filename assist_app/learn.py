"""Learn from the agents: phrasings buyers used for a procedure the KB ranked low become
keywords proposed to editors, each one a KB change `kb check` evaluates like any other.

Keywords, not `examples`: a learnt phrasing is short (MAX_PHRASING_CHARS), and as a keyword it
is searched as words and can be the closest phrasing to a case, both of which count in the
no-good-match evidence (indexer/ranking.match_evidence), so a case the search flagged stops
being flagged once its phrasing is learnt; an example would only teach the phrasing model.

Two signals in the insights store say an agent corrected the search:
- the agent worked from a procedure below the first: chose it (the console's `chose`), copied
  one of its replies, or marked it 有用 while it was ranked 2nd or lower in that answer;
- a search flagged as no good match (or with no result at all) that the agent then resolved
  in the same case by copying from, marking 有用 or choosing a procedure.

A case counts once, for the procedure it ended with (its last such action; one the agent then
marked 不对 counts for nothing). Its phrasing is the case text of the answer it corrected,
already masked by the recorder, normalised, with every masked part (and any number run left)
and every clause that still reads as a person's name removed; what is then too short is
dropped. A phrasing
is not proposed when it carries banned wording (kb/banned_phrases.yaml), is already one of the
article's keywords, was dismissed by an editor, or already finds the article first today (the
current search engine is asked). A phrasing wanted by two articles is a conflict: shown, never
applied. An article is proposed when at least `min_cases` distinct cases back it.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assist_app.insights import DAY_S, LOW_SCORE
from assist_app.insights_store import DISMISSALS, InsightStore
from indexer.analysis import normalize, tags_a_name
from indexer.keyword_patch import add_keywords, yaml_scalar
from indexer.model import KnowledgeBase
from indexer.search import SearchEngine
from indexer.turns import buyer_side, split_turns

DEFAULT_DAYS = 30
DEFAULT_MIN_CASES = 2
# A keyword is a short phrasing as buyers type it (the KB's run 4–20 characters); a longer
# message keeps its first clauses up to this many characters.
MAX_PHRASING_CHARS = 30
MIN_PHRASING_CHARS = 4
POSITIVE = ("chose", "copy", "helpful")
SKIPPED_REASONS = {
    "already_first": "现在已排第一",
    "already_keyword": "已是文章关键词",
    "article_gone": "文章已不在知识库",
    "banned": "含违规说法",
    "dismissed": "编辑已忽略",
    "no_phrasing_left": "去掉个人信息后不剩可用文字",
    "too_few_cases": "案例数不足",
}

# Every action that can resolve or undo a case, with its case, the request's text and first
# result, and where the article stood in that answer (the shown list, else the rank the
# console sent). Two plain scans of the period, no correlated subquery: at 100,000 records the
# whole proposal takes about a second (bench/insights.py).
_ACTIONS = """
SELECT r.case_id, a.request_id, a.at, a.id, a.action, a.article_id,
       COALESCE(s.rank, a.rank) AS rank, r.case_text, r.top_id
FROM insight_actions a
JOIN insight_requests r ON r.request_id = a.request_id
LEFT JOIN insight_shown s ON s.request_id = a.request_id AND s.article_id = a.article_id
WHERE r.at >= :since AND r.at < :until AND a.action IN ('chose', 'copy', 'helpful', 'wrong')
"""
# Requests the search answered with no good match (or nothing).
_FLAGGED = """
SELECT case_id, at, request_id, case_text, top_id FROM insight_requests
WHERE at >= :since AND at < :until AND (top_id IS NULL OR top_score < :low)
"""

# What masking leaves where personal data was: [手机号]-style labels, 【gaps】, * runs with
# the digits or letters they kept (SF********1234), and the word that announced it.
_ANNOUNCER = (
    r"(?:订单编号|订单号|快递单号|物流单号|运单号|单号|订单|手机号码|手机号|手机|电话号码|电话|"
    r"联系方式|号码|收件人|收货人|户名|本人|我叫|我是|名字|地址|身份证号?|银行卡号?|卡号|微信号?|qq号?)?"
)
_MASKED = re.compile(
    _ANNOUNCER + r"[ \t:：是为]*(?:\[[^\[\]\n]{1,12}\]|【[^【】\n]{0,30}】|[a-z0-9]*\*+[a-z0-9*-]*)"
)
# Numbers of three digits or more are never a buyer's wording (7天, 2件 stay).
_NUMBER_RUN = re.compile(r"\d{3,}")
_CLAUSE_BREAK = re.compile(r"[\s,，.。!！?？;；~～、…]+")


def clean_phrasing(masked_case: str, stopwords: frozenset[str] = frozenset()) -> str | None:
    """The buyer's words of a masked case as a keyword, or None when nothing fit is left.

    The buyer's side of a chat, normalised (full-width, traditional, case); masked parts and
    number runs removed with the word that announced them; chat noise and clauses read as a
    name dropped; cut to MAX_PHRASING_CHARS at a clause; None when under MIN_PHRASING_CHARS.
    """
    turns = buyer_side(split_turns(masked_case)) or split_turns(masked_case)
    text = normalize(" ".join(t.text for t in turns))
    text = _MASKED.sub(" ", text)
    text = _NUMBER_RUN.sub(" ", text)
    # A clause of one character is what an announcer left (我, 的); one that reads as a name
    # is one masking did not catch (张伟说…): both go.
    clauses = [
        c
        for c in _CLAUSE_BREAK.split(text)
        if len(c) > 1 and c not in stopwords and not tags_a_name(c)
    ]
    kept: list[str] = []
    for clause in clauses:
        if sum(map(len, kept)) + len(kept) + len(clause) > MAX_PHRASING_CHARS:
            break
        kept.append(clause)
    phrasing = " ".join(kept)
    if len(phrasing.replace(" ", "")) < MIN_PHRASING_CHARS:
        return None
    return phrasing


@dataclass(frozen=True)
class Correction:
    """One case an agent resolved with `article_id` after the search put it low."""

    case_id: str
    article_id: str
    case_text: str  # masked, as stored
    ranked_first: str | None
    source: str  # "chose_below_first" | "no_good_match"


def corrections(actions: Iterable[tuple], flagged: Iterable[tuple]) -> list[Correction]:
    """The cases of these rows (from _ACTIONS and _FLAGGED) that corrected the search."""
    flagged_by_case: dict[str, list[tuple]] = defaultdict(list)
    for case_id, at, request_id, case_text, top_id in flagged:
        flagged_by_case[case_id].append((float(at), request_id, case_text, top_id))
    by_case: dict[str, list[tuple]] = defaultdict(list)
    for case_id, _request, at, action_id, action, article_id, rank, text, top_id in actions:
        by_case[case_id].append((float(at), action_id, action, article_id, rank, text, top_id))

    found = []
    for case_id, acts in sorted(by_case.items()):
        acts.sort(key=lambda a: (a[0], a[1]))
        positive = [a for a in acts if a[2] in POSITIVE]
        if not positive:
            continue
        at, _, _, article_id, rank, text, top_id = positive[-1]
        if any(a[2] == "wrong" and a[3] == article_id and a[0] >= at for a in acts):
            continue  # the agent took it back
        if rank is not None and int(rank) > 1:
            found.append(Correction(case_id, article_id, text, top_id, "chose_below_first"))
            continue
        earlier = [r for r in flagged_by_case.get(case_id, ()) if r[0] <= at]
        if earlier:
            _, _, text, top_id = max(earlier)
            found.append(Correction(case_id, article_id, text, top_id, "no_good_match"))
    return found


@dataclass
class _Phrasing:
    phrasing: str
    cases: set[str] = field(default_factory=set)
    example: str = ""
    ranked_first: dict[str | None, int] = field(default_factory=lambda: defaultdict(int))
    sources: set[str] = field(default_factory=set)


def propose(
    store: InsightStore,
    kb: KnowledgeBase,
    engine: SearchEngine,
    days: int = DEFAULT_DAYS,
    min_cases: int = DEFAULT_MIN_CASES,
    now: float | None = None,
) -> dict[str, Any]:
    """Keyword proposals from the agents' corrections of the last `days` days.

    Args:
        store: the insights store (raises StoreUnavailable when it cannot be opened).
        kb: the articles proposals are for (their keywords, titles and files).
        engine: the current search, asked whether a phrasing already finds its article first.
        min_cases: how many distinct cases an article's phrasings need between them.

    Returns:
        A JSON-ready dict: period, min_cases, proposals (per article: id, article_id, title,
        cases, phrasings with their cases, example case and what ranked first, conflicts, the
        YAML lines to add), skipped (counts of phrasings not proposed, by reason), store.
    """
    now = time.time() if now is None else now
    since = now - days * DAY_S
    params = {"since": since, "until": now, "low": LOW_SCORE}
    with store.connection() as conn:
        actions = store.query(conn, _ACTIONS, params)
        flagged = store.query(conn, _FLAGGED, params)
        dismissed = {(a, p) for a, p, _, _ in store.query(conn, DISMISSALS, {})}

    skipped: dict[str, int] = defaultdict(int)
    wanted: dict[str, dict[str, _Phrasing]] = defaultdict(dict)
    for found in corrections(actions, flagged):
        article = kb.article(found.article_id)
        if article is None:
            skipped["article_gone"] += 1
            continue
        phrasing = clean_phrasing(found.case_text, kb.stopwords)
        if phrasing is None:
            skipped["no_phrasing_left"] += 1
            continue
        if kb.banned_in(phrasing) or kb.banned_in(normalize(found.case_text)):
            skipped["banned"] += 1
            continue
        if (found.article_id, phrasing) in dismissed:
            skipped["dismissed"] += 1
            continue
        if phrasing in {normalize(k) for k in article.keywords}:
            skipped["already_keyword"] += 1
            continue
        entry = wanted[found.article_id].setdefault(phrasing, _Phrasing(phrasing))
        entry.cases.add(found.case_id)
        entry.example = entry.example or found.case_text
        entry.ranked_first[found.ranked_first] += 1
        entry.sources.add(found.source)

    # Searching is the costly check: only for articles with enough cases to be proposed.
    for article_id, phrasings in wanted.items():
        if len(set().union(*(p.cases for p in phrasings.values()))) < min_cases:
            continue
        for phrasing in list(phrasings):
            if first_found(engine, phrasing) == article_id:
                skipped["already_first"] += len(phrasings.pop(phrasing).cases)

    articles_of: dict[str, set[str]] = defaultdict(set)
    for article_id, phrasings in wanted.items():
        for phrasing in phrasings:
            articles_of[phrasing].add(article_id)

    proposals = []
    for article_id, phrasings in wanted.items():
        cases = set().union(*(p.cases for p in phrasings.values()))
        if len(cases) < min_cases:
            skipped["too_few_cases"] += len(phrasings)
            continue
        article = kb.article(article_id)
        rows = [
            _phrasing_row(p, kb, sorted(articles_of[p.phrasing] - {article_id}))
            for p in sorted(phrasings.values(), key=lambda p: (-len(p.cases), p.phrasing))
        ]
        first: dict[str | None, int] = defaultdict(int)
        for p in phrasings.values():
            for top_id, n in p.ranked_first.items():
                first[top_id] += n
        applicable = [r["phrasing"] for r in rows if not r["conflict_with"]]
        proposals.append(
            {
                "id": article_id,
                "article_id": article_id,
                "title": article.title,
                "path": article.path,
                "cases": len(cases),
                "example": rows[0]["example"],
                "ranked_first": _ranked_first(first, kb),
                "phrasings": rows,
                "yaml": "".join(f"  - {yaml_scalar(p)}\n" for p in applicable),
            }
        )
    proposals.sort(key=lambda p: (-p["cases"], p["article_id"]))
    return {
        "period": {"days": days, "since": _iso(since), "until": _iso(now)},
        "min_cases": min_cases,
        "proposals": proposals,
        "skipped": dict(sorted(skipped.items())),
        "store": store.describe(),
    }


def first_found(engine: SearchEngine, phrasing: str) -> str | None:
    """The article the current search puts first for a phrasing, when it is a good match."""
    result = engine.search(phrasing, limit=1)
    return result.hits[0].article.id if result.hits and not result.no_good_match else None


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at).astimezone().isoformat(timespec="seconds")


def _ranked_first(counts: dict[str | None, int], kb: KnowledgeBase) -> list[dict[str, Any]]:
    return [
        {
            "article_id": top_id,
            "title": (kb.article(top_id).title if kb.article(top_id) else top_id)
            if top_id
            else "没有结果",
            "cases": n,
        }
        for top_id, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] or ""))
    ]


def _phrasing_row(p: _Phrasing, kb: KnowledgeBase, conflict_with: list[str]) -> dict[str, Any]:
    return {
        "phrasing": p.phrasing,
        "cases": len(p.cases),
        "example": p.example,
        "ranked_first": _ranked_first(p.ranked_first, kb),
        "sources": sorted(p.sources),
        "conflict_with": conflict_with,
    }


class ApplyError(ValueError):
    """Proposals could not be applied; the message names the proposal or file and why."""


def apply_proposals(
    kb_dir: Path, report: dict[str, Any], ids: Sequence[str], apply_all: bool = False
) -> list[tuple[str, list[str]]]:
    """Write the chosen proposals' phrasings (conflicts left out) into their articles'
    keywords, each file edited as text (indexer.keyword_patch); return (path, phrasings added).

    Every file is edited in memory first: an unknown id or a file that cannot be edited
    safely raises ApplyError and no file is written.
    """
    by_id = {p["id"]: p for p in report["proposals"]}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        known = "、".join(by_id) or "（没有）"
        raise ApplyError(f"没有这些建议：{'、'.join(unknown)}；当前的建议：{known}")
    chosen = list(by_id.values()) if apply_all else [by_id[i] for i in dict.fromkeys(ids)]
    edits: list[tuple[Path, str, str, list[str]]] = []
    for proposal in chosen:
        phrasings = [r["phrasing"] for r in proposal["phrasings"] if not r["conflict_with"]]
        if not phrasings:
            continue
        path = kb_dir.parent / proposal["path"]
        if not path.is_file():
            raise ApplyError(f"{proposal['path']}：文件不存在（知识库目录对吗？用 --kb 指定）")
        text = path.read_text(encoding="utf-8")
        try:
            edited = add_keywords(text, phrasings)
        except ValueError as e:
            raise ApplyError(f"{proposal['path']}：{e}") from None
        edits.append((path, proposal["path"], edited, phrasings))
    done = []
    for path, shown, edited, phrasings in edits:
        if edited != path.read_text(encoding="utf-8"):
            path.write_text(edited, encoding="utf-8", newline="")
        done.append((shown, phrasings))
    return done


def format_proposals(report: dict[str, Any]) -> str:
    """The proposals as text for a terminal, with the commands that apply them."""
    lines = [
        f"建议补充的相似问法：近 {report['period']['days']} 天，"
        f"每篇至少 {report['min_cases']} 个案例  {report['store']}",
    ]
    if not report["proposals"]:
        lines.append("  （无）")
    for p in report["proposals"]:
        lines += ["", f"[{p['id']}] {p['title']}（{p['cases']} 个案例）"]
        firsts = "、".join(
            f"{r['article_id'] or '没有结果'} ×{r['cases']}" for r in p["ranked_first"]
        )
        lines.append(f"  排第一的是：{firsts}")
        for row in p["phrasings"]:
            conflict = (
                f"  ⚠ 冲突：也被建议给 {'、'.join(row['conflict_with'])}，不会写入"
                if row["conflict_with"]
                else ""
            )
            lines.append(f"  + {row['phrasing']}  ×{row['cases']}{conflict}")
        lines.append(f"  例：{p['example']}")
    skipped = report["skipped"]
    if skipped:
        reasons = "，".join(f"{SKIPPED_REASONS.get(k, k)} {v}" for k, v in skipped.items())
        lines += ["", f"未建议的问法（按原因）：{reasons}"]
    if report["proposals"]:
        lines += [
            "",
            "写入文章的 keywords：kb learn --apply ID …（或 --all），然后 kb check 查看效果",
        ]
    return "\n".join(lines)
