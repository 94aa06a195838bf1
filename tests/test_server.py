"""`kb serve`: gunicorn worker processes with threads, serving the app over the real index."""

from __future__ import annotations

import contextlib
import socket

import pytest
from kb_helpers import SHOP_KB
from live_helpers import kb_server, parse_reply, post_json, raw_exchange, request
from web_helpers import assert_json_error, fetch

from assist_app.server import REQUEST_READ_S

# Starts gunicorn with workers: slow (`make test-fast` skips it).
pytestmark = pytest.mark.slow

LOST_PARCEL = "快递说放门口了 可是门口啥也没有"


@pytest.fixture(scope="module")
def server(index_root, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with kb_server(SHOP_KB, index_root, log) as running:
        yield running


def test_kb_serve_runs_gunicorn_workers(server):
    url = server.url
    answers = [
        fetch(f"{url}/api/assist", "POST", json_body={"case": LOST_PARCEL}) for _ in range(4)
    ]
    assert all(a.status == 200 for a in answers)
    assert {a.json()["results"][0]["id"] for a in answers} == {"parcel-not-received"}
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
            assert reply.json()["results"][0]["id"] == "parcel-not-received"
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


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /api/search?q=" + b"%E9%80%80" * 5000 + b" HTTP/1.1\r\nHost: t\r\n", 414),
        (b"GET /api/search?q=a HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n", 431),
        (b"GET /readyz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n", 431),
        (
            b"POST /api/assist HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n",
            400,
        ),
        (b"GET /api/articles/a\x00b HTTP/1.1\r\nHost: t\r\n", 400),
    ],
    ids=["uri-too-long", "headers-too-large", "readyz-headers", "length-and-chunked", "nul"],
)
def test_errors_raised_by_the_http_server_are_json_under_api(server, head, status):
    reply = parse_reply(raw_exchange(server.url, head + b"\r\n"))

    assert_json_error(reply, status)
    assert request(server.url, "GET", "/healthz").status == 200


def test_a_page_request_the_http_server_refuses_stays_html(server):
    reply = parse_reply(
        raw_exchange(server.url, b"GET /articles?q=" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
    )

    assert reply.status == 414
    assert reply.headers["content-type"].startswith("text/html")
