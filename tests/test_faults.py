"""Faults: a build killed with SIGKILL, a full disk (while writing the Whoosh index, the token
cache, the score arrays or the KB snapshot), no usable temp directory, the index deleted
under a running server. Each test shows what happens and that nothing is lost or corrupted: the
last good build stays current, opens and answers, and the next build recovers.

Everything is real: `kb index`, `kb search` and `kb serve` (gunicorn, 2 workers) run as
processes over index roots in tmp_path; only the full disk is simulated (in-process, below
Whoosh's storage and the token cache), since a real one cannot be made without mounting.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from kb_helpers import edit, snapshot
from live_helpers import (
    KB_COMMAND,
    add_generated_articles,
    assist,
    kb_server,
    request,
    run_kb,
)
from whoosh.filedb.filestore import FileStorage

from indexer import build, impacts
from indexer.build import BuildError, build_index
from indexer.layout import current_build
from indexer.search import SearchEngine

# Killed builds, full disks, vanished indexes: slow (`make test-fast` skips them).
pytestmark = pytest.mark.slow

LOST_PARCEL = "快递说放门口了 可是门口啥也没有"
LOST_PARCEL_FILE = "articles/in-transit/parcel-not-received.md"


@pytest.fixture
def root(index_root, tmp_path) -> Path:
    """A writable copy of the session's index root (one good build of the shop fixture KB)."""
    copy = tmp_path / "index"
    shutil.copytree(index_root, copy, symlinks=True)
    return copy


def first_hit(index_root: Path, case: str = LOST_PARCEL) -> str:
    hits = SearchEngine(index_root).search(case).hits
    return hits[0].article.id if hits else ""


def partials(index_root: Path) -> list[Path]:
    return sorted((index_root / "builds").glob(".partial-*"))


def last_build(index_root: Path) -> dict:
    return json.loads((index_root / "last-build.json").read_text(encoding="utf-8"))


def lock_is_free(index_root: Path) -> bool:
    with open(index_root / ".build.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(lock, fcntl.LOCK_UN)
        return True


def assert_last_good_build_serves(index_root: Path, before) -> None:
    """`current` and every file of its build are as they were, and it opens and answers."""
    assert snapshot(index_root) == before
    assert not os.readlink(index_root / "current").startswith("builds/.")
    assert first_hit(index_root) == "parcel-not-received"


# --- a) kill -9 during a build ---

# Kill the build from inside at a chosen step: deterministic points a poll could miss.
KILL_AT_STEP = """
import os, signal, sys
from indexer import build, impacts, layout
from assist_app.cli import main

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

module_name, function = sys.argv[1].split(".")
setattr({"build": build, "layout": layout}[module_name], function, die)
main(["--kb", sys.argv[2], "--index", sys.argv[3], "index"])
"""


def segment_writers(index_root: Path) -> int:
    """How many Whoosh segments are being written in the partial build (the build's own
    writer opens one at once; each worker process one more)."""
    return len({p.name.split(".")[0] for b in partials(index_root) for p in b.glob("whoosh/*.pst")})


def kill_while_writing(kb: Path, index_root: Path) -> None:
    """Start `kb index` and SIGKILL it once worker processes write segments in the partial
    build (a KB of 200+ articles is cut and written on every core)."""
    process = subprocess.Popen(
        [str(KB_COMMAND), "--kb", str(kb), "--index", str(index_root), "index"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        wanted = 2 if (os.cpu_count() or 1) > 1 else 1
        while segment_writers(index_root) < wanted:
            assert process.poll() is None, (
                f"the build ended before the kill: {process.stderr.read()}"
            )
            assert time.monotonic() < deadline, "no partial build appeared in 120 s"
            time.sleep(0.005)
        assert process.poll() is None  # still mid-build
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def build_workers_alive(kb: Path, wait_s: float = 10) -> list[int]:
    """Processes still running a build of this KB (a killed build's orphaned workers).

    The kernel sends the parent-death signal as the parent exits, but on a busy machine a
    worker takes a while to be scheduled and die: wait up to `wait_s` for them to go (a bound
    on waiting, not a speed the test asserts).
    """
    deadline = time.monotonic() + wait_s
    while True:
        alive = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and int(proc.name) != os.getpid():
                try:
                    cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                    state = (proc / "stat").read_text().split(") ")[-1][:1]
                except OSError:
                    continue
                if str(kb).encode() in cmdline and b"index" in cmdline and state != "Z":
                    alive.append(int(proc.name))
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def kill_at_step(step: str, kb: Path, index_root: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", KILL_AT_STEP, step, str(kb), str(index_root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr


@pytest.mark.parametrize(
    ("when", "generated"),
    [
        # 300 new articles to cut: the build takes seconds, the kill lands with the Whoosh
        # writer open in the partial build, adding documents.
        ("while-writing", 300),
        # The Whoosh index is committed in the partial directory, not yet verified.
        ("build.verify_build", 1),
        # Verified, fsynced and renamed to builds/<id>, but `current` not yet switched.
        ("layout.switch_current", 1),
    ],
)
def test_a_build_killed_with_sigkill_changes_nothing(root, kb_copy, when, generated):
    before = snapshot(root)
    outcome_before = last_build(root)
    add_generated_articles(kb_copy, generated)

    if when == "while-writing":
        kill_while_writing(kb_copy, root)
    else:
        kill_at_step(when, kb_copy, root)

    # What the kill left: `current` and its files untouched; the old build answers.
    assert_last_good_build_serves(root, before)
    left = partials(root)
    finished = [
        p
        for p in (root / "builds").iterdir()
        if not p.name.startswith(".") and f"builds/{p.name}" != before[0]
    ]
    if when == "layout.switch_current":
        assert not left and len(finished) == 1  # complete, but never made current
    else:
        assert len(left) == 1 and not finished  # a half-written build, never current
    # Nothing ran after SIGKILL: last-build.json still tells of the previous build, and the
    # lock file is still there, but the kernel released the flock with the process: its
    # workers died with it and never held the lock.
    assert last_build(root) == outcome_before
    assert (root / ".build.lock").exists() and lock_is_free(root)
    assert not build_workers_alive(kb_copy)

    # The next build succeeds, removes the partial build and becomes current.
    done = run_kb("--kb", kb_copy, "--index", root, "index")
    assert done.returncode == 0, done.stderr
    assert partials(root) == []
    assert os.readlink(root / "current") != before[0]
    manifest = last_build(root)
    assert manifest["ok"] is True
    assert manifest["articles"] == len(list((kb_copy / "articles").rglob("*.md")))
    assert first_hit(root) == "parcel-not-received"
    assert lock_is_free(root)


# --- b) a full disk during a build ---


class FullDisk:
    """Writes through Whoosh's file storage succeed until `budget` bytes, then fail: ENOSPC."""

    def __init__(self, budget: int):
        self.left = budget
        self.failed = 0

    def create_file(self, real):
        disk = self

        class Limited:
            def __init__(self, file):
                self._file = file

            def write(self, data):
                if len(data) > disk.left:
                    disk.left = 0
                    disk.failed += 1
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                disk.left -= len(data)
                return self._file.write(data)

            def __getattr__(self, name):
                return getattr(self._file, name)

        def create_file(storage, name, *args, **kwargs):
            handle = real(storage, name, *args, **kwargs)
            handle.file = Limited(handle.file)
            return handle

        return create_file


def fill_the_disk(monkeypatch, where: str) -> FullDisk:
    disk = FullDisk(budget=20_000)  # the fixture KB's index is ~200 KB: it fails part-way
    if where in ("whoosh", "whoosh-and-token-cache"):
        monkeypatch.setattr(FileStorage, "create_file", disk.create_file(FileStorage.create_file))
    if where == "whoosh-and-token-cache":
        # On a real full disk SQLite fails too, with its own exception type.
        def put_many(self, items):
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(build.TokenCache, "put_many", put_many)
    if where == "kb.jsonl":
        write_text = Path.write_text

        def half_then_enospc(self, data, *args, **kwargs):
            if self.name != "kb.jsonl":
                return write_text(self, data, *args, **kwargs)
            write_text(self, data[: len(data) // 2], *args, **kwargs)
            disk.failed += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(Path, "write_text", half_then_enospc)
    if where == "arrays":
        save = impacts._save

        def second_array_half_then_enospc(path, array):
            if disk.failed == 0 and len(list(path.parent.iterdir())) >= 1:
                with open(path, "wb") as f:
                    f.write(b"\x93NUMPY" + bytes(64))
                disk.failed += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return save(path, array)

        monkeypatch.setattr(impacts, "_save", second_array_half_then_enospc)
    return disk


def collect_leaked_whoosh_files() -> None:
    """Close the files a failed Whoosh commit leaves open now, not during some later test.

    After a write fails inside SegmentWriter.commit(), build's writer.cancel() closes the segment,
    fails again on the first file it must flush (the disk is still full) and leaves the other
    files open until the garbage collector finds them (whoosh/writing.py SegmentWriter.cancel;
    no upstream report found). `kb index` exits right after a failure, so only tests see this.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.mark.parametrize("where", ["whoosh", "whoosh-and-token-cache", "arrays", "kb.jsonl"])
def test_a_full_disk_fails_the_build_cleanly_and_readyz_says_so(
    root, kb_copy, tmp_path, monkeypatch, where
):
    edit(kb_copy / LOST_PARCEL_FILE, "keywords:\n", "keywords:\n  - 磁盘满了也要找到\n")
    before = snapshot(root)
    with kb_server(kb_copy, root, tmp_path / "serve.log") as server:
        good = request(server.url, "GET", "/readyz").json()
        disk = fill_the_disk(monkeypatch, where)

        with pytest.raises(BuildError) as raised:
            build_index(kb_copy, root)
        message = str(raised.value)
        del raised  # its traceback holds the Whoosh writer
        collect_leaked_whoosh_files()

        assert disk.failed >= 1  # the simulated disk really filled up part-way
        assert "写入索引失败" in message and "当前索引未改变" in message
        assert "No space left on device" in message or "disk is full" in message
        assert_last_good_build_serves(root, before)
        assert partials(root) == []  # the failed build cleaned up after itself
        outcome = last_build(root)
        assert outcome["ok"] is False and outcome["error"] == message

        # The service keeps serving the last good build and reports the failure.
        ready = request(server.url, "GET", "/readyz")
        assert ready.status == 200
        assert ready.json()["status"] == "ready"
        assert ready.json()["build_id"] == good["build_id"]
        assert ready.json()["last_build_failure"]["error"] == message
        answer = assist(server.url, LOST_PARCEL)
        assert answer.status == 200 and answer.json()["results"][0]["id"] == "parcel-not-received"

        # Space freed: the next build succeeds and the failure is no longer reported.
        monkeypatch.undo()
        summary = build_index(kb_copy, root)
        ready = request(server.url, "GET", "/readyz").json()
        assert ready["build_id"] == summary.build_id
        assert ready["last_build_failure"] is None
        found = assist(server.url, "磁盘满了也要找到").json()
        assert found["results"][0]["id"] == "parcel-not-received"


# --- c) no usable temp directory ---

# gettempdir() as it behaves for a user who can write none of the candidate directories: root
# can write /tmp whatever its mode, so the test narrows the candidates to $TMPDIR (a file).
NO_TEMP_DIR = """
import os, sys, tempfile
tempfile._candidate_tempdir_list = lambda: [os.environ["TMPDIR"]]
tempfile.tempdir = None
try:
    tempfile.gettempdir()
except FileNotFoundError:
    pass
else:
    sys.exit("a usable temp directory was found")
from assist_app.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("how", ["kb-command", "no-candidate-writable"])
def test_search_works_without_a_temp_directory_or_jieba_cache_dir(root, tmp_path, how):
    # Root ignores directory permissions, so a read-only directory would still be written to.
    # Instead TMPDIR is a regular file and the index's jieba cache directory is a file too:
    # neither can hold a file, whoever we are.
    not_a_dir = tmp_path / "tmp-is-a-file"
    not_a_dir.write_text("")
    shutil.rmtree(root / "jieba")
    (root / "jieba").write_text("")
    env = {**os.environ, "TMPDIR": str(not_a_dir), "TEMP": str(not_a_dir), "TMP": str(not_a_dir)}
    args = ["--index", str(root), "search", LOST_PARCEL, "--json"]

    if how == "kb-command":
        done = run_kb(*args, env=env)
    else:
        done = subprocess.run(
            [sys.executable, "-c", NO_TEMP_DIR, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["id"] == "parcel-not-received"
    assert "Traceback" not in done.stderr
    # jieba fell back to its dictionary in memory: nothing was written in place of the cache.
    assert (root / "jieba").read_text() == "" and not_a_dir.read_text() == ""


# --- d) the index directory deleted under a running server ---


def answer_of(reply) -> dict:
    """An assist answer without what differs per request (id, time)."""
    assert reply.status == 200, reply.text[:300]
    answer = reply.json()
    answer.pop("took_ms")
    answer.pop("request_id", None)
    return answer


def test_deleting_the_index_under_a_running_server(root, kb_copy, tmp_path):
    with kb_server(kb_copy, root, tmp_path / "serve.log") as server:
        workers = server.worker_pids()
        assert len(workers) == 2
        before = {}
        for pid in workers:  # every worker loads the build before it is deleted
            with server.only_worker(pid):
                before[pid] = answer_of(assist(server.url, LOST_PARCEL))
                ready = request(server.url, "GET", "/readyz").json()
                assert ready["load_error"] is None
        build_id = ready["build_id"]

        shutil.rmtree(root)

        for pid in workers:
            with server.only_worker(pid):
                # Served from memory: the same answer, the article pages too.
                assert answer_of(assist(server.url, LOST_PARCEL)) == before[pid]
                assert request(server.url, "GET", "/api/articles/parcel-not-received").status == 200
                assert request(server.url, "GET", "/articles/parcel-not-received").status == 200
                # /readyz: still ready on the build in memory, and says the directory has none.
                ready = request(server.url, "GET", "/readyz")
                assert ready.status == 200
                assert ready.json()["status"] == "ready"
                assert ready.json()["build_id"] == build_id
                assert ready.json()["load_error"] == "索引目录中没有当前构建"

        # Rebuild into the same (now missing) root from a changed KB: picked up, no restart.
        edit(kb_copy / LOST_PARCEL_FILE, "keywords:\n", "keywords:\n  - 索引删了又建好了\n")
        done = run_kb("--kb", kb_copy, "--index", root, "index")
        assert done.returncode == 0, done.stderr
        new_build = last_build(root)["build_id"]
        for pid in workers:
            with server.only_worker(pid):
                ready = request(server.url, "GET", "/readyz").json()
                assert ready["build_id"] == new_build and ready["load_error"] is None
                found = assist(server.url, "索引删了又建好了").json()
                assert found["results"][0]["id"] == "parcel-not-received"
                assert found["kb_version"] == ready["kb_version"] != before[pid]["kb_version"]
        assert server.worker_pids() == workers  # the same processes: no restart


def test_a_worker_restarted_after_the_index_was_deleted_agrees_with_its_sibling(
    root, kb_copy, tmp_path
):
    with kb_server(kb_copy, root, tmp_path / "serve.log") as server:
        survivor, doomed = server.worker_pids()
        with server.only_worker(survivor):
            before = answer_of(assist(server.url, LOST_PARCEL))

        shutil.rmtree(root)
        os.kill(doomed, signal.SIGKILL)  # gunicorn forks a new worker in its place
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pids = server.worker_pids()
            if len(pids) == 2 and doomed not in pids:
                break
            time.sleep(0.2)
        [restarted] = [pid for pid in server.worker_pids() if pid != survivor]

        readiness = {}
        for pid in (survivor, restarted):
            with server.only_worker(pid):
                ready = request(server.url, "GET", "/readyz")
                body = ready.json()
                readiness[pid] = (ready.status, body["status"], body.get("build_id"))
                assert body["load_error"] == "索引目录中没有当前构建"
                assert answer_of(assist(server.url, LOST_PARCEL)) == before
        assert readiness[survivor] == readiness[restarted], readiness
        assert readiness[survivor][:2] == (200, "ready")


# --- e) an index root this user cannot write ---


def run_kb_without_override(*args: str | Path) -> subprocess.CompletedProcess:
    """`kb` as this user but with file permissions enforced: root ignores them otherwise, so
    it runs without CAP_DAC_OVERRIDE (setpriv drops it from the bounding set)."""
    command = [str(KB_COMMAND), *map(str, args)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root without setpriv: cannot make permissions apply to this test")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_a_build_lock_owned_by_another_user_is_a_one_line_error_recorded(kb_copy, tmp_path):
    root = tmp_path / "index"
    root.mkdir()
    lock = root / ".build.lock"
    lock.touch(mode=0o644)
    if os.geteuid() == 0:
        os.chown(lock, 65534, 65534)  # nobody
    else:
        lock.chmod(0o444)

    result = run_kb_without_override("--kb", kb_copy, "--index", root, "index")

    line = assert_one_line_error(result, str(lock), "删除它" if os.geteuid() == 0 else "写权限")
    outcome = json.loads((root / "last-build.json").read_text(encoding="utf-8"))
    assert outcome["ok"] is False and outcome["error"] in line
    assert current_build(root) is None


@pytest.mark.parametrize("where", ["root", "below"])
def test_a_read_only_index_root_is_a_one_line_error(kb_copy, tmp_path, where):
    root = tmp_path / "index"
    root.mkdir()
    root.chmod(0o555)
    target = root if where == "root" else root / "sub"
    try:
        result = run_kb_without_override("--kb", kb_copy, "--index", target, "index")
    finally:
        root.chmod(0o755)

    assert_one_line_error(result, str(target), "--index")
    assert list(root.iterdir()) == []
