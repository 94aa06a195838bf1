"""`kb serve`: gunicorn worker processes with threads, serving the app over the real index."""

from __future__ import annotations

import contextlib
import socket

import pytest
from live_helpers import kb_server, parse_reply, post_json, request
from web_helpers import assert_json_error, fetch

from assist_app.server import REQUEST_READ_S
from assist_app.settings import PROJECT_ROOT

# Starts gunicorn with workers: slow (`make test-fast` skips it).
pytestmark = pytest.mark.slow

KB_DIR = PROJECT_ROOT / "kb"
LOST_PARCEL = "快递说放门口了 可是门口啥也没有"


@pytest.fixture(scope="module")
def server(index_root, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with kb_server(KB_DIR, index_root, log) as running:
        yield running


def test_kb_serve_runs_gunicorn_workers(server):
    url = server.url
    answers = [
        fetch(f"{url}/api/assist", "POST", json_body={"case": LOST_PARCEL}) for _ in range(4)
    ]
    assert all(a.status == 200 for a in answers)
    assert {a.json()["results"][0]["id"] for a in answers} == {"lost-parcel"}
    assert fetch(f"{url}/").status == 200
    assert fetch(f"{url}/api/nope").status == 404
    output = server.log()
    assert output.count("Booting worker") == 2, output
    assert "Listening at: " + url in output


@contextlib.contextmanager
def stalled_clients(url: str, count: int):
    """`count` connections that each send the headers and half the body of a POST, then stall."""
    host, port = url.removeprefix("http://").split(":")
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection((host, int(port)), timeout=30)
            sock.sendall(
                b"POST /api/assist HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b'Content-Length: 200\r\n\r\n{"case": "' + "快递".encode() * 15
            )
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def test_twenty_stalled_clients_hold_no_worker(server):
    with stalled_clients(server.url, 20) as stalled:
        # Each answer must come within a 5 s socket timeout while all twenty are stalled (sync
        # workers: two stalled bodies held both workers for the 60 s worker timeout).
        for _ in range(4):
            assert request(server.url, "GET", "/healthz", timeout=5).status == 200
            reply = post_json(server.url, "/api/assist", {"case": LOST_PARCEL}, timeout=5)
            assert reply.status == 200
            assert reply.json()["results"][0]["id"] == "lost-parcel"
        # A stalled client gets its answer once the read deadline passes: a 400, its thread free.
        stalled[0].settimeout(REQUEST_READ_S + 20)
        received = b""
        while chunk := stalled[0].recv(65536):
            received += chunk
            if b"}}" in received:
                break
        answer = parse_reply(received)
    assert_json_error(answer, 400, "请求体")
    assert "Traceback" not in server.log()
