"""Hostile input against the running service: whatever a client sends, the answer is a good 200
or a clean 4xx, never a 500 or a hang, and nothing from a case comes back as markup.

The server is the real one (`kb serve`: gunicorn, 2 threaded workers) over the session's index of
the shop fixture KB (tests/fixtures/shop_kb/), on a free loopback port; every request has a
timeout (live_helpers.request). Property tests use Hypothesis with bounded examples; the
in-process tests call `assist` on the session's engine. Only the starter KB's slot patterns are
checked on kb/ (they are content).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import urllib.parse

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kb_helpers import SHOP_KB
from live_helpers import (
    KB_COMMAND,
    assist,
    chunked,
    kb_server,
    parse_reply,
    post_json,
    raw_exchange,
    request,
)
from web_helpers import assert_json_error

from assist_app.assist import assist as assist_in_process
from assist_app.settings import Settings
from indexer import analysis

MAX_CASE_CHARS = Settings.max_case_chars
MAX_LIMIT = Settings.max_limit
LOST_PARCEL = "快递说放门口了 可是门口啥也没有"

HTTP_EXAMPLES = settings(
    max_examples=80,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the repository; failures print their example
    suppress_health_check=[HealthCheck.too_slow],
)
LOCAL_EXAMPLES = settings(max_examples=100, deadline=None, database=None)

# Whoosh query syntax: the service must treat all of it as plain text.
# fmt: off
QUERY_SYNTAX = [
    "AND", "OR", "NOT", "TO", "*", "?", "~", ":", "(", ")", "[", "]", "{", "}", '"', "\\", "-",
    "+", "!", "^3", "~2", "&&", "||", "field:x", "title:退款", "body:*", "id:parcel-not-received", "退*",
    "{a TO z}", "[1 TO 9]",
]
# Pieces buyers (and attackers) really paste: chat, numbers the slots read, query syntax,
# markup, direction and zero-width marks, control characters, astral characters, paths.
FRAGMENTS = [
    "快递说放门口了", "没收到", "退款", "七天无理由", "拼多多", "淘宝", "签收第九天", "颜色发错了",
    "订单号 ", "单号 ", "3900123456789012345", "250101-123456789012345", "SF1234567890123",
    "¥99.5", "9块9", "我叫王小明", "13912345678", "ＡＢＣ１２３", "退款退款退款退款", "發貨",
    *QUERY_SYNTAX,
    "<script>window.__pwned=1</script>", "<img src=x onerror=alert(1)>", "<mark>", "</mark>",
    "&lt;script&gt;", "&#x3C;script", "javascript:", "{{order_id}}", "【订单号】", "<!--", "]]>",
    "\u200f", "\u200e", "\u202e", "\u2066", "\u200b", "\u200d", "\ufeff", "\u00ad",
    "\x00", "\x07", "\x1b[31m", "\r\n", "\t", "\x7f", "\x85", "\u2028",
    "𠀀", "𠮷", "😀", "👨\u200d👩\u200d👧", "𝕏", "\U0010ffff", "\ufffd",
    "../../etc/passwd", "%00", "%2e%2e%2f", "..\\", "'", "`", ";", "$(id)",
]
# fmt: on
# Any code point except surrogates (a JSON string cannot carry a lone one as UTF-8).
ANY_CHAR = st.characters(blacklist_categories=("Cs",))
hostile_text = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(ANY_CHAR, max_size=12)), max_size=14
).map("".join)
query_syntax = st.lists(
    st.sampled_from([*QUERY_SYNTAX, "退款", "发货"]), min_size=1, max_size=12
).flatmap(lambda words: st.sampled_from([" ", ""]).map(lambda sep: sep.join(words)))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(ANY_CHAR, max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def server(index_root, tmp_path_factory):
    log = tmp_path_factory.mktemp("hostile") / "serve.log"
    with kb_server(SHOP_KB, index_root, log) as running:
        yield running


def expected_status(case: str) -> int:
    if not case.strip():
        return 400
    return 413 if len(case) > MAX_CASE_CHARS else 200


def assert_inert(answer: dict) -> None:
    """Nothing in an answer can be markup except <mark> in snippets (the console's contract)."""
    text = json.dumps(answer, ensure_ascii=False)
    assert "<script" not in text.lower()
    for value in answer["slots"].values():
        assert not set(value) & set("<>&\"'`"), value
    for result in answer["results"]:
        assert re.sub(r"</?mark>", "", result["snippet"]).count("<") == 0, result["snippet"]
        for reply in result["replies"]:
            assert "<" not in reply["text"] and ">" not in reply["text"], reply["text"]


# --- Case text: POST /api/assist, GET /api/search, GET /articles?q= ---


@HTTP_EXAMPLES
@given(case=hostile_text)
@example(case="\x00")
@example(case="\u200b\u200f\ufeff")
@example(case=" \t\r\n\u3000")
@example(case="<script>window.__pwned=1</script> 订单号 3900123456789012345 没收到")
def test_any_case_text_is_a_good_200_or_a_clean_400(server, case):
    reply = assist(server.url, case)

    status = expected_status(case)
    if status != 200:
        assert_json_error(reply, status, "case")
        return
    assert reply.status == 200, reply.text[:500]
    answer = reply.json()
    assert isinstance(answer["results"], list)
    assert_inert(answer)


def strict_json(reply) -> dict:
    """The body parsed as strict JSON: NaN and Infinity are not JSON."""

    def refuse(constant):
        raise AssertionError(f"{constant} in a JSON answer: {reply.text[:300]}")

    return json.loads(reply.text, parse_constant=refuse)


NUMBER_CONTEXTS = ["签收{}天了", "{}天前收到的", "付了{}元", "¥{}", "{}块5", "退款{} 单号 {}", "{}"]


@HTTP_EXAMPLES
@given(
    digits=st.integers(0, 10**400).map(str) | st.text("0123456789.", min_size=1, max_size=600),
    context=st.sampled_from(NUMBER_CONTEXTS),
)
@example(digits="9" * 310, context="签收{}天了")
@example(digits="9" * 320, context="付了{}元")
def test_no_number_in_a_case_fails_the_request_or_the_json(server, digits, context):
    reply = assist(server.url, context.replace("{}", digits))

    assert reply.status == 200, reply.text[:300]
    answer = strict_json(reply)
    for name in ("amount", "days_since_receipt"):
        if name in answer["facts"]:
            assert math.isfinite(float(answer["facts"][name]))


@HTTP_EXAMPLES
@given(text=query_syntax)
@example(text='AND OR NOT * ? ~ : ( ) [ ] { } " field:x')
@example(text="NOT 退款")
@example(text="退款 AND NOT 退款")
@example(text="id:parcel-not-received")
def test_query_syntax_is_plain_text(server, text):
    reply = assist(server.url, text)

    assert reply.status == 200, reply.text[:500]
    answer = reply.json()
    if "退款" in text or "发货" in text:
        # NOT, -, field: and friends exclude nothing: a real word always finds articles.
        assert answer["results"], text
    search = request(server.url, "GET", f"/api/search?q={urllib.parse.quote(text)}")
    assert search.status == 200, search.text[:500]
    assert ("退款" not in text and "发货" not in text) or search.json()["results"]


@HTTP_EXAMPLES
@given(query=hostile_text)
def test_search_query_string_is_a_good_200_or_a_clean_400(server, query):
    reply = request(server.url, "GET", f"/api/search?q={urllib.parse.quote(query)}")

    status = expected_status(query)
    if status != 200:
        assert_json_error(reply, status, "q")
        return
    assert reply.status == 200, reply.text[:500]
    for result in reply.json()["results"]:
        assert re.sub(r"</?mark>", "", result["snippet"]).count("<") == 0


@HTTP_EXAMPLES
@given(query=hostile_text)
@example(query="<script>window.__pwned=1</script>")
@example(query='"><img src=x onerror=alert(1)>')
def test_the_browse_page_escapes_any_query(server, query):
    reply = request(server.url, "GET", f"/articles?q={urllib.parse.quote(query)}")

    assert reply.status == 200, reply.text[:500]
    assert reply.content_type.startswith("text/html")
    assert "script-src 'self'" in reply.headers["content-security-policy"]
    page = reply.text
    assert "<script>window.__pwned" not in page
    assert "<img src=x" not in page


@LOCAL_EXAMPLES
@given(case=hostile_text)
@example(case="订单号<script>3900123456789012345</script> 我叫<b>王</b> ¥<i>99</i>")
@example(case="SF1234567890123<img src=x> 收件人：<script>")
def test_in_process_assist_takes_any_text_and_fills_no_markup(engine, case):
    if not case.strip():
        return
    answer = assist_in_process(engine, case[:MAX_CASE_CHARS])

    json.dumps(answer, ensure_ascii=False).encode("utf-8")  # serialisable, valid UTF-8
    assert_inert(answer)
    # Slots come from the KB's regular expressions or closed lists, read from the folded case:
    # every value is there in the case, a listed value, or a fact's value.
    kb = engine.current().kb
    folded = analysis.fold(case)
    facts = answer["facts"]
    for name, value in answer["slots"].items():
        spec = kb.slots[name]
        assert (
            all(piece in folded for piece in value.split("."))
            or value in spec.values
            or value == str(facts.get(spec.from_fact))
        ), (name, value)


def test_kb_search_takes_an_argument_that_is_not_utf8(index_root):
    # Python turns the undecodable bytes into lone surrogates (PEP 383), which OpenCC and any
    # UTF-8 output cannot encode.
    case = b"\xff\xfe\xed\xa0\x80 " + "快递说放门口了 可是门口啥也没有".encode()
    done = subprocess.run(
        [KB_COMMAND, "--index", index_root, "search", case, "--json"],
        capture_output=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert json.loads(done.stdout)["results"][0]["id"] == "parcel-not-received"


def test_slot_patterns_cannot_match_markup(starter_engine):
    """The API contract behind assert_inert: no slot pattern can read <, >, & or quotes."""
    kb = starter_engine.current().kb
    markup = "<>&\"'`"
    for name, spec in kb.slots.items():
        for value in spec.values:
            assert not set(value) & set(markup), (name, value)
        for pattern in spec.patterns:
            for char in markup:
                probe = f"订单号 金额 快递单号 我叫{char}3900123456789012345{char}¥1{char}"
                for match in re.finditer(pattern.regex, probe, flags=re.IGNORECASE):
                    assert char not in "".join(g for g in match.groups() if g), (name, char)


# --- Wrong types, odd JSON, big and broken bodies ---


@HTTP_EXAMPLES
@given(field=st.sampled_from(["case", "limit", "facts"]), value=json_values)
@example(field="limit", value=True)
@example(field="limit", value=10**400)
@example(field="limit", value=float("nan"))
@example(field="facts", value={"days_since_receipt": 10**400})
@example(field="facts", value={"days_since_receipt": float("inf")})
@example(field="facts", value={"platform": ["拼多多"]})
@example(field="case", value=["退款"])
def test_wrong_types_for_every_field_are_a_400_naming_the_field(server, field, value):
    reply = post_json(server.url, "/api/assist", {"case": "退款", field: value})

    valid = {
        "case": isinstance(value, str) and bool(value.strip()),
        "limit": value is None or (type(value) is int and 1 <= value <= MAX_LIMIT),
        "facts": value is None or value == {},
    }[field]
    if valid:
        assert reply.status == 200, reply.text[:500]
    elif field == "facts" and isinstance(value, dict):
        assert_json_error(reply, 400)  # names the unknown fact or the bad value
    else:
        assert_json_error(reply, 400, field)


@HTTP_EXAMPLES
@given(document=json_values)
@example(document={"case": "退款", "case_idx": 1})
@example(document={"": "退款"})
def test_any_json_document_is_a_good_200_or_a_clean_400(server, document):
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    reply = request(server.url, "POST", "/api/assist", body, {"Content-Type": "application/json"})

    if reply.status != 200:
        assert_json_error(reply, 400)


@HTTP_EXAMPLES
@given(body=st.binary(max_size=3000))
@example(body=b"")
@example(body=b'\xef\xbb\xbf{"case": "\xe9\x80\x80"}')
@example(body=b'{"case": "\\ud800 \xe9\x80\x80\xe6\xac\xbe"}')
@example(body=b'{"case": "x", "\\udfff": 1}')
@example(body=b'{"case": "x", "facts": {"\\ud800": 1}}')
@example(body=b'{"case": "x", "facts": {"platform": "\\udc00"}}')
@example(body=b'{"case": "\\ud83d\\ude00 \xe9\x80\x80\xe6\xac\xbe"}')
def test_any_bytes_are_a_good_200_or_a_clean_400(server, body):
    reply = request(server.url, "POST", "/api/assist", body, {"Content-Type": "application/json"})

    if reply.status != 200:
        assert_json_error(reply, 400)


DEEP = 10_000


@pytest.mark.parametrize(
    "body",
    [
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        b'{"case": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        b'{"case": "x", "limit": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        b'{"case": "x", "facts": ' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}",
        b'{"case": "x", "facts": {"platform": ' + b"[" * DEEP + b"]" * DEEP + b"}}",
        b"[" * DEEP,  # never closed
    ],
    ids=["array", "object", "case", "limit", "facts", "fact-value", "unclosed"],
)
def test_json_nested_ten_thousand_deep_is_a_400(server, body):
    reply = request(server.url, "POST", "/api/assist", body, {"Content-Type": "application/json"})

    assert_json_error(reply, 400, "JSON")


MEGABYTE = 1 << 20


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"case": "退" * (MEGABYTE // 3)}, ensure_ascii=False).encode("utf-8"),
        b"x" * MEGABYTE,
        b"[" * MEGABYTE,
    ],
    ids=["json-case", "garbage", "nesting"],
)
def test_a_one_megabyte_body_is_a_413(server, body):
    assert len(body) >= MEGABYTE
    head = (
        b"POST /api/assist HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        % len(body)
    )

    reply = parse_reply(raw_exchange(server.url, head + body))

    assert_json_error(reply, 413, "64 KB")


def test_a_one_megabyte_chunked_body_is_a_413_not_a_truncated_json_error(server):
    # No Content-Length: the limit can only be found by reading, and a body cut at the limit
    # must not be parsed as if it were the whole request.
    body = json.dumps({"case": "退" * (MEGABYTE // 3)}, ensure_ascii=False).encode("utf-8")
    head = b"POST /api/assist HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"

    reply = parse_reply(raw_exchange(server.url, head + chunked(body)))

    assert_json_error(reply, 413, "64 KB")


def test_a_small_chunked_body_is_read(server):
    body = json.dumps({"case": LOST_PARCEL}, ensure_ascii=False).encode("utf-8")
    reply = request(
        server.url,
        "POST",
        "/api/assist",
        iter([body[:7], body[7:]]),
        {"Content-Type": "application/json"},
    )

    assert reply.status == 200
    assert reply.json()["results"][0]["id"] == "parcel-not-received"


@pytest.mark.parametrize(
    "framing",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",  # a chunk size that is not hex
        b"5\r\nabcdefgh\r\n0\r\n\r\n",  # a chunk longer than announced
        b"10\r\nabc",  # the client hangs up mid-chunk
    ],
    ids=["bad-size", "no-terminator", "cut-short"],
)
def test_a_malformed_chunked_body_is_a_400(server, framing):
    head = b"POST /api/assist HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    reply = parse_reply(raw_exchange(server.url, head + framing))

    assert_json_error(reply, 400)


def test_a_body_shorter_than_its_content_length_is_a_400(server):
    answer = raw_exchange(
        server.url,
        b'POST /api/assist HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"case"',
    )

    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GET /api/articles/a\x00b HTTP/1.1", b"400"),
        (b"GET /api/search?q=\x01\x02 HTTP/1.1", b"400"),
        (b"GET /api/search?q=" + b"%E9%80%80" * 5000 + b" HTTP/1.1", b"414"),
    ],
    ids=["nul", "control", "overlong"],
)
def test_a_malformed_request_line_is_refused_by_gunicorn(server, request_line, status):
    # gunicorn answers these itself before the app sees them, in the API's JSON error shape.
    answer = raw_exchange(server.url, request_line + b"\r\nHost: t\r\n\r\n")

    assert answer.split(b" ", 2)[1] == status, answer[:300]
    assert_json_error(parse_reply(answer), int(status))
    assert request(server.url, "GET", "/healthz").status == 200


# --- Article ids: /api/articles/<id> and /articles/<id> ---

TRAVERSALS = [
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/etc/passwd",
    "..%5c..%5cetc%5cpasswd",
    "..%255c..%255cetc%255cpasswd",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "C:%5cWindows%5cwin.ini",
    "%00",
    "parcel-not-received%00",
    "parcel-not-received%00.md",
    "parcel-not-received.md",
    "..%2fin-transit%2fparcel-not-received",
    "in-transit%2fparcel-not-received",
    "%2e%2e",
    ".",
    "parcel-not-received%2f..",
    "%c0%ae%c0%ae%c0%af",
    "%ED%A0%80",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
]


@pytest.mark.parametrize("article_id", TRAVERSALS)
def test_path_traversal_in_an_api_article_id_is_a_json_404(server, article_id):
    reply = request(server.url, "GET", f"/api/articles/{article_id}")

    assert_json_error(reply, 404)
    assert "root:" not in reply.text and "[fonts]" not in reply.text
    assert reply.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("article_id", TRAVERSALS)
def test_path_traversal_in_an_article_page_is_a_404_page(server, article_id):
    reply = request(server.url, "GET", f"/articles/{article_id}")

    assert reply.status == 404, reply.text[:300]
    assert reply.content_type.startswith("text/html")
    assert "root:" not in reply.text and "<script>alert" not in reply.text


@HTTP_EXAMPLES
@given(article_id=hostile_text)
@example(article_id="parcel-not-received")
@example(article_id="parcel-not-received\x00")
@example(article_id="LOST-PARCEL")
def test_any_article_id_is_the_article_or_a_404(server, engine, article_id):
    known = engine.current().articles
    quoted = urllib.parse.quote(article_id, safe="")
    for prefix in ("/api/articles/", "/articles/"):
        reply = request(server.url, "GET", prefix + quoted)
        if reply.status == 308:
            # Werkzeug merges the slashes of a decoded path like /api/articles//x (%2F is
            # decoded before routing) and redirects, within this server, when that matches.
            assert "//" in prefix + article_id, article_id
            assert reply.headers["location"].startswith(server.url + prefix)
        elif article_id in known:
            assert reply.status == 200
        elif prefix.startswith("/api"):
            assert_json_error(reply, 404)
        else:
            assert reply.status == 404, (article_id, reply.text[:300])


# --- Privacy, and what this module did to the server ---

PHONE = "13987654321"
NAME = "欧阳娜娜"


def test_case_text_never_reaches_the_logs(server):
    case = f"我叫{NAME}，手机 {PHONE}，快递说放门口了 可是门口啥也没有"
    assert assist(server.url, case).status == 200
    assert assist(server.url, case, limit=0).status == 400  # an error path
    assert assist(server.url, case + "退" * MAX_CASE_CHARS).status == 413
    assert post_json(server.url, "/api/assist", {"case": case, PHONE: NAME}).status == 400
    quoted = urllib.parse.quote(case)
    assert request(server.url, "GET", f"/api/search?q={quoted}").status == 200
    assert request(server.url, "GET", f"/articles?q={quoted}").status == 200
    assert request(server.url, "GET", f"/api/search?q={quoted}&limit=x").status == 400
    # A request known to reach the access log, so the log is flushed past ours.
    assert request(server.url, "GET", "/healthz").status == 200

    log = server.log()
    assert '"GET /healthz" 200' in log
    assert '"POST /api/assist" 200' in log and '"GET /api/search" 200' in log
    for secret in (PHONE, NAME, urllib.parse.quote(NAME), "放门口"):
        assert secret not in log, secret


def test_an_access_log_line_cannot_be_forged_through_the_path(server):
    forged = '127.0.0.1 [01/Jan/2026:00:00:00 +0000] "GET /forged" 200 1 0ms'
    path = "/api/articles/x%0a" + urllib.parse.quote(forged) + "%0d%0ay%00z"
    assert request(server.url, "GET", path).status == 404
    assert request(server.url, "GET", "/healthz").status == 200

    lines = server.log().splitlines()
    assert not any(line.startswith("127.0.0.1 [01/Jan/2026") for line in lines)
    assert "\x00" not in server.log()


def test_nothing_in_this_module_was_a_500_and_the_server_still_answers(server):
    # Runs last in this module: it checks the whole log of the module's server.
    reply = assist(server.url, LOST_PARCEL)
    assert reply.status == 200
    assert reply.json()["results"][0]["id"] == "parcel-not-received"
    log = server.log()
    assert '" 500 ' not in log, [line for line in log.splitlines() if '" 500 ' in line][:5]
    assert "Traceback" not in log and "未处理的异常" not in log, log[-3000:]
    assert server.process.poll() is None
