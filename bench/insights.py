"""Insights at volume: fill a store with N generated records and time the 90-day report.

    .venv/bin/python bench/insights.py --records 1000000 [--store var/bench/insights-1m.sqlite]
    .venv/bin/python bench/insights.py --records 1000000 --store postgresql://u:p@host/db

Records are spread over the last 90 days like fifty agents' traffic (~30,000 a day at 1,000,000
over a month and more): assist and search requests with five results shown each, about a third
followed by an action (open, copy, helpful, wrong), a fifth re-asked within the same case. Case
texts come from a pool of phrasings with order numbers varied, so some repeat and most do not.
The store is filled once (reused when it already holds the records); then it prints the time
to roll up the complete days (once, what the insights writer does hourly) and the median and
max of `build_report` and of `learn.propose` (kb learn) for 7, 30 and 90 days, and (--http) of
GET /insights?days=90 from `kb serve`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assist_app.insights_store import Writes, open_store  # noqa: E402
from assist_app.settings import PROJECT_ROOT  # noqa: E402

DAY_S = 86400
PHRASES = [
    "快递说放门口了 可是门口啥也没有",
    "衣服颜色发错了 要蓝色的",
    "收到的杯子碎了 怎么赔",
    "还没发货能不能取消",
    "七天无理由退货运费谁出",
    "物流三天没动了",
    "发票怎么开",
    "尺码偏小想换大一码",
    "降价了能补差价吗",
    "赠品没收到",
    "退款什么时候到账",
    "商品有异味 要退货",
    "拼多多的单子怎么退",
    "我要投诉你们",
    "今天天气不错",
]
ARTICLES = [f"article-{n:03d}" for n in range(60)]
BATCH = 5000


def generate(store, records: int, now: float, seed: int = 1) -> None:
    rng = random.Random(seed)
    written = 0
    with store.connection() as conn:
        while written < records:
            requests, shown, actions = [], [], []
            for _ in range(min(BATCH, records - written)):
                at = now - rng.random() * 90 * DAY_S
                request_id = uuid.UUID(int=rng.getrandbits(128)).hex
                case_id = (
                    request_id
                    if rng.random() > 0.2
                    else requests[-1]["case_id"]
                    if requests
                    else request_id
                )
                phrase = rng.choice(PHRASES)
                text = (
                    phrase if rng.random() < 0.5 else f"{phrase} 订单 ***{rng.randrange(10000):04d}"
                )
                results = rng.sample(ARTICLES, 5) if rng.random() > 0.05 else []
                score = round(rng.uniform(0.5, 2.5), 3)
                requests.append(
                    {
                        "request_id": request_id,
                        "case_id": case_id,
                        "at": at,
                        "kind": "assist" if rng.random() < 0.85 else "search",
                        "case_text": text,
                        "facts": "{}",
                        "top_id": results[0] if results else None,
                        "top_score": score if results else None,
                        "result_count": len(results),
                        "kb_version": "bench",
                    }
                )
                shown += [
                    {"request_id": request_id, "rank": r, "article_id": a, "score": score / r}
                    for r, a in enumerate(results, start=1)
                ]
                if results and rng.random() < 0.35:
                    action = rng.choice(["open", "copy", "copy", "helpful", "wrong"])
                    actions.append(
                        {
                            "request_id": request_id,
                            "at": at + 30,
                            "action": action,
                            "article_id": results[0],
                            "reply_id": "reply-1" if action == "copy" else None,
                        }
                    )
            store.write(conn, Writes(requests, shown, actions))
            written += len(requests)
            print(f"\r  {written:,} / {records:,} records", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def count(store) -> int:
    with store.connection() as conn:
        return int(store.query(conn, "SELECT COUNT(*) FROM insight_requests", {})[0][0])


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--store", help="SQLite path or postgresql:// URL")
    parser.add_argument("--index", type=Path, default=PROJECT_ROOT / "var" / "index")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--http", action="store_true", help="also time GET /insights?days=90")
    args = parser.parse_args()
    from assist_app.insights import build_report, roll_up
    from assist_app.learn import propose
    from indexer.search import SearchEngine

    url = args.store or str(PROJECT_ROOT / "var" / "bench" / f"insights-{args.records}.sqlite")
    store = open_store(url)
    now = time.time()
    have = count(store)
    if have < args.records:
        print(
            f"generating {args.records - have:,} records into {store.describe()}", file=sys.stderr
        )
        generate(store, args.records - have, now)
    engine = SearchEngine(args.index)
    kb = engine.current().kb
    print(f"{store.describe()}: {count(store):,} request records")
    started = time.perf_counter()
    rolled = roll_up(store, retention_days=90)
    print(
        f"roll-up of the settled hours and days (once; then by the writer): {rolled} buckets, "
        f"{time.perf_counter() - started:.1f} s"
    )
    print("| report | median s | max s |\n| --- | --- | --- |")
    for days in (7, 30, 90):
        build_report(store, kb, days)  # rolls up the hours at this period's start edge, once
        median, most = timed(lambda days=days: build_report(store, kb, days), args.repeat)
        print(f"| build_report, {days} days | {median:.3f} | {most:.3f} |")
    for days in (7, 30, 90):
        # kb learn and the page's 建议补充的相似问法 read raw records (not roll-ups).
        median, most = timed(lambda days=days: propose(store, kb, engine, days), args.repeat)
        print(f"| learn.propose, {days} days | {median:.3f} | {most:.3f} |")
    if args.http:
        median, most = time_http(url, args.index, args.repeat)
        print(f"| GET /insights?days=90 (kb serve) | {median:.3f} | {most:.3f} |")


def time_http(url: str, index: Path, repeat: int) -> tuple[float, float]:
    """Median and max seconds of GET /insights?days=90 from a `kb serve` over this store."""
    import os
    import socket
    import subprocess
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kb = Path(sys.executable).parent / "kb"
    server = subprocess.Popen(
        [str(kb), "--index", str(index), "serve", "--port", str(port)],
        env={**os.environ, "KB_INSIGHTS_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/readyz", timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)

        def get():
            with urllib.request.urlopen(f"{base}/insights?days=90", timeout=60) as answer:
                assert answer.status == 200
                answer.read()

        get()
        return timed(get, repeat)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
