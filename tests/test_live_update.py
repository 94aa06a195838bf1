"""Live index updates under load: `kb index` runs while 8 clients keep asking a real `kb serve`
(gunicorn, 2 workers). No request may fail, every worker moves to each new build without a
restart, and a KB that fails lint leaves the service on its last good build, saying so.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from kb_helpers import edit
from live_helpers import KbServer, assist, kb_server, request, run_kb

from indexer.build import build_index

# Live servers rebuilding under load: the slow half of the suite (`make test-fast` skips it).
pytestmark = pytest.mark.slow

THREADS = 8
LOAD_SECONDS_AT_MOST = 300  # a bound on the load, whatever happens to the test
CASES = [
    "快递说放门口了 可是门口啥也没有",
    "颜色发错了要蓝色的 单号 3900123456789012345",
    "拍错了还没发货 能取消吗",
    "收到就碎了 箱子压坏了",
    "不想要了能退吗 七天无理由",
]
LOST_PARCEL_FILE = "articles/in-transit/parcel-not-received.md"
# One new keyword per rebuild: only the new build can rank parcel-not-received first for it.
# Phrases no article shares a word with (no 快递, 包裹, 不见了): whether parcel-not-received comes
# first before the build must not depend on how the KB ranks delivery words.
KEYWORDS = ["紫色独角兽音乐盒", "青铜狮子座摆件", "银色火烈鸟胸针"]


class Load:
    """THREADS clients posting cases to /api/assist until stopped; every failure is kept."""

    def __init__(self, url: str):
        self.url = url
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answered = 0
        self.failures: list[str] = []
        self.versions: Counter[str] = Counter()
        self.deadline = time.monotonic() + LOAD_SECONDS_AT_MOST

    def client(self, number: int) -> None:
        turn = number
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            case = CASES[turn % len(CASES)]
            turn += 1
            try:
                reply = assist(self.url, case)
                answer = reply.json()
                ok = reply.status == 200 and bool(answer.get("results"))
                failure = None if ok else f"{reply.status}: {reply.text[:200]}"
            except Exception as error:  # a reset, a timeout, bad JSON: all count as failures
                answer, failure = {}, f"{case}: {error!r}"
            with self.lock:
                self.answered += 1
                if failure:
                    self.failures.append(failure)
                else:
                    self.versions[answer["kb_version"]] += 1

    def wait_for_more(self, count: int, seconds: float = 120) -> None:
        """Wait until `count` more requests have been answered (the load is really running)."""
        target = self.answered + count
        deadline = time.monotonic() + seconds
        while self.answered < target:
            assert time.monotonic() < deadline, f"only {self.answered} of {target} answered"
            time.sleep(0.05)


@contextlib.contextmanager
def load_on(server: KbServer) -> Iterator[Load]:
    load = Load(server.url)
    clients = [threading.Thread(target=load.client, args=(n,), daemon=True) for n in range(THREADS)]
    for client in clients:
        client.start()
    try:
        load.wait_for_more(THREADS * 3)
        yield load
    finally:
        load.stop.set()
        for client in clients:
            client.join(timeout=60)
    assert not any(client.is_alive() for client in clients)


def last_build(index_root: Path) -> dict:
    return json.loads((index_root / "last-build.json").read_text(encoding="utf-8"))


def first_id(server: KbServer, case: str) -> str | None:
    results = assist(server.url, case).json()["results"]
    return results[0]["id"] if results else None


def test_rebuilds_under_load_fail_no_request_and_reach_every_worker(kb_copy, tmp_path):
    root = tmp_path / "index"
    versions = {build_index(kb_copy, root).kb_version}
    with (
        kb_server(kb_copy, root, tmp_path / "serve.log") as server,
        load_on(server) as load,
    ):
        workers = server.worker_pids()
        for keyword in KEYWORDS:
            assert first_id(server, keyword) != "parcel-not-received"  # not before this build
            edit(kb_copy / LOST_PARCEL_FILE, "keywords:\n", f"keywords:\n  - {keyword}\n")

            done = run_kb("--kb", kb_copy, "--index", root, "index")

            assert done.returncode == 0, done.stderr
            version = last_build(root)["kb_version"]
            versions.add(version)
            for pid in workers:  # each worker on its own: the others are stopped meanwhile
                with server.only_worker(pid):
                    ready = request(server.url, "GET", "/readyz").json()
                    assert ready["kb_version"] == version, (pid, ready)
                    assert first_id(server, keyword) == "parcel-not-received", (pid, keyword)
            load.wait_for_more(THREADS * 3)  # the load goes on over the new build
        assert server.worker_pids() == workers  # no worker was restarted

    assert load.failures == [], load.failures[:10]
    assert load.answered >= 100
    assert len(versions) == len(KEYWORDS) + 1
    assert set(load.versions) <= versions  # every answer came from a real build
    assert version in load.versions  # and the last build did serve the load


def test_a_kb_that_fails_lint_mid_load_leaves_the_last_good_build_serving(kb_copy, tmp_path):
    root = tmp_path / "index"
    good = build_index(kb_copy, root).kb_version
    with (
        kb_server(kb_copy, root, tmp_path / "serve.log") as server,
        load_on(server) as load,
    ):
        edit(kb_copy / LOST_PARCEL_FILE, "拼多多, 京东", "拼夕夕, 京东")  # unknown platform

        done = run_kb("--kb", kb_copy, "--index", root, "index")

        assert done.returncode == 1
        assert "个错误" in done.stderr and "parcel-not-received.md" in done.stderr
        for pid in server.worker_pids():
            with server.only_worker(pid):
                ready = request(server.url, "GET", "/readyz")
                assert ready.status == 200
                assert ready.json()["kb_version"] == good
                failure = ready.json()["last_build_failure"]
                assert "个错误" in failure["error"]
                assert any(
                    "parcel-not-received.md" in p and "拼夕夕" in p for p in failure["problems"]
                )
                assert first_id(server, CASES[0]) == "parcel-not-received"
        load.wait_for_more(THREADS * 3)

        # Fixed and rebuilt: the failure is no longer reported.
        edit(kb_copy / LOST_PARCEL_FILE, "拼夕夕, 京东", "拼多多, 京东")
        assert run_kb("--kb", kb_copy, "--index", root, "index").returncode == 0
        for pid in server.worker_pids():
            with server.only_worker(pid):
                assert request(server.url, "GET", "/readyz").json()["last_build_failure"] is None
        load.wait_for_more(THREADS * 3)

    assert load.failures == [], load.failures[:10]
    assert set(load.versions) == {good}  # the fixed KB is the same KB: the same version


def test_kb_serve_watch_shows_an_edit_without_kb_index(kb_copy, tmp_path):
    # An editor's live preview (issue 13.11): save the file, ask the console, see the edit.
    root = tmp_path / "index"
    build_index(kb_copy, root)
    case = "蓝鲸宝宝的玩偶"
    with kb_server(kb_copy, root, tmp_path / "serve.log", workers=1, extra=("--watch",)) as server:
        assert first_id(server, case) != "parcel-not-received"
        edit(kb_copy / LOST_PARCEL_FILE, "keywords:\n", "keywords:\n  - 蓝鲸宝宝的玩偶\n")
        deadline = time.monotonic() + 120  # a bound on waiting, not a speed the test asserts
        while first_id(server, case) != "parcel-not-received":
            assert time.monotonic() < deadline, (
                f"the edit never reached the server:\n{server.log()}"
            )
            time.sleep(0.5)
        assert "索引已重建" in server.log()
