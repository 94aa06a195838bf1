"""The `kb` command: exit codes and output, run as real subprocesses of the installed script."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from kb_helpers import copy_mini_kb, edit, run_kb

from assist_app.assist import assist
from assist_app.cli import main
from assist_app.settings import Settings
from indexer.build import build_index
from indexer.layout import current_build, read_manifest, write_manifest


@pytest.fixture(scope="module")
def mini(tmp_path_factory) -> tuple[Path, Path]:
    """The mini KB and its index, built once for this module (read-only for tests)."""
    base = tmp_path_factory.mktemp("cli")
    kb = copy_mini_kb(base)
    root = base / "index"
    build_index(kb, root)
    return kb, root


def without_timing(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "took_ms"}


# --- kb search


def test_search_json_is_the_assist_document(engine, index_root):
    case = "订单3900581274630918275 拍错了 还没发货 想取消"

    result = CliRunner().invoke(main, ["--index", str(index_root), "search", case, "--json"])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    expected = json.loads(json.dumps(assist(engine, case)))
    assert printed.keys() == expected.keys()
    assert without_timing(printed) == without_timing(expected)


def test_search_text_lists_ranked_results(mini):
    kb, root = mini

    result = CliRunner().invoke(
        main, ["--kb", str(kb), "--index", str(root), "search", "收到就碎了 箱子压坏", "-k", "2"]
    )

    assert result.exit_code == 0, result.output
    assert re.search(r"^事实：.*reason=破损", result.stdout, re.MULTILINE)
    ranked = re.findall(r"^(\d)\. (\S+)  ", result.stdout, re.MULTILINE)
    assert ranked[0] == ("1", "damaged-item")
    assert len(ranked) <= 2


def test_search_allows_as_many_results_as_the_api(mini):
    kb, root = mini
    most = Settings.max_limit

    allowed = CliRunner().invoke(
        main, ["--kb", str(kb), "--index", str(root), "search", "退款", "-k", str(most)]
    )
    refused = CliRunner().invoke(
        main, ["--kb", str(kb), "--index", str(root), "search", "退款", "-k", str(most + 1)]
    )

    assert allowed.exit_code == 0, allowed.output
    assert refused.exit_code == 2
    assert f"1<=x<={most}" in refused.output


def test_search_says_when_the_index_is_older_than_the_kb_files(tmp_path):
    kb = copy_mini_kb(tmp_path)
    root = tmp_path / "index"
    build_index(kb, root)
    args = ["--kb", str(kb), "--index", str(root), "search", "收到就碎了"]

    fresh = CliRunner().invoke(main, args)
    assert fresh.exit_code == 0 and "索引比知识库文件旧" not in fresh.stderr

    article = kb / "articles/product-issues/damaged-item.md"
    built = (current_build(root) / "manifest.json").stat().st_mtime
    os.utime(article, (built + 5, built + 5))  # edited after the build
    stale = CliRunner().invoke(main, args)
    assert stale.exit_code == 0
    assert (
        "索引比知识库文件旧" in stale.stderr
        and "articles/product-issues/damaged-item.md" in stale.stderr
    )
    assert "kb index" in stale.stderr

    os.utime(article, (built - 100, built - 100))
    build_index(kb, root)  # a build after the file's last change: fresh again
    assert "索引比知识库文件旧" not in CliRunner().invoke(main, args).stderr


@pytest.mark.parametrize("case", ["", "   "])
def test_search_refuses_an_empty_case(mini, case):
    kb, root = mini

    result = run_kb("--kb", kb, "--index", root, "search", case)

    assert result.returncode == 2
    assert "案例描述不能为空" in result.stderr
    assert result.stdout == ""


def test_search_rebuilds_an_index_of_an_older_format(tmp_path):
    kb = copy_mini_kb(tmp_path)
    root = tmp_path / "index"
    old = build_index(kb, root).path
    manifest = read_manifest(old)
    write_manifest(old, {**manifest, "format": 1})

    result = CliRunner().invoke(
        main, ["--kb", str(kb), "--index", str(root), "search", "不想要了能退吗", "--json"]
    )

    assert result.exit_code == 0, result.output
    assert "索引是旧版本程序构建的，正在重新构建" in result.stderr
    assert json.loads(result.stdout)["results"][0]["id"] == "seven-day-return"
    assert current_build(root) != old


def test_search_builds_the_index_when_there_is_none(tmp_path):
    kb = copy_mini_kb(tmp_path)
    root = tmp_path / "index"

    result = CliRunner().invoke(
        main, ["--kb", str(kb), "--index", str(root), "search", "不想要了能退吗", "--json"]
    )

    assert result.exit_code == 0, result.output
    assert "还没有索引，正在构建" in result.stderr
    assert json.loads(result.stdout)["results"][0]["id"] == "seven-day-return"
    assert current_build(root) is not None


# --- kb index


def test_index_builds_and_reports(tmp_path):
    kb = copy_mini_kb(tmp_path)
    root = tmp_path / "index"

    first = CliRunner().invoke(main, ["--kb", str(kb), "--index", str(root), "index"])
    second = CliRunner().invoke(main, ["--kb", str(kb), "--index", str(root), "index"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert re.match(r"已构建 \S+：3 篇文章，\d+ 个词项", first.stdout)
    assert "（重新分词 3 篇）" in first.stdout
    assert "（重新分词 0 篇）" in second.stdout
    assert current_build(root).name in second.stdout


def test_index_of_a_broken_kb_exits_1_with_the_problems_on_stderr(tmp_path):
    kb = copy_mini_kb(tmp_path)
    root = tmp_path / "index"
    edit(
        kb / "articles/before-shipment/cancel-order.md",
        "platforms: [淘宝, 拼多多]",
        "platforms: [淘宝, 拼夕夕]",
    )
    edit(kb / "articles/product-issues/damaged-item.md", "{{tracking_no}}", "{{tracking}}")

    result = run_kb("--kb", kb, "--index", root, "index")

    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("kb/articles/before-shipment/cancel-order.md:6: [error] ")
    assert lines[0].endswith("(platform-unknown)")
    assert lines[1].startswith("kb/articles/product-issues/damaged-item.md:20: [error] ")
    assert lines[1].endswith("(placeholder-unknown)")
    assert lines[2] == "Error: 知识库有 2 个错误，未构建索引（先运行 kb lint 修正）"
    assert current_build(root) is None


# --- kb eval


def write_eval(folder: Path, cases: dict[str, list[dict]], thresholds: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, items in cases.items():
        (folder / name).write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    (folder / "thresholds.yaml").write_text(json.dumps(thresholds), encoding="utf-8")


EVAL_CASES = [
    {
        "case": "拍错了 还没发货 想取消订单",
        "expected": ["cancel-order"],
        "facts": {"order_status": "未发货"},
    },
    {
        "case": "收到就碎了 箱子压坏 SF1234567890123",
        "expected": "damaged-item",
        "slots": {"tracking_no": "SF1234567890123"},
    },
    {"case": "不想要了能退吗 七天无理由", "expected": ["seven-day-return"]},
]


@pytest.fixture
def eval_dir(tmp_path) -> Path:
    folder = tmp_path / "eval"
    wrong = [*EVAL_CASES[:2], {**EVAL_CASES[2], "expected": ["damaged-item"]}]
    write_eval(
        folder,
        {"met.yaml": EVAL_CASES, "missed.yaml": wrong},
        {
            "met.yaml": {"top1": 1.0, "fact_accuracy": 1.0, "slot_accuracy": 1.0},
            "missed.yaml": {"top1": 0.9, "top3": 0.9},
        },
    )
    return folder


def test_eval_exits_0_when_thresholds_are_met(mini, eval_dir):
    kb, root = mini

    result = run_kb(
        "--kb", kb, "--index", root, "eval", eval_dir / "met.yaml", "--json", "--no-baseline"
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert report["metrics"] == {
        "top1": 1.0,
        "top3": 1.0,
        "mrr": 1.0,
        "fact_accuracy": 1.0,
        "slot_accuracy": 1.0,
        "false_no_match": 0.0,  # the mini KB has no calibrated line: nothing is flagged
    }
    assert (report["facts_checked"], report["slots_checked"]) == (1, 1)


def test_eval_exits_1_when_a_threshold_is_missed(mini, eval_dir):
    kb, root = mini

    result = run_kb("--kb", kb, "--index", root, "eval", eval_dir / "missed.yaml", "--no-baseline")

    assert result.returncode == 1
    assert re.search(r"^top1 +0\.667 +- +0\.900  ✗ 低于门槛$", result.stdout, re.MULTILINE)
    assert "应为 damaged-item；实为 seven-day-return" in result.stdout
    assert result.stdout.rstrip().endswith("结果：未达门槛")


def test_eval_on_an_unloadable_build_says_why_in_one_line(mini, eval_dir, tmp_path):
    # A build from before the score arrays existed: the message names what is missing.
    kb, root = mini
    old = tmp_path / "index"
    shutil.copytree(root, old, symlinks=True)
    shutil.rmtree(current_build(old) / "arrays")

    result = run_kb("--kb", kb, "--index", old, "eval", eval_dir / "met.yaml", "--no-baseline")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "没有可用的索引" in result.stderr and "terms.json" in result.stderr
    assert "kb index" in result.stderr


def test_eval_of_a_set_naming_an_unknown_article_fails_with_the_name(mini, tmp_path):
    kb, root = mini
    write_eval(tmp_path, {"cases.yaml": [{"case": "退款", "expected": ["no-such-article"]}]}, {})

    result = CliRunner().invoke(
        main, ["--kb", str(kb), "--index", str(root), "eval", str(tmp_path / "cases.yaml")]
    )

    assert result.exit_code == 1
    assert "评测集引用了不存在的文章 no-such-article" in result.stderr


# --- kb review


def test_review_lists_an_overdue_article_under_its_owner(tmp_path):
    kb = copy_mini_kb(tmp_path)
    article = kb / "articles/returns-refunds/seven-day-return.md"
    edit(article, "owner: 售后组", "owner: 退货组张三")
    edit(
        article,
        "reviewed: 2026-11-01\nreview_every_days: 3650",
        "reviewed: 2020-01-01\nreview_every_days: 30",
    )

    result = CliRunner().invoke(main, ["--kb", str(kb), "review"])

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == "退货组张三"
    assert re.fullmatch(
        r"  2020-01-31  已超期 \d+ 天  seven-day-return  "
        r"kb/articles/returns-refunds/seven-day-return\.md",
        lines[1],
    )
    assert len(lines) == 2  # the other articles are not due


def test_review_with_a_horizon_groups_by_owner(tmp_path):
    kb = copy_mini_kb(tmp_path)

    result = CliRunner().invoke(main, ["--kb", str(kb), "review", "--days", "5000"])

    assert result.exit_code == 0
    owners = [line for line in result.output.splitlines() if line and not line.startswith(" ")]
    assert owners == ["售前组", "售后组"]
    assert result.output.count("天后到期") == 3


def test_review_says_when_nothing_is_due(tmp_path):
    result = CliRunner().invoke(main, ["--kb", str(copy_mini_kb(tmp_path)), "review"])

    assert result.exit_code == 0
    assert result.output.strip() == "没有到期需要复核的文章"


# --- help


def test_kb_help_as_a_subprocess():
    result = run_kb("--help")

    assert result.returncode == 0
    for command in main.commands:
        assert command in result.stdout


@pytest.mark.parametrize("command", sorted(main.commands))
def test_each_subcommand_has_help(command):
    result = CliRunner().invoke(main, [command, "--help"])

    assert result.exit_code == 0, result.output
    assert f"Usage: main {command}" in result.output
    summary = main.commands[command].help.split("\n")[0]
    assert summary in " ".join(result.output.split())  # help text is re-wrapped


# --- kb eval --calibrate


def test_calibrate_writes_a_line_that_flags_what_no_article_covers(tmp_path):
    kb = copy_mini_kb(tmp_path)
    root = tmp_path / "index"
    cases = [
        *EVAL_CASES,
        {"case": "还没发货 不想要了 取消吧", "expected": ["cancel-order"]},
        {"case": "包裹到了 里面的盘子碎成几块", "expected": ["damaged-item"]},
        {"case": "这款手机支持双卡吗", "expected": []},
    ]
    write_eval(kb / "eval", {"set.yaml": cases}, {})
    build = run_kb("--kb", kb, "--index", root, "index")
    assert build.returncode == 0, build.stderr

    before = run_kb("--kb", kb, "--index", root, "search", "这款手机支持双卡吗", "--json")
    assert json.loads(before.stdout)["no_good_match"] is False  # no line yet: nothing flagged

    result = run_kb("--kb", kb, "--index", root, "eval", "--calibrate", "--write")
    assert result.returncode == 0, result.stderr
    line = float(re.search(r"no_good_match_below: ([\d.]+)", result.stdout)[1])
    assert line > 0
    assert f"no_good_match_below: {line}" in (kb / "matching.yaml").read_text("utf-8")

    assert run_kb("--kb", kb, "--index", root, "index").returncode == 0
    after = run_kb("--kb", kb, "--index", root, "eval", kb / "eval" / "set.yaml", "--json")
    report = json.loads(after.stdout)
    assert report["metrics"]["false_no_match"] <= 0.2  # at most one positive of five
    flagged = run_kb("--kb", kb, "--index", root, "search", "这款手机支持双卡吗", "--json")
    assert json.loads(flagged.stdout)["no_good_match"] is True


def test_a_set_of_only_cases_no_article_covers_is_measured(mini, tmp_path):
    # No positives means no ranks and no baseline to compare: recall is still reported.
    kb, root = mini
    negatives = [{"case": "今天天气不错", "expected": []}, {"case": "你是谁", "expected": []}]
    write_eval(tmp_path / "eval", {"neg.yaml": negatives}, {"no_match_recall": 0.5})

    result = run_kb("--kb", kb, "--index", root, "eval", tmp_path / "eval" / "neg.yaml", "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["metrics"]["no_match_recall"] == 1.0
    assert "top1" not in report["metrics"] and "baseline" not in report


def test_an_eval_case_the_kb_holds_verbatim_fails_the_set(mini, tmp_path):
    kb, root = mini
    # 拍错了不要了 is one of the mini KB's keywords for cancel-order.
    copied = [{"case": "拍错了，不要了！", "expected": ["cancel-order"]}]
    write_eval(tmp_path / "eval", {"copied.yaml": copied}, {})

    result = run_kb("--kb", kb, "--index", root, "eval", tmp_path / "eval" / "copied.yaml")

    assert result.returncode == 1
    assert "评测案例与知识库内容重复" in result.stdout
    assert "cancel-order.md keywords: 拍错了不要了" in result.stdout


def test_an_eval_case_copied_from_an_example_fails_the_set(tmp_path):
    kb = copy_mini_kb(tmp_path)
    edit(
        kb / "articles/product-issues/damaged-item.md",
        "owner:",
        "examples:\n  - 快递送来的时候箱子就塌了 里面杯子碎了两个\nowner:",
    )
    root = tmp_path / "index"
    assert run_kb("--kb", kb, "--index", root, "index").returncode == 0
    # The example inside a longer case is a copy too.
    copied = [
        {"case": "你好 快递送来的时候箱子就塌了，里面杯子碎了两个！", "expected": ["damaged-item"]}
    ]
    write_eval(tmp_path / "eval", {"copied.yaml": copied}, {})

    result = run_kb("--kb", kb, "--index", root, "eval", tmp_path / "eval" / "copied.yaml")

    assert result.returncode == 1
    assert "damaged-item.md examples: 快递送来的时候箱子就塌了" in result.stdout


def test_an_eval_case_copied_from_an_out_of_scope_example_fails_the_set(tmp_path):
    kb = copy_mini_kb(tmp_path)
    with open(kb / "facts.yaml", "a", encoding="utf-8") as facts:
        facts.write(
            "out_of_scope:\n  label: 范围外话题\n  type: enum\n"
            "  examples: [这件外套有没有加大码的 一米八五穿]\n"
            "  values:\n    售前咨询: [有货吗]\n"
        )
    root = tmp_path / "index"
    assert run_kb("--kb", kb, "--index", root, "index").returncode == 0
    copied = [{"case": "这件外套有没有加大码的？一米八五穿", "expected": []}]
    write_eval(tmp_path / "eval", {"copied.yaml": copied}, {})

    result = run_kb("--kb", kb, "--index", root, "eval", tmp_path / "eval" / "copied.yaml")

    assert result.returncode == 1
    assert "facts.yaml out_of_scope examples: 这件外套有没有加大码的" in result.stdout


def test_eval_breaks_figures_down_by_shape_and_by_article(mini, tmp_path):
    kb, root = mini
    shaped = [
        {**EVAL_CASES[0], "shape": "single"},
        {**EVAL_CASES[2], "shape": "single"},
        {
            "case": "顾客：拍错了 还没发货\n客服：好的\n顾客：取消吧",
            "expected": ["cancel-order"],
            "shape": "chat",
        },
        {"case": "这款手机支持双卡吗", "expected": [], "shape": "neg"},
    ]
    write_eval(tmp_path / "eval", {"shaped.yaml": shaped}, {})

    result = run_kb(
        "--kb", kb, "--index", root, "eval", tmp_path / "eval" / "shaped.yaml", "--by-article"
    )
    report = json.loads(
        run_kb(
            "--kb", kb, "--index", root, "eval", tmp_path / "eval" / "shaped.yaml", "--json"
        ).stdout
    )

    assert set(report["by_shape"]) == {"single", "chat", "neg"}
    assert report["by_shape"]["single"]["cases"] == 2
    assert report["by_shape"]["chat"]["top1"] == 1.0
    assert "top1" not in report["by_shape"]["neg"]  # no article to rank
    assert report["by_article"]["cancel-order"]["cases"] == 2
    assert "baseline_top1" in report["by_article"]["cancel-order"]
    assert re.search(r"^chat\s+1\s+1\.000", result.stdout, re.M)
    assert re.search(r"^cancel-order\s+2\s", result.stdout, re.M)


def test_eval_figures_only_counts_misses_without_any_case_text(mini, tmp_path):
    # A held-out set measures matching only while no one tuning it reads its texts.
    kb, root = mini
    held_out = [
        {**EVAL_CASES[0], "shape": "single"},
        {"case": "拍错了 还没发货 想取消订单 顺便问下发票", "expected": ["seven-day-return"]},
        {
            "case": "发票抬头开错了 能改吗",
            "expected": ["damaged-item"],
            "facts": {"reason": "破损"},
        },
        {"case": "这款手机支持双卡吗", "expected": [], "shape": "neg"},
    ]
    write_eval(tmp_path / "eval", {"held.yaml": held_out}, {})
    path = tmp_path / "eval" / "held.yaml"

    full = run_kb("--kb", kb, "--index", root, "eval", path).stdout
    text = run_kb("--kb", kb, "--index", root, "eval", path, "--figures-only", "--by-article")
    as_json = run_kb("--kb", kb, "--index", root, "eval", path, "--figures-only", "--json")

    assert "顺便问下发票" in full  # the plain report lists the misses
    misses = re.search(r"第一名不对的案例（(\d+)）", full).group(1)
    assert f"第一名不对的案例（{misses}）" in text.stdout and "事实读错（1）" in text.stdout
    report = json.loads(as_json.stdout)
    assert len(report["failures"]) == int(misses) and report["fact_misses"]
    for case in held_out:
        assert case["case"] not in text.stdout and case["case"] not in as_json.stdout
