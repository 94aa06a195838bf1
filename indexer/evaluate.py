"""Score matching on an evaluation set: accuracy, MRR, facts and slots, against thresholds."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import yaml

from indexer import analysis
from indexer.model import KnowledgeBase
from indexer.search import SearchEngine
from indexer.weights import CALIBRATION_FALSE_FLAGS

METRICS = (
    "top1",
    "top3",
    "mrr",
    "fact_accuracy",
    "slot_accuracy",
    "no_match_recall",
    "false_no_match",
)
# Metrics where lower is better: their threshold is a ceiling, not a floor.
CEILINGS = frozenset({"false_no_match"})


# Files in an eval folder that are not evaluation sets: the floors and kb check's limits.
NOT_EVAL_SETS = frozenset({"thresholds.yaml", "check.yaml"})


def eval_sets(eval_dir: Path) -> list[Path]:
    """The evaluation sets in a folder (every .yaml but thresholds.yaml and check.yaml)."""
    return sorted(p for p in eval_dir.glob("*.yaml") if p.name not in NOT_EVAL_SETS)


class EvalError(Exception):
    """An evaluation set or its thresholds cannot be read; the message says where."""


def load_cases(path: Path) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalError(f"{path}: 文件不存在") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise EvalError(f"{path}:{mark.line + 1 if mark else 1}: YAML 语法错误：{e}") from None
    if not isinstance(data, list) or not data:
        raise EvalError(f"{path}: 评测集应是案例列表（- case: … / expected: [...]）")
    for number, case in enumerate(data, start=1):
        if (
            not isinstance(case, dict)
            or not isinstance(case.get("case"), str)
            or not isinstance(case.get("expected"), list | str)
        ):
            raise EvalError(
                f"{path}: 第 {number} 个案例需要 `case` 文字和 `expected` 文章 id 列表"
                "（没有合适文章的案例写 `expected: []`）"
            )
        if isinstance(case["expected"], str):
            case["expected"] = [case["expected"]]
    return data


def load_thresholds(cases_path: Path) -> dict[str, dict[str, float]]:
    """Thresholds per evaluation file name, from thresholds.yaml beside the set."""
    path = cases_path.parent / "thresholds.yaml"
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return data.get(cases_path.name, data.get("default", {}))


def _same(expected: Any, got: Any) -> bool:
    if isinstance(got, float) or isinstance(expected, int | float):
        try:
            return math.isclose(float(expected), float(got))
        except (TypeError, ValueError):
            return False
    return str(expected) == str(got)


def first_rank(ids: list[str], expected: list[str]) -> int | None:
    """1-based rank of the first expected id among the results, None when absent."""
    return next((i for i, x in enumerate(ids, start=1) if x in expected), None)


def rank_metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "top1": sum(r == 1 for r in ranks) / n,
        "top3": sum(r is not None and r <= 3 for r in ranks) / n,
        "mrr": sum(1 / r for r in ranks if r) / n,
    }


def _check_read(case: dict, kind: str, wanted: dict | None, read: dict, misses: list) -> int:
    """Compare the facts or slots a case expects with those read; record misses, return the count."""
    for name, want in (wanted or {}).items():
        got = read.get(name)
        if got is None or not _same(want, got.value):
            misses.append(
                {
                    "case": case["case"],
                    kind: name,
                    "expected": want,
                    "got": None if got is None else got.value,
                }
            )
    return len(wanted or {})


def run_eval(engine: SearchEngine, path: Path, baseline: bool = True) -> dict[str, Any]:
    """Run every case through the engine; return metrics, thresholds and failing cases."""
    cases = load_cases(path)
    known = set(engine.current().articles)
    unknown = sorted({e for c in cases for e in c["expected"] if e not in known})
    if unknown:
        raise EvalError(f"{path}: 评测集引用了不存在的文章 {', '.join(unknown)}")
    ranks: list[int | None] = []
    failures, latencies = [], []
    fact_misses: list[dict] = []
    slot_misses: list[dict] = []
    fact_total = slot_total = 0
    flagged_positive = flagged_negative = negatives = 0
    evidence: list[tuple[float, bool]] = []  # (first hit's evidence, is a positive case)
    outcomes: list[tuple[dict, int | None, bool]] = []  # (case, rank, flagged no good match)
    for case in cases:
        started = time.perf_counter()
        result = engine.search(case["case"], limit=10)
        latencies.append((time.perf_counter() - started) * 1000)
        ids = [h.article.id for h in result.hits]
        evidence.append((result.evidence, bool(case["expected"])))
        rank = first_rank(ids, case["expected"]) if case["expected"] else None
        outcomes.append((case, rank, result.no_good_match))
        if not case["expected"]:
            negatives += 1
            flagged_negative += result.no_good_match
            if not result.no_good_match:
                failures.append(
                    {"case": case["case"], "expected": [], "got": ids[:3], "rank": None}
                )
        else:
            ranks.append(rank)
            flagged_positive += result.no_good_match
            if rank != 1:
                failures.append(
                    {
                        "case": case["case"],
                        "expected": case["expected"],
                        "got": ids[:3],
                        "rank": rank,
                    }
                )
        fact_total += _check_read(case, "fact", case.get("facts"), result.query.facts, fact_misses)
        slot_total += _check_read(case, "slot", case.get("slots"), result.query.slots, slot_misses)
    n = len(cases)
    metrics = {
        **(rank_metrics(ranks) if ranks else {}),
        "fact_accuracy": 1 - len(fact_misses) / fact_total if fact_total else 1.0,
        "slot_accuracy": 1 - len(slot_misses) / slot_total if slot_total else 1.0,
        "false_no_match": flagged_positive / len(ranks) if ranks else 0.0,
    }
    if negatives:
        metrics["no_match_recall"] = flagged_negative / negatives
    thresholds = load_thresholds(path)
    below = {
        m: (metrics[m], t)
        for m, t in thresholds.items()
        if m in metrics and (metrics[m] > t if m in CEILINGS else metrics[m] < t)
    }
    copied = copied_cases(cases, engine.current().kb)
    latencies.sort()
    report = {
        "file": str(path),
        "cases": n,
        "facts_checked": fact_total,
        "slots_checked": slot_total,
        "metrics": metrics,
        "thresholds": thresholds,
        "below_threshold": {m: {"value": v, "threshold": t} for m, (v, t) in below.items()},
        "passed": not below and not copied,
        "copied": copied,
        "positives": len(ranks),
        "negatives": negatives,
        "evidence": evidence,
        "latency_ms": {"p50": latencies[n // 2], "p99": latencies[min(n - 1, int(n * 0.99))]},
        "failures": failures,
        "fact_misses": fact_misses,
        "slot_misses": slot_misses,
    }
    base_ranks = baseline_ranks(engine, cases) if baseline else None
    if base_ranks is not None and ranks:  # a set of negatives only has no ranks to compare
        report["baseline"] = rank_metrics(
            [r for r, c in zip(base_ranks, cases, strict=True) if c["expected"]]
        )
    report["by_shape"] = by_group(
        outcomes, base_ranks, lambda c: [c["shape"]] if "shape" in c else []
    )
    report["by_article"] = by_group(outcomes, base_ranks, lambda c: c["expected"])
    return report


def by_group(outcomes, base_ranks, groups_of) -> dict[str, dict[str, Any]]:
    """Top-1 / top-3 (and the baseline's) and no-good-match flags per group of cases: per
    `shape` (single, multi, chat, neg …) where cases say it, or per expected article."""
    found: dict[str, dict[str, Any]] = {}
    for number, (case, rank, flagged) in enumerate(outcomes):
        for group in groups_of(case):
            g = found.setdefault(str(group), {"cases": 0, "ranks": [], "base": [], "flagged": 0})
            g["cases"] += 1
            g["flagged"] += flagged
            if case["expected"]:
                g["ranks"].append(rank)
                if base_ranks is not None:
                    g["base"].append(base_ranks[number])
    out = {}
    for group, g in sorted(found.items()):
        row: dict[str, Any] = {"cases": g["cases"], "no_good_match": g["flagged"] / g["cases"]}
        if g["ranks"]:
            m = rank_metrics(g["ranks"])
            row |= {"top1": m["top1"], "top3": m["top3"]}
        if g["base"]:
            b = rank_metrics(g["base"])
            row |= {"baseline_top1": b["top1"], "baseline_top3": b["top3"]}
        out[group] = row
    return out


# A KB phrase this long found inside an evaluation case was most likely copied from it.
COPIED_PHRASE_CHARS = 10


def copied_cases(cases: list[dict[str, Any]], kb: KnowledgeBase) -> list[dict[str, str]]:
    """Evaluation cases the KB contains verbatim, or that contain a long KB phrase (keyword,
    example, fact phrase, synonym): such a case measures the KB against itself, not matching."""
    phrases: dict[str, str] = {}
    for article in kb.articles:
        for keyword in article.keywords:
            phrases[_squash(keyword)] = f"{article.path} keywords: {keyword}"
        for example in article.examples:
            phrases[_squash(example)] = f"{article.path} examples: {example}"
    for name, spec in kb.facts.items():
        for value, signals in spec.values.items():
            for phrase in signals:
                phrases[_squash(phrase)] = f"facts.yaml {name}.{value}: {phrase}"
        for example in spec.examples:
            phrases[_squash(example)] = f"facts.yaml {name} examples: {example}"
    for canonical, variants in kb.synonyms.items():
        for variant in variants:
            phrases[_squash(variant)] = f"synonyms.yaml {canonical}: {variant}"
    texts = [
        (a.path, _squash("\n".join([a.title, a.body, *(s.text for s in a.checklist)])))
        for a in kb.articles
    ]
    long_phrases = [(p, w) for p, w in phrases.items() if len(p) >= COPIED_PHRASE_CHARS]
    found = []
    for case in cases:
        text = _squash(case["case"])
        where = phrases.get(text)
        where = where or next((f"{path}（正文）" for path, t in texts if text and text in t), None)
        where = where or next((w for p, w in long_phrases if p in text), None)
        if where:
            found.append({"case": case["case"], "where": where})
    return found


def _squash(text: str) -> str:
    """Text compared for copying: normalised, without spaces and punctuation."""
    return "".join(c for c in analysis.normalize(text) if c.isalnum())


def baseline_ranks(engine: SearchEngine, cases: list[dict[str, Any]]) -> list[int | None] | None:
    """Each case's rank under plain BM25 (bm25s) over jieba tokens of whole articles: no
    synonyms, fields or facts. None where bm25s is not installed."""
    try:
        import bm25s
    except ImportError:
        return None
    loaded = engine.current()
    articles = loaded.kb.articles
    corpus = []
    for a in articles:
        text = "\n".join([a.title, *a.tags, *a.keywords, *(s.text for s in a.checklist), a.body])
        corpus.append(analysis.cut(analysis.normalize(text)))
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    ranks = []
    for case in cases:
        tokens = analysis.cut(analysis.normalize(case["case"]))
        ids = [articles[i].id for i in _bm25s_rank(retriever, tokens, len(articles))]
        ranks.append(first_rank(ids, case["expected"]))
    return ranks


def _bm25s_rank(retriever, tokens: list[str], n_docs: int) -> list[int]:
    vocab = retriever.vocab_dict
    ids = [vocab[t] for t in tokens if t in vocab]
    if not ids:
        return []
    scores = retriever.get_scores(ids)
    order = sorted(range(n_docs), key=lambda i: -scores[i])
    return [i for i in order if scores[i] > 0]


def _cell(row: dict[str, Any], key: str, width: int = 8) -> str:
    return f"{row[key]:>{width}.3f}" if key in row else f"{'-':>{width}}"


def format_articles(report: dict[str, Any]) -> str:
    """Top-1 and top-3 per expected article (a case counts for every id it accepts)."""
    lines = [f"{'文章':<34}{'案例':>6}{'top1':>8}{'top3':>8}{'基线top1':>10}"]
    rows = sorted(report["by_article"].items(), key=lambda kv: -kv[1]["cases"])
    for article_id, row in rows:
        lines.append(
            f"{article_id:<34}{row['cases']:>6}{_cell(row, 'top1')}{_cell(row, 'top3')}"
            f"{_cell(row, 'baseline_top1', 10)}"
        )
    return "\n".join(lines)


# The lists of a report that name cases, each entry with the case's text under "case".
CASE_LISTS = ("failures", "fact_misses", "slot_misses", "copied")


def without_case_texts(report: dict[str, Any]) -> dict[str, Any]:
    """The report with no case's text in it (ids, ranks, counts and figures stay): for a
    held-out set whose texts the people tuning matching must not read."""
    return {
        **report,
        **{
            key: [{k: v for k, v in item.items() if k != "case"} for item in report[key]]
            for key in CASE_LISTS
        },
    }


def format_report(report: dict[str, Any], max_failures: int = 40) -> str:
    m, t = report["metrics"], report["thresholds"]
    base = report.get("baseline") or {}
    lines = [
        f"评测集 {report['file']}：{report['cases']} 个案例"
        f"（有合适文章 {report['positives']}，没有 {report['negatives']}）"
        f"（事实 {report['facts_checked']} 项，槽位 {report['slots_checked']} 项）",
        "",
        f"{'指标':<14}{'本系统':>8}{'基线BM25':>10}{'门槛':>8}",
    ]
    for name in METRICS:
        if name not in m:
            continue
        b = f"{base[name]:.3f}" if name in base else "-"
        th = f"{t[name]:.3f}" if name in t else "-"
        flag = ""
        if name in report["below_threshold"]:
            flag = "  ✗ 高于上限" if name in CEILINGS else "  ✗ 低于门槛"
        lines.append(f"{name:<16}{m[name]:>8.3f}{b:>10}{th:>8}{flag}")
    if report.get("by_shape"):
        lines.append(
            f"\n{'形态':<10}{'案例':>6}{'top1':>8}{'top3':>8}{'基线top1':>10}{'标为未找到':>10}"
        )
        for shape, row in report["by_shape"].items():
            lines.append(
                f"{shape:<12}{row['cases']:>6}{_cell(row, 'top1')}{_cell(row, 'top3')}"
                f"{_cell(row, 'baseline_top1', 10)}{row['no_good_match']:>10.3f}"
            )
    lat = report["latency_ms"]
    lines.append(f"\n检索用时：中位数 {lat['p50']:.1f} ms，p99 {lat['p99']:.1f} ms")
    if report["failures"]:
        lines.append(f"\n第一名不对的案例（{len(report['failures'])}）：")
        for f in report["failures"][:max_failures]:
            lines.append(
                f"  [{f['rank'] or '-'}] {f['case'][:50]}\n"
                f"      应为 {', '.join(f['expected'])}；实为 {', '.join(f['got'])}"
            )
    for key, label in (("fact_misses", "事实"), ("slot_misses", "槽位")):
        if report[key]:
            lines.append(f"\n{label}读错（{len(report[key])}）：")
            for miss in report[key][:max_failures]:
                name = miss.get("fact") or miss.get("slot")
                lines.append(
                    f"  {name}: 应为 {miss['expected']}，实为 {miss['got']}  ← {miss['case'][:40]}"
                )
    if report["copied"]:
        lines.append(
            f"\n评测案例与知识库内容重复（{len(report['copied'])}，评测会变成自测，请改写其一）："
        )
        for c in report["copied"][:max_failures]:
            lines.append(f"  {c['case'][:50]}\n      见 {c['where']}")
    lines.append("\n结果：" + ("通过" if report["passed"] else "未达门槛"))
    return "\n".join(lines)


def calibrate(engine: SearchEngine, paths: list[Path]) -> dict[str, Any]:
    """The no-good-match line for this KB: where at most CALIBRATION_FALSE_FLAGS of the
    evaluation sets' positive cases fall below it; and what it flags in each set."""
    reports = [run_eval(engine, path, baseline=False) for path in paths]
    positives = sorted(e for r in reports for e, positive in r["evidence"] if positive)
    if not positives:
        raise EvalError("评测集里没有有合适文章的案例，无法校准")
    line = positives[int(CALIBRATION_FALSE_FLAGS * len(positives))]
    per_set = {}
    for report in reports:
        pos = [e for e, positive in report["evidence"] if positive]
        neg = [e for e, positive in report["evidence"] if not positive]
        per_set[report["file"]] = {
            "false_no_match": sum(e < line for e in pos) / len(pos) if pos else 0.0,
            "no_match_recall": sum(e < line for e in neg) / len(neg) if neg else None,
        }
    return {"no_good_match_below": round(line, 2), "sets": per_set}


def write_calibration(kb_dir: Path, line: float) -> Path:
    """Write the calibrated line to kb/matching.yaml, keeping the file's explanation."""
    path = kb_dir / "matching.yaml"
    path.write_text(
        "# The line below which the first procedure is not a good match (未找到合适流程):\n"
        "# evidence = its BM25 score + its closest phrasing (see indexer/weights.py).\n"
        "# Calibrated on the evaluation sets by `kb eval --calibrate --write`; re-run it after\n"
        "# changing many articles, and let `kb check` show what it does.\n"
        f"no_good_match_below: {line}\n",
        encoding="utf-8",
    )
    return path
