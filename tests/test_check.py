"""kb check: a KB change evaluated against its base revision, on a real git repository."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from kb_helpers import MINI_KB

from indexer.check import CheckError, format_check, run_check

# The mini KB's keywords say 拍错了不要了 and 收到就碎了: the cases word them otherwise, since
# `kb check` fails a case that the KB holds verbatim (it would measure the KB against itself).
CASES = [
    {"case": "不合心意 想退掉", "expected": ["seven-day-return"]},
    {"case": "拍错了 这单不要了", "expected": ["cancel-order"]},
    {"case": "一收到就碎了", "expected": ["damaged-item"]},
]


def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    """A git repository whose main branch holds the mini KB and an evaluation set."""
    kb = tmp_path / "kb"
    shutil.copytree(MINI_KB, kb)
    (kb / "eval").mkdir()
    (kb / "eval" / "cases.yaml").write_text(yaml.safe_dump(CASES, allow_unicode=True), "utf-8")
    (kb / "eval" / "thresholds.yaml").write_text("cases.yaml:\n  top1: 0.3\n", "utf-8")
    (kb / "eval" / "check.yaml").write_text("tolerance: 0.0\nmax_right_to_wrong: 1\n", "utf-8")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    return tmp_path


def keywords(kb, path, *words):
    """Replace an article's keywords."""
    file = kb / path
    text = file.read_text(encoding="utf-8")
    head, rest = text.split("keywords:\n", 1)
    tail = rest[rest.index("owner:") :]
    file.write_text(head + "keywords:\n" + "".join(f"  - {w}\n" for w in words) + tail, "utf-8")


def test_a_change_that_fixes_one_case_and_breaks_another_is_reported_both_ways(repo):
    kb = repo / "kb"
    # seven-day-return learns 不合心意 (which nothing matched) but also takes over 拍错了.
    keywords(
        kb,
        "articles/returns-refunds/seven-day-return.md",
        "不想要了能退吗",
        # Not the eval cases' own words: `kb check` fails a case that the KB holds verbatim.
        "不合心意了想退掉",
        "拍错了不要了啊",
        "拍错了",
        "不要了",
    )
    keywords(kb, "articles/before-shipment/cancel-order.md", "取消")

    report = run_check(kb, base="main")

    changed = {c["case"]: c for c in report["sets"]["cases.yaml"]["changed"]}
    assert changed["不合心意 想退掉"]["verdict"] == "better"
    assert changed["不合心意 想退掉"]["was"] is None  # nothing matched it before
    assert changed["不合心意 想退掉"]["now"] == "seven-day-return"
    assert changed["拍错了 这单不要了"]["verdict"] == "worse"
    assert changed["拍错了 这单不要了"]["was"] == "cancel-order"
    assert "一收到就碎了" not in changed
    s = report["sets"]["cases.yaml"]
    assert s["was"]["top1"] == pytest.approx(s["now"]["top1"])  # one up, one down
    summary = format_check(report)
    assert "✅ 变好：不合心意 想退掉" in summary and "❌ 变差：拍错了 这单不要了" in summary
    assert report["passed"]


def test_a_floor_missed_before_and_after_is_reported_but_the_change_is_judged(repo):
    # Issue 13.10: a good change failed because top-1 already sat at its floor.
    kb = repo / "kb"
    (kb / "eval" / "thresholds.yaml").write_text("cases.yaml:\n  top1: 1.0\n", "utf-8")

    report = run_check(kb, base="main")

    assert report["passed"]
    assert "top1" in report["sets"]["cases.yaml"]["below_threshold"]
    summary = format_check(report)
    assert "低于门槛" in summary
    assert "由对变错的案例：0 个（允许 1 个）" in summary and "变差不超过 0.000" in summary


def break_damaged_item(kb):
    keywords(kb, "articles/product-issues/damaged-item.md", "开发票")
    path = kb / "articles/product-issues/damaged-item.md"
    text = path.read_text(encoding="utf-8")
    text = text.replace("title: 运输破损：收到商品压坏碎了", "title: 运输问题").replace(
        "压坏", "延误"
    )
    path.write_text(text, "utf-8")


def test_a_drop_beyond_the_tolerance_fails_and_within_it_passes(repo):
    kb = repo / "kb"
    break_damaged_item(kb)

    report = run_check(kb, base="main")
    s = report["sets"]["cases.yaml"]
    assert s["right_to_wrong"] == 1 and "top1" in s["dropped"]
    assert not report["passed"]
    assert "变差超过 0.000 的指标：top1" in format_check(report)

    (kb / "eval" / "check.yaml").write_text("tolerance: 0.5\nmax_right_to_wrong: 1\n", "utf-8")
    assert run_check(kb, base="main")["passed"]


def test_more_cases_from_right_to_wrong_than_the_kb_allows_fail(repo):
    kb = repo / "kb"
    break_damaged_item(kb)
    (kb / "eval" / "check.yaml").write_text("tolerance: 0.5\nmax_right_to_wrong: 0\n", "utf-8")

    report = run_check(kb, base="main")

    assert not report["passed"]
    assert "由对变错的案例：1 个（允许 0 个） ✗ 超出" in format_check(report)


def test_a_bad_check_file_is_a_clear_error(repo):
    kb = repo / "kb"
    (kb / "eval" / "check.yaml").write_text("tolerance: 很多\n", "utf-8")
    with pytest.raises(CheckError, match="tolerance 应是不小于 0 的数"):
        run_check(kb, base="main")


def test_lint_errors_fail_the_check_before_any_build(repo):
    kb = repo / "kb"
    path = kb / "articles/before-shipment/cancel-order.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("category: before-shipment", "category: nowhere"), "utf-8")

    report = run_check(kb, base="main")

    assert not report["passed"] and report["lint_failed"]
    assert report["sets"] == {}
    assert any("category-unknown" in p for p in report["lint"])


def test_an_unknown_base_revision_is_a_clear_error_and_the_floors_decide(repo):
    report = run_check(repo / "kb", base="no-such-branch")

    assert "base_error" in report and "no-such-branch" in report["base_error"]
    assert report["passed"]  # top-1 is over its floor of 0.3
    (repo / "kb" / "eval" / "thresholds.yaml").write_text("cases.yaml:\n  top1: 1.0\n", "utf-8")
    assert not run_check(repo / "kb", base="no-such-branch")["passed"]


def test_outside_a_git_repository_is_a_clear_error(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(MINI_KB, kb)
    with pytest.raises(CheckError, match="git"):
        run_check(kb)
