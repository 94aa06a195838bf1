"""Measurements that need a fresh process of their own; bench/run.py runs them and reads their JSON.

    probe.py build KB INDEX_ROOT            build the index, with phase times and peak memory
    probe.py serve INDEX_ROOT CASES         load, answer cases: RSS and in-process assist latency
    probe.py baseline INDEX_ROOT CASES      plain BM25 (bm25s) over the build's jieba tokens
    probe.py profile-build KB INDEX_ROOT OUT / profile-serve INDEX_ROOT CASES OUT   (pyinstrument)

Each prints one JSON object on stdout. Times are wall clock (perf_counter) and CPU time of the
process (process_time), so a busy machine shows as wall >> CPU.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

RSS_AFTER = 100  # queries answered before the serving process's memory is read
MARKER = ".bench-index"


def rss_mb() -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of this process, in MB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return {"rss": round(fields["VmRSS"], 1), "peak": round(fields["VmHWM"], 1)}


def load_cases(path: Path, count: int, seed: int = 0) -> list[str]:
    """Case texts from one or more eval files (comma-separated), shuffled by a fixed seed."""
    texts = []
    for part in str(path).split(","):
        texts += [c["case"] for c in yaml.safe_load(Path(part).read_text(encoding="utf-8"))]
    random.Random(seed).shuffle(texts)
    return texts[:count] if count else texts


def percentiles(values: list[float]) -> dict[str, float | int]:
    """Median and p99 (nearest rank) of a list of milliseconds."""
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 2),
        "p99": round(p99, 2),
        "max": round(ordered[-1], 2),
    }


def timed_loop(answer, cases: list[str], queries: int, budget: float) -> dict[str, list[float]]:
    """Answer cases in order until `queries` are done or `budget` seconds have passed."""
    wall, cpu, extra = [], [], []
    started = time.perf_counter()
    for number in range(queries):
        if number and time.perf_counter() - started > budget:
            break
        case = cases[number % len(cases)]
        t0, c0 = time.perf_counter(), time.process_time()
        value = answer(case)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        if value is not None:
            extra.append(value)
    return {"wall": wall, "cpu": cpu, "extra": extra}


# --- build -------------------------------------------------------------------------------------


def probe_build(kb_dir: Path, index_root: Path) -> dict:
    """Build into a fresh index root: time (wall, CPU of every process), phases, sizes, memory."""
    from indexer.build import build_index

    t0 = time.perf_counter()
    c0 = time.process_time()
    summary = build_index(kb_dir, index_root)
    wall = time.perf_counter() - t0
    # The build cuts and writes in worker processes: their CPU time counts too.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - c0 + children.ru_utime + children.ru_stime
    build_dir = summary.path

    def size(folder: str) -> int:
        return sum(f.stat().st_size for f in (build_dir / folder).rglob("*") if f.is_file())

    return {
        "articles": summary.articles,
        "terms": summary.terms,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "phases_s": summary.phases,
        "size_bytes": summary.size_bytes,
        "whoosh_bytes": size("whoosh"),
        "arrays_bytes": size("arrays"),
        "kb_json_bytes": (build_dir / "kb.jsonl").stat().st_size,
        "peak_rss_mb": round(
            max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, children.ru_maxrss) / 1024, 1
        ),
        "retokenized": summary.retokenized,
    }


# --- serve -------------------------------------------------------------------------------------


def probe_serve(
    index_root: Path, cases_path: Path, queries: int, budget: float, warmup: int
) -> dict:
    """A serving process: load the index, answer cases; memory and assist latency."""
    from assist_app.assist import assist
    from indexer.search import SearchEngine

    cases = load_cases(cases_path, 0)
    before = rss_mb()
    t0 = time.perf_counter()
    engine = SearchEngine(index_root)
    engine.current()
    load_s = time.perf_counter() - t0
    after_load = rss_mb()
    answered = 0

    def answer(case: str) -> float:
        nonlocal answered, after_queries
        result = assist(engine, case, limit=5)
        answered += 1
        if answered == RSS_AFTER:
            after_queries = rss_mb()
        return result["took_ms"]

    after_queries = None
    for case in cases[len(cases) - warmup :]:  # warm-up from the end, timed cases from the start
        answer(case)
    loop = timed_loop(answer, cases, queries, budget)
    while answered < RSS_AFTER:
        answer(cases[answered % len(cases)])
    retrieval = timed_loop(retrieval_answer(engine), cases, queries, budget)
    return {
        "retrieval_ms": percentiles(retrieval["wall"]),
        "retrieval_cpu_ms": percentiles(retrieval["cpu"]),
        "load_s": round(load_s, 2),
        "rss_start_mb": before["rss"],
        "rss_loaded_mb": after_load["rss"],
        "rss_after_queries_mb": after_queries["rss"],
        "peak_rss_mb": rss_mb()["peak"],
        "assist_ms": percentiles(loop["wall"]),
        "assist_cpu_ms": percentiles(loop["cpu"]),
        "search_ms": percentiles(loop["extra"]),  # SearchEngine.search's own timing (took_ms)
        "budget_hit": len(loop["wall"]) < queries,
    }


def retrieval_answer(engine):
    """Our ranking's like-for-like part of what the bm25s baseline does: normalise and cut the
    case, add synonyms, bigrams and pinyin, score every article, take the best five. No facts,
    slots, re-ranking, checklists or replies (assist does those on top)."""
    from indexer import analysis
    from indexer.query import Query, analyse_text, query_terms
    from indexer.ranking import top_documents
    from indexer.weights import MAX_ANALYSED_CHARS

    def answer(case: str) -> None:
        loaded = engine.current()
        text = analysis.normalize(case[:MAX_ANALYSED_CHARS])
        query = Query(text, *analyse_text(text, loaded.kb, loaded.synonyms), facts={}, slots={})
        top_documents(loaded.impacts.scores(query_terms(query)), 5)

    return answer


# --- baseline ----------------------------------------------------------------------------------


def article_tokens(index_root: Path):
    """The KB of the current build and each article's jieba tokens, as the build cut them.

    Read from the build's token cache (same key and salt as indexer.build._write_index); an
    article missing from it is cut again here.
    """
    from indexer import analysis
    from indexer.build import TokenCache, token_cache_salt, tokenize_article
    from indexer.layout import JIEBA_DIR, SNAPSHOT_FILE, TOKEN_CACHE_FILE, current_build
    from indexer.snapshot import read_snapshot

    build = current_build(index_root)
    kb = read_snapshot(build / SNAPSHOT_FILE)
    analysis.init_segmenter(kb.dict_words, index_root / JIEBA_DIR)
    cache = TokenCache(index_root / TOKEN_CACHE_FILE, salt=token_cache_salt(kb))
    corpus, missed = [], 0
    for article in kb.articles:
        tokens = cache.get(cache.key(article))
        if tokens is None:
            missed += 1
            tokens = tokenize_article(article, kb)
        corpus.append(
            [t for field in ("title", "keywords", "tags", "steps", "body") for t in tokens[field]]
        )
    cache.close()
    return kb, corpus, missed


def vocabulary_stats(corpus: list[list[str]]) -> dict:
    """How skewed the term distribution is: distinct terms, document frequencies, Zipf slope."""
    import numpy as np

    df: dict[str, int] = {}
    tf: dict[str, int] = {}
    for tokens in corpus:
        for t in tokens:
            tf[t] = tf.get(t, 0) + 1
        for t in set(tokens):
            df[t] = df.get(t, 0) + 1
    n = len(corpus)
    dfs = sorted(df.values(), reverse=True)
    freqs = np.array(sorted(tf.values(), reverse=True), dtype=float)
    ranks = np.arange(1, len(freqs) + 1, dtype=float)
    window = slice(9, min(len(freqs), 2000))  # ranks 10..2000: past the stop-word-like head
    slope = (
        float(np.polyfit(np.log(ranks[window]), np.log(freqs[window]), 1)[0])
        if len(freqs) > 20
        else None
    )
    return {
        "distinct_terms": len(df),
        "tokens_per_article": round(sum(map(len, corpus)) / n, 1),
        "median_df_pct": round(100 * statistics.median(dfs) / n, 3),
        "terms_in_half": sum(1 for d in dfs if d > n / 2),
        "terms_in_one_article": sum(1 for d in dfs if d == 1),
        "zipf_slope": round(slope, 2) if slope is not None else None,
    }


def probe_baseline(
    index_root: Path, cases_path: Path, queries: int, budget: float, warmup: int
) -> dict:
    """Plain BM25 with bm25s over whole articles' jieba tokens: build time, size, query latency."""
    import bm25s
    import numpy as np

    from indexer import analysis

    kb, corpus, missed = article_tokens(index_root)
    t0 = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        retriever.save(tmp, show_progress=False)
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
    vocab = retriever.vocab_dict
    k = min(5, len(corpus))

    def answer(case: str) -> None:
        tokens = analysis.cut(analysis.normalize(case), kb.stopwords)
        ids = [vocab[t] for t in tokens if t in vocab]
        if ids:
            scores = retriever.get_scores(ids)
            top = np.argpartition(-scores, k - 1)[:k]
            top[np.argsort(-scores[top])]

    cases = load_cases(cases_path, 0)
    for case in cases[len(cases) - warmup :]:
        answer(case)
    loop = timed_loop(answer, cases, queries, budget)
    return {
        "build_s": round(build_s, 2),
        "size_bytes": size,
        "query_ms": percentiles(loop["wall"]),
        "query_cpu_ms": percentiles(loop["cpu"]),
        "tokens_recut": missed,
        "vocabulary": vocabulary_stats(corpus),
    }


# --- profiles ----------------------------------------------------------------------------------


def _profiler():
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit(
            "pyinstrument is not installed: .venv/bin/pip install pyinstrument"
        ) from None
    return Profiler(interval=0.001)


def _write_profile(profiler, out: Path) -> None:
    """The call tree (library frames folded) and the functions by own time, as text.

    (No HTML: pyinstrument's page for a Whoosh-heavy run is over 100 MB.)
    """
    tree = profiler.output_text(unicode=True, color=False, show_all=False)
    flat = profiler.output_text(unicode=True, color=False, flat=True, time="percent_of_total")
    top = "\n".join(flat.splitlines()[:40])
    out.write_text(f"{tree}\n\nFunctions by own time (top 40):\n{top}\n", encoding="utf-8")


def profile_build(kb_dir: Path, index_root: Path, out: Path) -> dict:
    """A build in this one process: a profiler sees only its own process, and a parallel
    build does its cutting and writing in workers. The proportions are what each core does."""
    from indexer import parallel
    from indexer.build import build_index

    parallel.PARALLEL_MIN_ITEMS = 10**9
    profiler = _profiler()
    profiler.start()
    build_index(kb_dir, index_root)
    profiler.stop()
    _write_profile(profiler, out)
    return {"profile": str(out)}


def profile_serve(index_root: Path, cases_path: Path, out: Path, queries: int) -> dict:
    from assist_app.assist import assist
    from indexer.search import SearchEngine

    cases = load_cases(cases_path, 0)
    engine = SearchEngine(index_root)
    for case in cases[-10:]:
        assist(engine, case)
    profiler = _profiler()
    profiler.start()
    for case in cases[:queries]:
        assist(engine, case)
    profiler.stop()
    _write_profile(profiler, out)
    return {"profile": str(out), "queries": min(queries, len(cases))}


def reset_owned_folder(folder: Path, marker: str, owner: str) -> None:
    """Empty `folder` for a fresh start, refusing to delete one that lacks our marker file."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / marker).exists():
            raise SystemExit(
                f"{folder} exists and was not written by {owner} (no {marker}); "
                "choose an empty or new folder"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)


def _fresh_root(index_root: Path) -> None:
    """Start a cold build (no token or jieba cache) in an index root only probes write."""
    reset_owned_folder(index_root, MARKER, "bench/probe.py")
    (index_root / MARKER).write_text("made by bench/probe.py; deleted before each build\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    build = sub.add_parser("build")
    build.add_argument("kb", type=Path)
    build.add_argument("index_root", type=Path)
    for name in ("serve", "baseline"):
        p = sub.add_parser(name)
        p.add_argument("index_root", type=Path)
        p.add_argument("cases", type=Path)
        p.add_argument("--queries", type=int, default=300)
        p.add_argument("--budget", type=float, default=90.0)
        p.add_argument("--warmup", type=int, default=20)
    p = sub.add_parser("profile-build")
    p.add_argument("kb", type=Path)
    p.add_argument("index_root", type=Path)
    p.add_argument("out", type=Path)
    p = sub.add_parser("profile-serve")
    p.add_argument("index_root", type=Path)
    p.add_argument("cases", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--queries", type=int, default=50)
    args = parser.parse_args(argv)

    if args.what == "build":
        _fresh_root(args.index_root)
        result = probe_build(args.kb, args.index_root)
    elif args.what == "serve":
        result = probe_serve(args.index_root, args.cases, args.queries, args.budget, args.warmup)
    elif args.what == "baseline":
        result = probe_baseline(args.index_root, args.cases, args.queries, args.budget, args.warmup)
    elif args.what == "profile-build":
        _fresh_root(args.index_root)
        result = profile_build(args.kb, args.index_root, args.out)
    else:
        result = profile_serve(args.index_root, args.cases, args.out, args.queries)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
