"""The JSON API over HTTP: a real app over the shop fixture KB's real index, urllib as the client."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
import yaml
from kb_helpers import SHOP_KB
from web_helpers import assert_json_error, fetch, serve_app

from assist_app import create_app
from assist_app.settings import Settings
from indexer.build import BuildError, build_index

FIRST_RESULT = {
    "快递说放门口了 可是门口啥也没有": "parcel-not-received",
    "啊啊啊下错单了 钱刚付 还没打包吧 快帮我撤销": "cancel-unshipped",
    "不喜欢了想退 吊牌还在": "no-reason-return",
    "收到的杯子碎了 箱子都压扁了": "broken-in-transit",
}


def assist(base: str, payload, **kwargs):
    return fetch(f"{base}/api/assist", "POST", json_body=payload, **kwargs)


def result(answer: dict, article_id: str) -> dict:
    return next(r for r in answer["results"] if r["id"] == article_id)


def step(result: dict, when: str) -> dict:
    return next(s for s in result["checklist"] if s["when"] == when)


# ------------------------------------------------------------------ assist: happy path


@pytest.mark.parametrize(("case", "expected"), FIRST_RESULT.items())
def test_assist_ranks_the_right_procedure_first(live_server, case, expected):
    response = assist(live_server, {"case": case})
    assert response.status == 200
    assert response.content_type.startswith("application/json")
    answer = response.json()
    assert answer["results"][0]["id"] == expected
    assert answer["kb_version"]
    assert answer["took_ms"] >= 0


def test_a_pasted_chat_comes_back_as_turns_and_only_the_buyer_is_read(live_server):
    chat = "顾客：收到的杯子碎了\n客服：亲，七天无理由也可以退的哦\n顾客：那给我换一个新的吧"
    answer = assist(live_server, {"case": chat}).json()
    assert answer["turns"] == [
        {"speaker": "buyer", "text": "收到的杯子碎了"},
        {"speaker": "agent", "text": "亲，七天无理由也可以退的哦"},
        {"speaker": "buyer", "text": "那给我换一个新的吧"},
    ]
    assert answer["facts"]["reason"] == "破损"
    single = assist(live_server, {"case": "收到的杯子碎了"}).json()
    assert single["turns"] == [{"speaker": "unknown", "text": "收到的杯子碎了"}]


@pytest.mark.parametrize(
    "case",
    [
        "PLUS会员怎么开通",
        "登录不上 验证码收不到",
        "谢谢",
        "你们的老板是谁呀",
        # 签收了 agrees with the return procedure, but only weakly: it does not vouch for it.
        "东西都签收好几天了 就是评价不了",
    ],
)
def test_a_case_no_procedure_covers_is_flagged_and_still_shows_candidates(live_server, case):
    answer = assist(live_server, {"case": case}).json()
    assert answer["no_good_match"] is True
    search = fetch(f"{live_server}/api/search?q={quote(case)}").json()
    assert search["no_good_match"] is True


@pytest.mark.parametrize("case", FIRST_RESULT)
def test_a_case_a_procedure_covers_is_not_flagged(live_server, case):
    answer = assist(live_server, {"case": case}).json()
    assert answer["no_good_match"] is False
    assert answer["evidence"] > 0


def test_assist_document_has_facts_slots_checklist_and_filled_replies(live_server):
    answer = assist(
        live_server,
        {
            "case": "拼多多买的鞋子 签收第九天了 尺码太小想换 订单号 250101-123456789012345",
            "limit": 3,
        },
    ).json()
    assert set(answer) == {
        "request_id",
        "no_good_match",
        "evidence",
        "match_strength",
        "reads_out_of_scope",
        "turns",
        "facts",
        "fact_details",
        "slots",
        "slot_labels",
        "results",
        "took_ms",
        "kb_version",
    }
    assert answer["facts"]["platform"] == "拼多多"
    assert answer["facts"]["days_since_receipt"] == 9
    assert answer["slots"]["order_id"] == "250101-123456789012345"
    assert len(answer["results"]) == 3
    top = answer["results"][0]
    assert {
        "id",
        "title",
        "category",
        "category_name",
        "score",
        "snippet",
        "why",
        "status",
        "checklist",
        "replies",
    } <= set(top)
    assert top["checklist"] and all(s["applies"] in (True, False, None) for s in top["checklist"])
    texts = " ".join(r["text"] for r in top["replies"])
    assert "{{" not in texts, "every placeholder is filled or shown as a gap"
    assert "【" in texts, "slots the case does not give are gaps like 【退货地址】"
    details = {d["name"]: d for d in answer["fact_details"]}
    assert details["platform"]["source"] == "case"
    assert "拼多多" in details["platform"]["choices"]


def test_fact_overrides_retailor_the_checklist(live_server):
    case = "鞋子小了想换"
    plain = assist(live_server, {"case": case}).json()
    assert step(result(plain, "size-exchange"), "签收超过 7 天")["applies"] is None

    corrected = assist(
        live_server, {"case": case, "facts": {"platform": "拼多多", "days_since_receipt": 9}}
    ).json()
    assert corrected["facts"]["platform"] == "拼多多"
    assert corrected["facts"]["days_since_receipt"] == 9
    details = {d["name"]: d for d in corrected["fact_details"]}
    assert details["platform"]["source"] == "agent"
    assert step(result(corrected, "size-exchange"), "签收超过 7 天")["applies"] is True

    early = assist(live_server, {"case": case, "facts": {"days_since_receipt": 3}}).json()
    not_applicable = step(result(early, "size-exchange"), "签收超过 7 天")
    assert not_applicable["applies"] is False
    assert "不适用" in not_applicable["reason"]


def test_a_null_fact_clears_the_override(live_server):
    case = "拼多多买的鞋子 签收第九天了 尺码太小想换"
    answer = assist(
        live_server, {"case": case, "facts": {"platform": None, "days_since_receipt": None}}
    ).json()
    details = {d["name"]: d for d in answer["fact_details"]}
    assert details["platform"]["value"] == "拼多多"
    assert details["platform"]["source"] == "case"
    assert answer["facts"]["days_since_receipt"] == 9


def test_html_in_a_case_comes_back_inert(live_server):
    case = '<script>alert("x")</script><img src=x onerror=alert(1)> 快递说放门口了 没收到'
    response = assist(live_server, {"case": case})
    assert response.status == 200
    assert response.content_type.startswith("application/json")
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert "<script" not in response.text and "<img" not in response.text
    for hit in response.json()["results"]:
        assert re.sub(r"</?mark>", "", hit["snippet"]).count("<") == 0


@pytest.mark.parametrize(
    "case",
    [
        'AND OR NOT * ? ~ : ( ) [ ] { } "',
        "退款 AND NOT 发货",
        "title:退款 OR body:*",
        '订单 "没收到',
        "退* ~2 {a TO z} [1 TO 9]",
        "🙏🙏🙏",
        "1234567890123456789",
    ],
)
def test_query_syntax_is_just_text(live_server, case):
    assert assist(live_server, {"case": case}).status == 200
    response = fetch(f"{live_server}/api/search?q={_quote(case)}")
    assert response.status == 200, response.text


def test_a_write_must_say_it_sends_json(live_server):
    # text/plain is what a page on another site can post without a CORS preflight
    # (tests/test_access.py); curl users add the header and are served.
    body = json.dumps({"case": "快递说放门口了 可是门口啥也没有"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = fetch(f"{live_server}/api/assist", "POST", body=body, headers=headers)
        assert_json_error(response, 415, "Content-Type: application/json")
    for content_type in ("application/json", "application/json; charset=utf-8"):
        response = fetch(
            f"{live_server}/api/assist",
            "POST",
            body=body,
            headers={"Content-Type": content_type},
        )
        assert response.status == 200
        assert response.json()["results"][0]["id"] == "parcel-not-received"


# ------------------------------------------------------------------ assist: every error


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "缺少 case"),
        ({"limit": 3}, "缺少 case"),
        ({"case": ""}, "case 不能为空"),
        ({"case": "   \n\t "}, "case 不能为空"),
        ({"case": None}, "缺少 case"),
        ({"case": 42}, "case 必须是字符串"),
        ({"case": ["退款"]}, "case 必须是字符串"),
        ({"case": {"text": "退款"}}, "case 必须是字符串"),
        ({"case": "退款", "limit": 0}, "limit"),
        ({"case": "退款", "limit": Settings.max_limit + 1}, f"1 到 {Settings.max_limit}"),
        ({"case": "退款", "limit": -1}, "limit"),
        ({"case": "退款", "limit": 2.5}, "limit"),
        ({"case": "退款", "limit": "5"}, "limit"),
        ({"case": "退款", "limit": True}, "limit"),
        ({"case": "退款", "limit": None, "colour": "red"}, "colour"),
        ({"case": "退款", "facts": ["platform"]}, "facts 必须是 JSON 对象"),
        ({"case": "退款", "facts": "拼多多"}, "facts 必须是 JSON 对象"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem(live_server, payload, fragment):
    assert_json_error(assist(live_server, payload), 400, fragment)


def test_unknown_fact_is_a_400_listing_the_facts(live_server):
    message = assert_json_error(
        assist(live_server, {"case": "退款", "facts": {"colour": "红"}}), 400, "colour"
    )
    assert "platform" in message and "days_since_receipt" in message


def test_unknown_enum_value_is_a_400_listing_the_choices(live_server):
    message = assert_json_error(
        assist(live_server, {"case": "退款", "facts": {"platform": "亚马逊"}}), 400, "亚马逊"
    )
    for choice in ("淘宝", "拼多多", "京东"):
        assert choice in message


@pytest.mark.parametrize("value", ["9", True, -1, [9], {"days": 9}])
def test_number_facts_must_be_numbers(live_server, value):
    response = assist(live_server, {"case": "退款", "facts": {"days_since_receipt": value}})
    assert_json_error(response, 400, "days_since_receipt", "数字")


@pytest.mark.parametrize("value", [9, "9"])
def test_enum_facts_must_be_strings(live_server, value):
    response = assist(live_server, {"case": "退款", "facts": {"platform": value}})
    assert_json_error(response, 400, "platform")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "不是合法的 JSON"),
        (b"{", "不是合法的 JSON"),
        (b"{'case': 'x'}", "不是合法的 JSON"),
        (b"case=x", "不是合法的 JSON"),
        (b"\xff\xfe\x00", "不是合法的 JSON"),
        (b"[" * 10000, "不是合法的 JSON"),
        (b'["case"]', "JSON 对象"),
        (b'"case"', "JSON 对象"),
        (b"null", "JSON 对象"),
    ],
)
def test_bad_json_is_a_400(live_server, body, fragment):
    response = fetch(
        f"{live_server}/api/assist",
        "POST",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert_json_error(response, 400, fragment)


def test_a_case_over_the_limit_is_a_413(live_server, settings):
    case = "退" * (settings.max_case_chars + 1)
    assert_json_error(assist(live_server, {"case": case}), 413, str(settings.max_case_chars))


def test_a_case_at_the_limit_is_fine(live_server, settings):
    case = ("快递说放门口了 可是门口啥也没有 " * 400)[: settings.max_case_chars]
    assert assist(live_server, {"case": case}).status == 200


def test_a_body_over_max_content_length_is_a_413(live_server, settings):
    body = json.dumps({"case": "退" * (settings.max_body_bytes // 3 + 10)})
    assert len(body.encode()) > settings.max_body_bytes
    response = fetch(
        f"{live_server}/api/assist",
        "POST",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert_json_error(response, 413, "KB")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/assist", "POST"),
        ("PUT", "/api/assist", "POST"),
        ("DELETE", "/api/articles/parcel-not-received", "GET"),
        ("POST", "/api/search?q=退款", "GET"),
        ("POST", "/api/articles", "GET"),
        ("POST", "/readyz", "GET"),
    ],
)
def test_wrong_method_is_a_405(live_server, method, path, allowed):
    response = fetch(f"{live_server}{_url(path)}", method, body=b"{}")
    assert_json_error(response, 405, allowed)
    assert allowed in response.headers["allow"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/nope",
        "/api/",
        "/api/articles/nope",
        "/api/articles/../x",
        "/api/articles/%3Cscript%3E",
    ],
)
def test_unknown_route_or_id_is_a_json_404(live_server, path):
    response = fetch(f"{live_server}{path}")
    assert_json_error(response, 404)
    # An echoed id is JSON text, never sniffed as HTML.
    assert response.headers.get("x-content-type-options") == "nosniff"


def test_unknown_article_404_names_the_id(live_server):
    assert_json_error(fetch(f"{live_server}/api/articles/no-such-article"), 404, "no-such-article")


def test_an_unexpected_failure_is_still_the_canonical_json_error(settings):
    app = create_app(settings)

    def broken():
        raise RuntimeError("a bug")

    app.add_url_rule("/api/broken", view_func=broken)
    app.add_url_rule("/broken", view_func=broken)
    app.logger.disabled = True  # the traceback is expected here
    with serve_app(app) as base:
        assert_json_error(fetch(f"{base}/api/broken"), 500, "服务器内部错误")
        page = fetch(f"{base}/broken")
        assert page.status == 500 and page.content_type.startswith("text/html")
        assert "a bug" not in page.text


# ------------------------------------------------------------------ search and articles


def test_search_is_lighter_and_ranked(live_server):
    response = fetch(
        f"{live_server}/api/search?q={_quote('快递说放门口了 可是门口啥也没有')}&limit=3"
    )
    assert response.status == 200
    answer = response.json()
    assert len(answer["results"]) == 3
    top = answer["results"][0]
    assert top["id"] == "parcel-not-received"
    assert set(top) == {"id", "title", "category", "category_name", "snippet", "score", "status"}
    assert "<mark>" in top["snippet"]


@pytest.mark.parametrize(
    ("query", "status", "fragment"),
    [
        ("", 400, "缺少 q"),
        ("q=", 400, "q 不能为空"),
        ("q=%20%20", 400, "q 不能为空"),
        ("q=退款&limit=0", 400, "limit"),
        ("q=退款&limit=abc", 400, "limit"),
        ("q=退款&limit=99", 400, "limit"),
        ("q=退款&limit=-3", 400, "limit"),
    ],
)
def test_search_errors(live_server, query, status, fragment):
    assert_json_error(fetch(f"{live_server}/api/search?{_url(query)}"), status, fragment)


def test_search_query_over_the_limit_is_a_413(live_server, settings):
    query = "退" * (settings.max_case_chars + 1)
    assert_json_error(fetch(f"{live_server}/api/search?q={_quote(query)}"), 413, "q 太长")


def test_articles_list_has_category_names_and_status(live_server):
    answer = fetch(f"{live_server}/api/articles").json()
    assert answer["kb_version"]
    categories = {c["key"]: c["name"] for c in answer["categories"]}
    assert categories["before-shipment"] == "发货前"
    articles = {a["id"]: a for a in answer["articles"]}
    assert set(articles) == {p.stem for p in (SHOP_KB / "articles").rglob("*.md")}
    lost = articles["parcel-not-received"]
    assert lost["category_name"] == categories[lost["category"]]
    assert lost["status"] in ("active", "upcoming", "expired")
    assert isinstance(lost["review_overdue"], bool)
    festival = articles["holiday-shipping"]
    assert festival["effective_from"] and festival["effective_until"]


def test_article_detail(live_server):
    article = fetch(f"{live_server}/api/articles/parcel-not-received").json()
    assert article["id"] == "parcel-not-received"
    assert article["category_name"] == "物流运输"
    assert article["checklist"][0]["text"]
    conditional = [s for s in article["checklist"] if s["when"]]
    assert conditional and all(s["when_text"] for s in conditional)
    assert "{{order_id}}" in article["replies"][0]["text"], "replies are the raw templates"
    assert "order_id" in article["replies"][0]["slots"]
    assert '<a class="article-link" href="/articles/slow-delivery"' in article["body_html"]
    assert "[[" not in article["body_html"]
    assert "slow-delivery" in [link["id"] for link in article["links"]["to"]]
    assert "slow-delivery" in [link["id"] for link in article["links"]["from"]]
    assert "快递市场管理办法" in article["sources"]


# ------------------------------------------------------------------ health


def test_healthz(live_server):
    response = fetch(f"{live_server}/healthz")
    assert response.status == 200
    assert response.json() == {"status": "ok"}


def test_readyz_when_loaded(live_server, index_root):
    response = fetch(f"{live_server}/readyz")
    assert response.status == 200
    ready = response.json()
    manifest = json.loads((index_root / "current" / "manifest.json").read_text(encoding="utf-8"))
    assert ready["status"] == "ready"
    assert ready["kb_version"] == manifest["kb_version"]
    assert ready["build_id"] == manifest["build_id"]
    assert ready["built_at"] == manifest["built_at"]
    assert ready["load_error"] is None
    assert ready["last_build_failure"] is None


def test_readyz_without_an_index_is_a_503_with_the_last_build_failure(tmp_path, kb_copy):
    broken = kb_copy / "articles" / "in-transit" / "parcel-not-received.md"
    broken.write_text(
        broken.read_text(encoding="utf-8").replace("category: in-transit", "category: nowhere"),
        encoding="utf-8",
    )
    index_root = tmp_path / "index"
    with pytest.raises(BuildError, match="错误"):
        build_index(kb_copy, index_root)
    app = create_app(Settings(kb_dir=kb_copy, index_root=index_root))
    with serve_app(app) as base:
        assert fetch(f"{base}/healthz").status == 200
        response = fetch(f"{base}/readyz")
        assert_json_error(response, 503, "索引")
        body = response.json()
        assert body["status"] == "not_ready"
        assert body["load_error"] is None
        failure = body["last_build_failure"]
        assert "错误" in failure["error"]
        assert any("parcel-not-received" in p for p in failure["problems"])
        # Every API route that needs the index says so the same way; pages get an HTML page.
        assert_json_error(fetch(f"{base}/api/articles"), 503, "索引")
        assert_json_error(assist(base, {"case": "退款"}), 503, "索引")
        page = fetch(f"{base}/")
        assert page.status == 503 and page.content_type.startswith("text/html")


def test_readyz_reports_a_build_that_failed_to_load(tmp_path, kb_copy):
    index_root = tmp_path / "index"
    build_index(kb_copy, index_root)
    app = create_app(Settings(kb_dir=kb_copy, index_root=index_root))
    with serve_app(app) as base:
        first = fetch(f"{base}/readyz").json()
        # A new build appears whose files are damaged: the server keeps serving the old one.
        build_index(kb_copy, index_root)
        (index_root / "current" / "kb.jsonl").write_text("{", encoding="utf-8")
        response = fetch(f"{base}/readyz")
        assert response.status == 200
        ready = response.json()
        assert ready["build_id"] == first["build_id"]
        assert "失败" in ready["load_error"]
        assert (
            fetch(f"{base}/api/assist", "POST", json_body={"case": "快递说放门口了 没收到"}).status
            == 200
        )
        # Then an editor's change fails to build: still serving, and readyz says why.
        article = kb_copy / "articles" / "in-transit" / "parcel-not-received.md"
        article.write_text("no front matter", encoding="utf-8")
        with pytest.raises(BuildError):
            build_index(kb_copy, index_root)
        ready = fetch(f"{base}/readyz").json()
        assert ready["status"] == "ready" and ready["build_id"] == first["build_id"]
        assert ready["last_build_failure"]["problems"]


# ------------------------------------------------------------------ OpenAPI


def test_openapi_is_served_and_documents_every_route(live_server, settings):
    response = fetch(f"{live_server}/api/openapi.yaml")
    assert response.status == 200
    assert "yaml" in response.content_type
    spec = yaml.safe_load(response.text)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"]
    app = create_app(settings)
    routes = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")]
    assert routes
    for rule in routes:
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        assert path in spec["paths"], f"{rule.rule} is not in openapi.yaml"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in spec["paths"][path], f"{method} {rule.rule} is not documented"
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    served = {
        (re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", r.rule), m.lower())
        for r in routes
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == served, "openapi.yaml documents a route the app does not serve"
    _assert_refs_resolve(spec)


def _assert_refs_resolve(spec: dict) -> None:
    """Every $ref points at a component that exists (a cheap stand-in for a full validator)."""

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    target = spec
                    for part in value.removeprefix("#/").split("/"):
                        assert part in target, f"unresolved $ref {value}"
                        target = target[part]
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(spec)


# ------------------------------------------------------------------ helpers


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _url(path: str) -> str:
    """Percent-encode the non-ASCII characters of a path and query (urllib wants ASCII)."""
    from urllib.parse import quote

    return quote(path, safe="/?&=%:")
