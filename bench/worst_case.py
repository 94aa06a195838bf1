"""Worst-case input: how long the assist answer takes for adversarial cases up to the size limit.

    .venv/bin/python bench/worst_case.py [--index var/index] [--repeat 20]

Each family is a run of one piece (digits, a character that is a fact phrase, a number followed
by a unit …) as long as a case may be (Settings.max_case_chars), and, as the realistic worst
case, the KB's own example messages end to end and as a pasted chat (varied); a plain buyer
message is the baseline in the same run. Prints median and max ms per family, in process (no
HTTP), and the median CPU time: on a shared machine wall time includes waiting for a core.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assist_app.assist import assist  # noqa: E402
from assist_app.settings import PROJECT_ROOT, Settings  # noqa: E402
from indexer.search import SearchEngine  # noqa: E402

LIMIT = Settings.max_case_chars
BASELINE = "快递说放门口了 可是门口啥也没有，签收第三天才发现，订单号 3900123456789012345"


def fill(piece: str, prefix: str = "", suffix: str = "") -> str:
    """prefix + piece repeated + suffix, exactly LIMIT characters long."""
    room = LIMIT - len(prefix) - len(suffix)
    return prefix + (piece * (room // len(piece) + 1))[:room] + suffix


FAMILIES = {
    "2,000 digits": "1" * 2000,
    "digits (limit)": fill("1"),
    "digits then 元": fill("9", suffix="元"),
    "digits then 天前收到": fill("9", suffix="天前收到"),
    "签收 digits 天": fill("9", "签收", "天了"),
    "1块 repeated": fill("1块"),
    "1. repeated": fill("1."),
    "1元 repeated": fill("1元"),
    "碎 × 2,000": "碎" * 2000,
    "碎 (limit)": fill("碎"),
    "收到 repeated": fill("收到"),
    "了 after 收到": fill("了", "收到"),
    "我是 repeated": fill("我是"),
    "spaces then 元": fill(" ", "¥", "元"),
    "SF + digits": fill("1", "SF"),
    "一 repeated": fill("一"),
    "mixed digits/letters": fill("a1"),
}


def varied(engine: SearchEngine) -> dict[str, str]:
    """The realistic worst case: many different words, as long as a case may be. The KB's own
    example messages end to end, and as a pasted chat with speakers (half of it the agent's).
    Every word is new to the case, so cutting, scoring and the phrasing model all see the most
    terms a case can bring (a run of one piece brings a few)."""
    examples = [e for a in engine.current().kb.articles for e in a.examples]
    chat = "\n".join(f"{'顾客' if n % 2 == 0 else '客服'}：{e}" for n, e in enumerate(examples))
    return {
        "KB examples end to end": " ".join(examples)[:LIMIT],
        "KB examples as a chat": chat[:LIMIT],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=PROJECT_ROOT / "var" / "index")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    engine = SearchEngine(args.index)
    assist(engine, BASELINE)  # load the index and warm jieba
    rows = [("baseline (a buyer message)", BASELINE), *FAMILIES.items(), *varied(engine).items()]
    print("| case | chars | median ms | max ms | CPU median ms |\n| --- | --- | --- | --- | --- |")
    worst = 0.0
    for name, case in rows:
        times, cpu = [], []
        for _ in range(args.repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            assist(engine, case)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        median, most, cpu_median = statistics.median(times), max(times), statistics.median(cpu)
        worst = max(worst, cpu_median) if name != rows[0][0] else worst
        print(f"| {name} | {len(case)} | {median:.1f} | {most:.1f} | {cpu_median:.1f} |")
    print(f"\nworst case, median CPU: {worst:.1f} ms (target ≤ 50 ms)")


if __name__ == "__main__":
    main()
