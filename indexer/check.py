"""`kb check`: what a knowledge-base pull request does to matching, as a Markdown summary.

Lints the working tree's KB, builds it into a scratch index, evaluates every set under
kb/eval/, does the same for the base revision's KB (taken from git), and lists the cases whose
first result changed.

It judges the change, not the absolute: it fails when a metric drops by more than the KB's
tolerance or more cases go from right to wrong than the KB allows (kb/eval/check.yaml). The
floors in thresholds.yaml are reported beside; they fail the check only when the base revision
cannot be evaluated (`kb eval` enforces them on their own).
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import yaml

from indexer.build import BuildError, build_index
from indexer.evaluate import CEILINGS, METRICS, eval_sets, load_cases, run_eval
from indexer.lint import has_errors, lint_kb
from indexer.search import SearchEngine


class CheckError(Exception):
    """The base revision cannot be read from git; the message says why."""


CHECK_FILE = "check.yaml"
# Without kb/eval/check.yaml a change may cost nothing.
DEFAULT_LIMITS = {"tolerance": 0.0, "max_right_to_wrong": 0}


def load_limits(eval_dir: Path) -> dict[str, Any]:
    """What a change may cost against its base (check.yaml): a metric's drop and right→wrong
    cases per set; with where the figures come from."""
    path = eval_dir / CHECK_FILE
    if not path.exists():
        return {**DEFAULT_LIMITS, "source": "默认"}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise CheckError(f"{path}:{mark.line + 1 if mark else 1}: YAML 语法错误：{e}") from None
    unknown = sorted(set(data) - set(DEFAULT_LIMITS)) if isinstance(data, dict) else ["?"]
    if unknown:
        raise CheckError(
            f"{path}: 只能写 tolerance（指标最多下降多少，如 0.01）和 max_right_to_wrong"
            f"（每个评测集最多几个案例由对变错，如 1），收到的是 {', '.join(map(str, unknown))}"
        )
    limits = {**DEFAULT_LIMITS, **data}
    tolerance, flips = limits["tolerance"], limits["max_right_to_wrong"]
    if not isinstance(tolerance, int | float) or isinstance(tolerance, bool) or tolerance < 0:
        raise CheckError(f"{path}: tolerance 应是不小于 0 的数（如 0.01），收到的是 {tolerance!r}")
    if not isinstance(flips, int) or isinstance(flips, bool) or flips < 0:
        raise CheckError(
            f"{path}: max_right_to_wrong 应是不小于 0 的整数（如 1），收到的是 {flips!r}"
        )
    return {"tolerance": float(tolerance), "max_right_to_wrong": flips, "source": str(path.name)}


@dataclass
class SideResult:
    reports: dict[str, dict[str, Any]]
    firsts: dict[str, dict[str, str | None]]  # eval file -> case -> first result id


def _git(repo: Path, *args: str) -> bytes:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args], check=True, capture_output=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", b"") or b""
        raise CheckError(
            f"git {' '.join(args)} 失败：{detail.decode(errors='replace').strip() or e}"
        ) from e


def default_base(repo: Path) -> str:
    """The merge base with main (or HEAD when there is no main branch)."""
    try:
        return _git(repo, "merge-base", "HEAD", "main").decode().strip()
    except CheckError:
        return "HEAD"


def export_kb(repo: Path, ref: str, kb_rel: str, target: Path) -> Path:
    """Write the KB folder as it is at `ref` into target; return its path."""
    archive = _git(repo, "archive", "--format=tar", ref, kb_rel)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / kb_rel


def evaluate_kb(kb_dir: Path, eval_files: list[Path], scratch: Path) -> SideResult:
    root = scratch / "index"
    build_index(kb_dir, root)
    engine = SearchEngine(root)
    reports, firsts = {}, {}
    for path in eval_files:
        reports[path.name] = run_eval(engine, path, baseline=False)
        firsts[path.name] = {
            case["case"]: next((h.article.id for h in engine.search(case["case"], 1).hits), None)
            for case in load_cases(path)
        }
    return SideResult(reports, firsts)


def run_check(kb_dir: Path, base: str | None = None) -> dict[str, Any]:
    """Compare the working tree's KB with the base revision's; return a report for format_check."""
    kb_dir = kb_dir.resolve()
    repo = Path(_git(kb_dir, "rev-parse", "--show-toplevel").decode().strip())
    kb_rel = str(kb_dir.relative_to(repo))
    base = base or default_base(repo)
    _, problems = lint_kb(kb_dir)
    report: dict[str, Any] = {
        "base": base,
        "lint": [p.format() for p in problems],
        "lint_failed": has_errors(problems),
        "sets": {},
    }
    if report["lint_failed"]:
        report["passed"] = False
        return report
    limits = load_limits(kb_dir / "eval")
    report["limits"] = limits
    eval_files = eval_sets(kb_dir / "eval")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        now = evaluate_kb(kb_dir, eval_files, tmp / "now")
        try:
            base_kb = export_kb(repo, base, kb_rel, tmp / "base-src")
            was = evaluate_kb(
                base_kb,
                [f for f in eval_files if (base_kb / "eval" / f.name).exists()],
                tmp / "base",
            )
        except (CheckError, BuildError) as e:
            was, report["base_error"] = SideResult({}, {}), str(e)
    for path in eval_files:
        name = path.name
        cases = load_cases(path)
        expected = {c["case"]: c["expected"] for c in cases}
        changed = []
        for case, first in now.firsts[name].items():
            before = was.firsts.get(name, {}).get(case, first)
            if before != first:
                good_now, good_before = first in expected[case], before in expected[case]
                verdict = (
                    "better"
                    if good_now and not good_before
                    else ("worse" if good_before and not good_now else "changed")
                )
                changed.append(
                    {
                        "case": case,
                        "was": before,
                        "now": first,
                        "verdict": verdict,
                        "expected": expected[case],
                    }
                )
        metrics_now = now.reports[name]["metrics"]
        metrics_was = was.reports.get(name, {}).get("metrics")
        report["sets"][name] = {
            "now": metrics_now,
            "was": metrics_was,
            "below_threshold": now.reports[name]["below_threshold"],
            "copied": now.reports[name]["copied"],
            "dropped": worse_metrics(metrics_was, metrics_now, limits["tolerance"]),
            "right_to_wrong": sum(1 for c in changed if c["verdict"] == "worse"),
            "changed": changed,
        }
    report["passed"] = all(_set_passes(s, limits) for s in report["sets"].values())
    return report


def worse_metrics(was: dict | None, now: dict, tolerance: float) -> list[str]:
    """Metrics that got worse by more than the tolerance (a ceiling's metric by going up)."""
    if was is None:
        return []
    worse = []
    for metric in METRICS:
        if was.get(metric) is None or now.get(metric) is None:
            continue
        loss = was[metric] - now[metric]
        if metric in CEILINGS:  # a rise is the loss
            loss = -loss
        if loss > tolerance + 1e-9:
            worse.append(metric)
    return worse


def _set_passes(result: dict[str, Any], limits: dict[str, Any]) -> bool:
    if result["copied"]:  # eval cases copied into the KB: the set no longer tests anything
        return False
    if result["was"] is None:  # no base to compare with: the absolute floors decide
        return not result["below_threshold"]
    return not result["dropped"] and result["right_to_wrong"] <= limits["max_right_to_wrong"]


def format_check(report: dict[str, Any]) -> str:
    """A Markdown summary fit for a pull-request comment."""
    lines = [f"## kb check（对比 `{report['base'][:12]}`）", ""]
    errors = [p for p in report["lint"] if "[error]" in p]
    lines.append(
        f"**检查（lint）**：{len(errors)} 个错误，{len(report['lint']) - len(errors)} 个警告"
    )
    lines += [f"- `{p}`" for p in report["lint"][:30]]
    if report.get("base_error"):
        lines.append(
            f"\n> 无法评测基准版本：{report['base_error']}；改按 thresholds.yaml 的门槛判断"
        )
    limits = report.get("limits")
    if limits:
        lines.append(
            f"\n判断标准（{limits['source']}）：与基准相比，任一指标变差不超过 "
            f"{limits['tolerance']:.3f}，每个评测集由对变错的案例不超过 "
            f"{limits['max_right_to_wrong']} 个"
        )
    for name, s in report.get("sets", {}).items():
        lines += [
            "",
            f"### {name}",
            "",
            "| 指标 | 之前 | 现在 | 变化 |",
            "| --- | --- | --- | --- |",
        ]
        for metric in (m for m in METRICS if s["now"].get(m) is not None):
            now = s["now"][metric]
            was = s["was"].get(metric) if s["was"] else None
            delta = "" if was is None else f"{now - was:+.3f}"
            flag = " ✗ 低于门槛" if metric in s["below_threshold"] else ""
            lines.append(
                f"| {metric} | {'-' if was is None else f'{was:.3f}'} | {now:.3f}{flag} | {delta} |"
            )
        if s["copied"]:
            lines += ["", "与知识库内容重复的评测案例（评测会变成自测，请改写其一）：", ""]
            lines += [f"- {c['case'][:40]} — 见 {c['where']}" for c in s["copied"]]
        if s["was"] is not None:
            limit = report["limits"]
            drop_ok = "✓" if not s["dropped"] else "✗ 超出"
            flips_ok = "✓" if s["right_to_wrong"] <= limit["max_right_to_wrong"] else "✗ 超出"
            dropped = "、".join(s["dropped"]) or "无"
            lines += [
                "",
                f"- 变差超过 {limit['tolerance']:.3f} 的指标：{dropped} {drop_ok}",
                f"- 由对变错的案例：{s['right_to_wrong']} 个（允许 {limit['max_right_to_wrong']} 个）"
                f" {flips_ok}",
            ]
        if s["changed"]:
            lines += ["", "第一名变化的案例：", ""]
            icon = {"better": "✅ 变好", "worse": "❌ 变差", "changed": "↔ 变化"}
            for c in s["changed"]:
                lines.append(
                    f"- {icon[c['verdict']]}：{c['case'][:40]} — 之前 `{c['was']}` → 现在 "
                    f"`{c['now']}`（应为 {', '.join(c['expected'])}）"
                )
        else:
            lines += ["", "第一名没有变化。"]
    lines += ["", "**结果：" + ("通过**" if report["passed"] else "未通过**")]
    return "\n".join(lines)
