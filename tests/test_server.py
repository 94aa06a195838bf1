"""`kb serve`: gunicorn with sync workers serving the app over the real index."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from web_helpers import fetch

from assist_app.settings import PROJECT_ROOT

KB_COMMAND = Path(sys.executable).parent / "kb"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "kb serve exited early"
        try:
            if fetch(f"{url}/readyz").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready after {seconds} s")


def test_kb_serve_runs_gunicorn_workers(index_root, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                str(KB_COMMAND),
                "--kb",
                str(PROJECT_ROOT / "kb"),
                "--index",
                str(index_root),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(url, process)
            answers = [
                fetch(
                    f"{url}/api/assist",
                    "POST",
                    json_body={"case": "快递说放门口了 可是门口啥也没有"},
                )
                for _ in range(4)
            ]
            assert all(a.status == 200 for a in answers)
            assert {a.json()["results"][0]["id"] for a in answers} == {"lost-parcel"}
            assert fetch(f"{url}/").status == 200
            assert fetch(f"{url}/api/nope").status == 404
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    output = log.read_text(encoding="utf-8", errors="replace")
    assert output.count("Booting worker") == 2, output
    assert "Listening at: " + url in output
