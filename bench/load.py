"""A bounded load test of POST /api/assist on a server already running on this machine.

    .venv/bin/kb serve --port 5000 &                      # in another terminal
    .venv/bin/python bench/load.py --url http://127.0.0.1:5000 --clients 50 --duration 60

N client threads send evaluation cases one after another (a new connection per request, as
gunicorn's sync workers close each one) until the duration is over; then it reports requests
per second, latency median / p99 / max of the answered requests and the errors. Loopback only,
and bounded: at most 200 threads and --max-requests requests; no request starts after
--duration (at most 600 s), and one in flight gives up after --timeout.
The client runs on the same cores as the server; its own CPU time is reported so you can see
what it took from the server.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.probe import load_cases, percentiles  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_CLIENTS = 200
MAX_DURATION_S = 600


class Load:
    """Shared state of one run: the cases to send and what came back."""

    def __init__(
        self,
        host: str,
        port: int,
        cases: list[str],
        deadline: float,
        max_requests: int,
        timeout: float,
    ):
        self.host, self.port, self.cases = host, port, cases
        self.deadline, self.max_requests, self.timeout = deadline, max_requests, timeout
        self.numbers = itertools.count()
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.outcomes: Counter[str] = Counter()

    def post(self, case: str) -> str:
        """Send one case; return "200" or the status / exception name of the failure."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            body = json.dumps({"case": case}, ensure_ascii=False).encode()
            conn.request("POST", "/api/assist", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            return str(response.status)
        except (OSError, http.client.HTTPException) as e:
            return type(e).__name__
        finally:
            conn.close()

    def client(self) -> None:
        while time.perf_counter() < self.deadline:
            number = next(self.numbers)  # itertools.count is atomic under the GIL
            if number >= self.max_requests:
                return
            started = time.perf_counter()
            outcome = self.post(self.cases[number % len(self.cases)])
            elapsed = (time.perf_counter() - started) * 1000
            with self.lock:
                self.outcomes[outcome] += 1
                if outcome == "200":
                    self.latencies.append(elapsed)


def run(
    url: str, clients: int, duration: float, cases: list[str], max_requests: int, timeout: float
) -> dict:
    """Drive the server with `clients` threads for `duration` seconds; return the figures."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    probe = Load(host, port, cases, 0, 1, timeout)
    first = probe.post(cases[0])
    if first != "200":
        raise SystemExit(
            f"{url}/api/assist did not answer 200 to a first case ({first}); "
            "is the server running and its index built?"
        )
    cpu0 = time.process_time()
    started = time.perf_counter()
    load = Load(host, port, cases, started + duration, max_requests, timeout)
    threads = [threading.Thread(target=load.client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + timeout + 5)
    elapsed = time.perf_counter() - started
    answered = sum(load.outcomes.values())
    errors = {k: v for k, v in load.outcomes.items() if k != "200"}
    return {
        "url": url,
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": answered,
        "requests_per_s": round(answered / elapsed, 1),
        "ok": load.outcomes.get("200", 0),
        "latency_ms": percentiles(load.latencies),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "client_cpu_s": round(time.process_time() - cpu0, 1),
    }


def check_url(url: str) -> str:
    """Refuse anything but plain HTTP to this machine."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise SystemExit(f"--url must be http:// on 127.0.0.1, localhost or ::1, not {url}")
    return url.rstrip("/")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default="http://127.0.0.1:5000", help="the running server (loopback only)"
    )
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (threads)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument(
        "--max-requests",
        type=int,
        default=1_000_000,
        help="stop after this many requests even if time is left",
    )
    parser.add_argument("--timeout", type=float, default=30, help="seconds per request")
    parser.add_argument(
        "--cases",
        default=str(PROJECT_ROOT / "kb" / "eval" / "cases.yaml"),
        help="eval file(s) to take cases from, comma-separated",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    url = check_url(args.url)
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be 1..{MAX_CLIENTS}")
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be in (0, {MAX_DURATION_S}] seconds")
    cases = load_cases(Path(args.cases), 0)
    result = run(url, args.clients, args.duration, cases, args.max_requests, args.timeout)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    lat = result["latency_ms"]
    print(f"{result['clients']} clients, {result['seconds']} s against {url}/api/assist")
    print(
        f"requests: {result['requests']} ({result['requests_per_s']} per second), "
        f"answered 200: {result['ok']}"
    )
    print(
        f"latency of answered requests: median {lat['p50']} ms, p99 {lat['p99']} ms, "
        f"max {lat['max']} ms"
    )
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(result["errors_by_kind"].items()))
    print(f"errors: {result['errors']}" + (f" ({kinds})" if kinds else ""))
    print(f"client CPU: {result['client_cpu_s']} s (shares the server's cores)")


if __name__ == "__main__":
    main()
