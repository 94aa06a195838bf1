"""Benchmark the starter KB and synthetic KBs: build, memory, latency, HTTP and a BM25 baseline.

    .venv/bin/python bench/run.py                       # starter KB, 1,000 and 10,000 articles
    .venv/bin/python bench/run.py --sizes 1000 10000 50000
    .venv/bin/python bench/run.py --sizes 1000 --profile

Synthetic KBs are generated under --work (reused when already generated with the same seed);
each size is built cold into its own index root there. Measurements that need a fresh process
run in bench/probe.py; this script starts them, starts `kb serve` for the HTTP column, and
prints the tables (Markdown) and a JSON record of the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import importlib.util
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import MARKER, marker_text  # noqa: E402
from bench.probe import load_cases, percentiles  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
KB_BIN = str(Path(sys.executable).parent / "kb")
STARTER_CASES = f"{PROJECT_ROOT / 'kb/eval/cases.yaml'},{PROJECT_ROOT / 'kb/eval/holdout.yaml'}"

# Targets from the issue.
TARGET_HTTP_P50_MS = 15
TARGET_HTTP_P99_MS = 50
TARGET_BASELINE_RATIO = 3
TARGET_BUILD_10K_S = 60
TARGET_RSS_10K_MB = 300
TARGET_COLD_START_S = 2


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def probe(*args: str, timeout: float) -> dict:
    """Run bench/probe.py in a fresh process and return its JSON."""
    cmd = [PYTHON, str(BENCH / "probe.py"), *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ensure_kb(size: int, seed: int, work: Path) -> Path:
    """A generated KB of `size` articles, reused when the folder already holds this size and seed."""
    out = work / f"kb-{size}"
    marker = out / MARKER
    if marker.exists() and marker.read_text() == marker_text(PROJECT_ROOT / "kb", size, seed):
        return out
    log(f"generating {size} articles into {out}")
    subprocess.run(
        [
            PYTHON,
            str(BENCH / "generate.py"),
            "--articles",
            str(size),
            "--out",
            str(out),
            "--seed",
            str(seed),
        ],
        check=True,
        cwd=PROJECT_ROOT,
    )
    return out


# --- cold start --------------------------------------------------------------------------------


def cold_start(kb_dir: Path, index_root: Path, case: str, runs: int) -> dict:
    """Wall time of `kb search CASE` in a fresh process, after one unrecorded priming run."""
    cmd = [KB_BIN, "--kb", str(kb_dir), "--index", str(index_root), "search", case]
    times, cpu = [], []
    for number in range(runs + 1):
        t0, c0 = time.perf_counter(), _children_cpu()
        subprocess.run(cmd, check=True, capture_output=True, timeout=300, cwd=PROJECT_ROOT)
        if number:
            times.append(time.perf_counter() - t0)
            cpu.append(_children_cpu() - c0)
    return {
        "median_s": round(statistics.median(times), 2),
        "max_s": round(max(times), 2),
        "cpu_median_s": round(statistics.median(cpu), 2),
        "runs": runs,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- HTTP --------------------------------------------------------------------------------------


def http_available() -> str | None:
    """None when `kb serve` can run; otherwise why the HTTP column is skipped."""
    missing = [
        m for m in ("assist_app.server", "assist_app.api") if importlib.util.find_spec(m) is None
    ]
    if missing:
        return f"skipped: {', '.join(missing)} not written yet (kb serve cannot start)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_assist(port: int, case: str, timeout: float = 60) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        body = json.dumps({"case": case}, ensure_ascii=False).encode()
        conn.request("POST", "/api/assist", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def process_tree(pid: int) -> list[int]:
    """The pid and its descendants (the gunicorn master and its workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def proc_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_http(kb_dir: Path, index_root: Path, cases: list[str], args) -> dict:
    """Latency of POST /api/assist, one request at a time, against `kb serve` with 2 workers."""
    port = free_port()
    template = args.serve_command or (
        f"{KB_BIN} --kb {{kb}} --index {{index}} serve --host 127.0.0.1 --port {{port}} --workers 2"
    )
    cmd = template.format(kb=kb_dir, index=index_root, port=port).split()
    server_log = args.work / f"serve-{index_root.name}.log"
    # Each measurement records into an insights store of its own, empty at the start: a store
    # shared across runs (the default, beside the index root) grew by every run's requests,
    # and its writer rolled up the hours earlier runs left while this one was timed (server
    # CPU per request at 10,000 articles: 27-28 ms over a 21,000-request store, 19 ms fresh).
    # KB_INSIGHTS_URL set by the caller (bench/insights.py's PostgreSQL) is kept.
    env = dict(os.environ)
    if "KB_INSIGHTS_URL" not in env:
        store = args.work / f"insights-{index_root.name}.sqlite"
        for leftover in (
            store,
            store.with_name(store.name + "-wal"),
            store.with_name(store.name + "-shm"),
        ):
            leftover.unlink(missing_ok=True)
        env["KB_INSIGHTS_URL"] = str(store)
    with open(server_log, "wb") as log_file:
        server = subprocess.Popen(
            cmd,
            cwd=PROJECT_ROOT,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
            env=env,
        )
    try:
        t0 = time.perf_counter()
        ready_s = None
        while time.perf_counter() - t0 < 120 and server.poll() is None:
            try:
                status, _ = post_assist(port, cases[0], timeout=30)
                if status == 200:
                    ready_s = time.perf_counter() - t0
                    break
            except OSError:
                time.sleep(0.05)
        if ready_s is None:
            why = "it exited" if server.poll() is not None else "no 200 within 120 s"
            return {"error": f"server not ready ({why}); see {server_log}"}
        for case in cases[-args.warmup :]:
            post_assist(port, case)
        workers = [p for p in process_tree(server.pid) if p != server.pid]
        cpu_before = sum(proc_cpu_s(p) for p in workers)
        wall, errors, first_error = [], 0, None
        started = time.perf_counter()
        for number in range(args.queries):
            if number and time.perf_counter() - started > args.budget:
                break
            t = time.perf_counter()
            status, body = post_assist(port, cases[number % len(cases)])
            wall.append((time.perf_counter() - t) * 1000)
            if status != 200:
                errors += 1
                first_error = first_error or f"{status}: {body[:200]!r}"
        cpu_after = sum(proc_cpu_s(p) for p in workers)
        return {
            "ready_s": round(ready_s, 2),
            "latency_ms": percentiles(wall),
            "server_cpu_ms_per_request": round(
                1000 * (cpu_after - cpu_before) / max(1, len(wall)), 1
            ),
            "errors": errors,
            "first_error": first_error,
            "worker_rss_mb": [proc_rss_mb(p) for p in workers],
            "master_rss_mb": proc_rss_mb(server.pid),
        }
    finally:
        stop(server)


def stop(server: subprocess.Popen) -> None:
    """Stop the server we started: TERM to its process group, KILL if it lingers."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def code_state() -> dict:
    """The commit measured, and uncommitted changes to the code under test (indexer, assist_app)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=PROJECT_ROOT)
        return done.stdout if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "indexer", "assist_app").splitlines()
    return {
        "head": git("rev-parse", "--short", "HEAD").strip() or "unknown",
        "changed": [line[3:] for line in changed if line.strip()],
    }


def describe_code(start: dict, end: dict) -> str:
    text = f"Code measured: commit {start['head']}"
    changed = start["changed"]
    if changed:
        shown = ", ".join(changed[:5]) + (", …" if len(changed) > 5 else "")
        text += f" with uncommitted changes under indexer/ and assist_app/ ({shown})"
    if end != start:
        text += (
            f". WARNING: the code changed during the run (now {end['head']}, "
            f"{len(end['changed'])} changed file(s)): rows may have measured different code"
        )
    return text + "."


# --- one KB ------------------------------------------------------------------------------------


def _reusable(index_root: Path) -> bool:
    """Whether the index root has a current build this code can load (an index left by an
    older version is rebuilt, as `kb serve` would)."""
    from indexer.layout import current_build, in_current_format

    build = current_build(index_root)
    return build is not None and in_current_format(build)


def bench_kb(label: str, kb_dir: Path, cases_path: str, args) -> dict:
    index_root = args.work / f"index-{label}"
    row: dict = {"label": label, "kb": str(kb_dir), "load_before": os.getloadavg()[0]}
    knobs = ["--queries", args.queries, "--budget", args.budget, "--warmup", args.warmup]
    if args.reuse_index and _reusable(index_root):
        log(f"{label}: reusing the index in {index_root} (no build figures)")
        row["build"] = None
    else:
        log(f"{label}: building {kb_dir} into {index_root}")
        row["build"] = probe("build", kb_dir, index_root, timeout=3600)
        log(f"{label}: built in {row['build']['seconds']} s")
    log(f"{label}: serving process (memory, in-process assist latency)")
    row["serve"] = probe("serve", index_root, cases_path, *knobs, timeout=1800)
    log(f"{label}: bm25s baseline")
    row["baseline"] = probe("baseline", index_root, cases_path, *knobs, timeout=1800)
    cases = load_cases(Path(cases_path), 0)
    log(f"{label}: cold start of kb search")
    row["cold_start"] = cold_start(kb_dir, index_root, cases[0], args.cold_runs)
    skip = None if args.serve_command else http_available()
    if args.no_http:
        skip = "skipped: --no-http"
    if skip:
        row["http"] = {"skipped": skip}
    else:
        log(f"{label}: HTTP against kb serve (2 workers)")
        row["http"] = bench_http(kb_dir, index_root, cases, args)
    if args.profile:
        log(f"{label}: pyinstrument profiles (a second build)")
        out = args.work / f"profile-{label}"
        row["profiles"] = [
            probe("profile-serve", index_root, cases_path, f"{out}-assist.txt", timeout=1800),
            probe(
                "profile-build",
                kb_dir,
                args.work / f"index-{label}-profile",
                f"{out}-build.txt",
                timeout=3600,
            ),
        ]
    row["load_after"] = os.getloadavg()[0]
    return row


# --- report ------------------------------------------------------------------------------------


def _ms(stats: dict | None, key: str) -> str:
    value = (stats or {}).get(key)
    return "-" if value is None else f"{value:.2f}" if value < 10 else f"{value:.0f}"


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.0f}x" if a / b >= 10 else f"{a / b:.1f}x"


def tables(rows: list[dict]) -> str:
    out = []
    out.append("### Build (cold: no token cache)\n")
    out.append(
        "| KB | articles | build s (CPU s, all processes) | lint s | cut + Whoosh s | arrays s "
        "| finish s | build MB (Whoosh + arrays + kb.jsonl) | build peak RSS MB | terms "
        "| bm25s build s | bm25s MB |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        b, base = r["build"], r["baseline"]
        if b is None:
            out.append(
                f"| {r['label']} | (index reused) | | | | | | | | | {base['build_s']} "
                f"| {_mb(base['size_bytes'])} |"
            )
            continue
        out.append(
            f"| {r['label']} | {b['articles']} | {b['seconds']} ({b['cpu_seconds']}) "
            f"| {b['phases_s']['lint']} | {b['phases_s']['index']} | {b['phases_s']['arrays']} "
            f"| {b['phases_s']['finish']} | {_mb(b['size_bytes'])} ({_mb(b['whoosh_bytes'])} + "
            f"{_mb(b['arrays_bytes'])} + {_mb(b['kb_json_bytes'])}) "
            f"| {b['peak_rss_mb']} | {b['terms']} | {base['build_s']} | {_mb(base['size_bytes'])} |"
        )

    out.append("\n### Serving process and cold start\n")
    out.append(
        "| KB | load index s | RSS before load MB | RSS loaded MB | RSS after 100 queries MB "
        "| server worker RSS MB | `kb search` cold start s, wall (CPU), median of 5 | "
        "server ready s |"
    )
    out.append("|---|---|---|---|---|---|---|---|")
    for r in rows:
        s, h, c = r["serve"], r["http"], r["cold_start"]
        workers = ", ".join(str(x) for x in h.get("worker_rss_mb", [])) or "-"
        out.append(
            f"| {r['label']} | {s['load_s']} | {s['rss_start_mb']} | {s['rss_loaded_mb']} "
            f"| {s['rss_after_queries_mb']} | {workers} | {c['median_s']} ({c['cpu_median_s']}) "
            f"| {h.get('ready_s', '-')} |"
        )

    out.append("\n### Latency, ms (median / p99; n = timed queries)\n")
    out.append(
        "| KB | assist in-process | assist CPU | of which search | POST /api/assist "
        "| server CPU per request | bm25s baseline | bm25s CPU | assist / baseline, wall "
        "(p50, p99) | same, CPU | retrieval only | retrieval / baseline (p50, p99) |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s, h, base = r["serve"], r["http"], r["baseline"]
        a, q = s["assist_ms"], base["query_ms"]
        ac, qc = s["assist_cpu_ms"], base["query_cpu_ms"]
        rt = s["retrieval_ms"]
        if "latency_ms" in h:
            http_cell = (
                f"{_ms(h['latency_ms'], 'p50')} / {_ms(h['latency_ms'], 'p99')} "
                f"(n={h['latency_ms']['n']}, errors {h['errors']})"
            )
            cpu_cell = str(h["server_cpu_ms_per_request"])
        else:
            http_cell, cpu_cell = h.get("skipped") or h.get("error", "-"), "-"
        out.append(
            f"| {r['label']} | {_ms(a, 'p50')} / {_ms(a, 'p99')} (n={a['n']}) "
            f"| {_ms(s['assist_cpu_ms'], 'p50')} / {_ms(s['assist_cpu_ms'], 'p99')} "
            f"| {_ms(s['search_ms'], 'p50')} / {_ms(s['search_ms'], 'p99')} | {http_cell} "
            f"| {cpu_cell} | {_ms(q, 'p50')} / {_ms(q, 'p99')} (n={q['n']}) "
            f"| {_ms(qc, 'p50')} / {_ms(qc, 'p99')} "
            f"| {_ratio(a['p50'], q['p50'])}, {_ratio(a['p99'], q['p99'])} "
            f"| {_ratio(ac['p50'], qc['p50'])}, {_ratio(ac['p99'], qc['p99'])} "
            f"| {_ms(rt, 'p50')} / {_ms(rt, 'p99')} "
            f"| {_ratio(rt['p50'], q['p50'])}, {_ratio(rt['p99'], q['p99'])} |"
        )

    out.append(
        "\n### Vocabulary of the indexed articles (jieba tokens, as the baseline sees them)\n"
    )
    out.append(
        "| KB | distinct terms | tokens per article | median document frequency "
        "| terms in > half the articles | terms in one article | Zipf slope (ranks 10-2000) |"
    )
    out.append("|---|---|---|---|---|---|---|")
    for r in rows:
        v = r["baseline"]["vocabulary"]
        out.append(
            f"| {r['label']} | {v['distinct_terms']} | {v['tokens_per_article']} "
            f"| {v['median_df_pct']} % | {v['terms_in_half']} | {v['terms_in_one_article']} "
            f"| {v['zipf_slope']} |"
        )
    loads = ", ".join(f"{r['label']} {r['load_before']:.1f}→{r['load_after']:.1f}" for r in rows)
    out.append(
        f"\nLoad average (1 min) before → after each KB: {loads} "
        f"(this machine has {os.cpu_count()} cores; wall >> CPU means others were running)."
    )
    return "\n".join(out)


def verdicts(rows: list[dict]) -> str:
    """Each target of the issue, met or missed, with the figure it was judged on."""
    by = {r["label"]: r for r in rows}
    lines = ["### Targets\n"]

    def line(ok: bool | None, text: str) -> None:
        mark = "n/a " if ok is None else "met " if ok else "MISS"
        lines.append(f"- [{mark}] {text}")

    for label in ("starter", "10000"):
        r = by.get(label)
        if not r:
            continue
        h = r["http"]
        if "latency_ms" in h:
            p50, p99, where = h["latency_ms"]["p50"], h["latency_ms"]["p99"], "POST /api/assist"
        else:
            p50, p99 = r["serve"]["assist_ms"]["p50"], r["serve"]["assist_ms"]["p99"]
            where = "in-process assist (no HTTP: a lower bound)"
        line(
            p50 <= TARGET_HTTP_P50_MS and p99 <= TARGET_HTTP_P99_MS,
            f"{label}: {where} median {p50} ms (≤ {TARGET_HTTP_P50_MS}), "
            f"p99 {p99} ms (≤ {TARGET_HTTP_P99_MS})",
        )

    def against_baseline(label: str, what: str, ours: dict, base: dict, note: str = "") -> None:
        ratio = max(ours["p50"] / base["p50"], ours["p99"] / base["p99"])
        line(
            ratio <= TARGET_BASELINE_RATIO,
            f"{label}: {what} vs bare BM25 {_ratio(ours['p50'], base['p50'])} at the median, "
            f"{_ratio(ours['p99'], base['p99'])} at p99{note} (≤ {TARGET_BASELINE_RATIO}x)",
        )

    for r in rows:
        a, q = r["serve"]["assist_ms"], r["baseline"]["query_ms"]
        ac, qc = r["serve"]["assist_cpu_ms"], r["baseline"]["query_cpu_ms"]
        cpu = f" (CPU time: {_ratio(ac['p50'], qc['p50'])}, {_ratio(ac['p99'], qc['p99'])})"
        against_baseline(r["label"], "assist", a, q, cpu)
    for r in rows:
        against_baseline(
            r["label"],
            "retrieval alone (the baseline's work: cut, score, top 5)",
            r["serve"]["retrieval_ms"],
            r["baseline"]["query_ms"],
        )
    r = by.get("10000")
    if r and r["build"]:
        b = r["build"]
        line(
            b["seconds"] <= TARGET_BUILD_10K_S,
            f"10000: build {b['seconds']} s wall, {b['cpu_seconds']} s CPU (≤ {TARGET_BUILD_10K_S})",
        )
    if r:
        rss = max(
            [r["serve"]["rss_after_queries_mb"], *(r["http"].get("worker_rss_mb") or [])],
            key=lambda x: x or 0,
        )
        line(
            rss <= TARGET_RSS_10K_MB, f"10000: serving process RSS {rss} MB (≤ {TARGET_RSS_10K_MB})"
        )
    r = by.get("starter")
    if r:
        c, cpu = r["cold_start"]["median_s"], r["cold_start"]["cpu_median_s"]
        line(
            c <= TARGET_COLD_START_S,
            f"starter: kb search cold start {c} s wall, {cpu} s CPU (≤ {TARGET_COLD_START_S})",
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        default=[1000, 10000],
        help="synthetic KB sizes (default: 1000 10000; 50000 is optional)",
    )
    parser.add_argument("--no-starter", action="store_true", help="leave out the starter KB row")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--work",
        type=Path,
        default=PROJECT_ROOT / "var" / "bench",
        help="where KBs, index roots, profiles and results go",
    )
    parser.add_argument("--queries", type=int, default=300, help="timed queries per measurement")
    parser.add_argument(
        "--budget",
        type=float,
        default=90,
        help="seconds per timed loop: stop early past it (n shows how many ran)",
    )
    parser.add_argument("--warmup", type=int, default=20, help="untimed queries first")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument(
        "--serve-command",
        help="server to measure instead of kb serve; {kb} {index} {port} filled in",
    )
    parser.add_argument(
        "--reuse-index",
        action="store_true",
        help="keep an existing index root of the current format (no build column)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also write pyinstrument profiles of assist and of a second build",
    )
    args = parser.parse_args(argv)
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)

    rows = []
    started = time.perf_counter()
    code_at_start = code_state()
    if not args.no_starter:
        rows.append(bench_kb("starter", PROJECT_ROOT / "kb", STARTER_CASES, args))
    for size in args.sizes:
        kb_dir = ensure_kb(size, args.seed, args.work)
        rows.append(bench_kb(str(size), kb_dir, str(kb_dir / "eval" / "cases.yaml"), args))
    code_at_end = code_state()
    report = (
        tables(rows) + "\n\n" + describe_code(code_at_start, code_at_end) + "\n\n" + verdicts(rows)
    )
    print(report)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    record = args.work / f"results-{stamp}.json"
    record.write_text(
        json.dumps(
            {
                "rows": rows,
                "seconds": time.perf_counter() - started,
                "argv": sys.argv[1:],
                "code": {"start": code_at_start, "end": code_at_end},
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    (args.work / f"results-{stamp}.md").write_text(report + "\n", encoding="utf-8")
    log(f"done in {time.perf_counter() - started:.0f} s; results in {record}")


if __name__ == "__main__":
    main()
