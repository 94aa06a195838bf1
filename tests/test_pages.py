"""The pages over HTTP: console, browsing, article pages, error pages; what the browser receives.

Served over the shop fixture KB (conftest `live_server`, tests/fixtures/shop_kb/).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from kb_helpers import SHOP_KB
from web_helpers import days_from_today, fetch, serve_app, write_article

from assist_app import create_app, render
from assist_app.settings import Settings
from indexer.build import build_index

HOSTILE_BODY = """\
## 正文里的危险内容

见 [[parcel-not-received]]，另见 [[cancel-unshipped]]。

<script>alert("body")</script>
<img src=x onerror="alert('img')">
<a href="javascript:alert('href')">点我</a>
<iframe src="https://example.com/"></iframe>
<style>body { display: none }</style>
<div onclick="alert('div')">普通文字</div>

[脚本链接](javascript:alert('md'))

| 项目 | 说明 |
| --- | --- |
| 表格 | 保留 |
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> str:
    """A copy of the fixture KB with a hostile article, an expired, an upcoming and an overdue one."""
    root = tmp_path_factory.mktemp("pages")
    kb = root / "kb"
    shutil.copytree(SHOP_KB, kb)
    common = """
tags: [测试]
owner: 测试组
review_every_days: 180
checklist:
  - 第一步：核对订单，参考 [[parcel-not-received]]。<b>不是粗体</b>
replies:
  - id: only
    title: 唯一回复
    text: 亲，订单 {{order_id}} 已收到。
"""
    write_article(
        kb,
        "before-shipment",
        "hostile-body",
        f"title: 测试<i>标题</i>文章\nreviewed: {days_from_today(-10)}\n{common}",
        HOSTILE_BODY,
    )
    write_article(
        kb,
        "before-shipment",
        "old-policy",
        f"title: 去年双十一价保政策\nreviewed: {days_from_today(-400)}\n"
        f"effective_from: {days_from_today(-420)}\neffective_until: {days_from_today(-5)}\n"
        f"{common}",
        "过期的政策。\n",
    )
    write_article(
        kb,
        "before-shipment",
        "next-policy",
        f"title: 明年春节停发安排\nreviewed: {days_from_today(-1)}\n"
        f"effective_from: {days_from_today(30)}\neffective_until: {days_from_today(60)}\n"
        f"{common}",
        "还没生效的政策。\n",
    )
    build_index(kb, root / "index")
    app = create_app(Settings(kb_dir=kb, index_root=root / "index"))
    with serve_app(app) as url:
        yield url


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == name]


def page(url: str, status: int = 200) -> str:
    response = fetch(url)
    assert response.status == status, (response.status, response.text[:300])
    assert response.content_type.startswith("text/html")
    return response.text


def assert_only_our_scripts(html: str) -> None:
    tags = Tags(html)
    for attrs in tags.all("script"):
        assert (
            attrs.get("src", "").startswith("/static/") or attrs.get("type") == "application/json"
        )
    for tag, attrs in tags.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert "javascript:" not in (value or ""), (tag, name, value)
    assert not tags.all("iframe") and not tags.all("style")


# ------------------------------------------------------------------ console


def test_console_page(live_server):
    response = fetch(f"{live_server}/")
    assert response.status == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    tags = Tags(response.text)
    case = next(a for a in tags.all("textarea") if a.get("id") == "case")
    assert "autofocus" in case
    links = [a["href"] for a in tags.all("link")] + [
        a["src"] for a in tags.all("script") if "src" in a
    ]
    assert links and all(src.startswith(("/static/", "data:")) for src in links), "no CDN"
    data = json.loads(re.search(r'id="console-data">(.*?)</script>', response.text, re.S).group(1))
    assert "好评返现" in data["banned_phrases"] and "加微信" in data["banned_phrases"]
    assert {r["title"] for r in data["common_replies"]} >= {"开场问候", "结束道别"}
    assert {f["name"] for f in data["facts"]} >= {"platform", "order_status", "days_since_receipt"}


@pytest.mark.parametrize("name", ["console.js", "style.css", "page.js"])
def test_static_files_are_served(live_server, name):
    assert fetch(f"{live_server}/static/{name}").status == 200


def test_print_stylesheet(live_server):
    css = fetch(f"{live_server}/static/style.css").text
    assert "@media print" in css


# ------------------------------------------------------------------ browsing


def test_browse_lists_categories_and_their_articles(live_server):
    html = page(f"{live_server}/articles")
    for name in ("发货前", "物流运输", "退货退款", "客服规范"):
        assert name in html
    hrefs = {a.get("href") for a in Tags(html).all("a")}
    assert {"/articles/parcel-not-received", "/articles/cancel-unshipped"} <= hrefs


def test_browse_marks_expired_upcoming_and_overdue(site):
    html = page(f"{site}/articles")

    def item(title: str) -> str:
        return re.search(rf"<li>\s*<a[^>]*>{title}</a>(.*?)</li>", html, re.S).group(1)

    assert "已失效" in item("去年双十一价保政策")
    assert "待复核" in item("去年双十一价保政策")
    assert "即将生效" in item("明年春节停发安排")
    assert "已失效" not in item("明年春节停发安排") and "待复核" not in item("明年春节停发安排")


def test_search_highlights_results(live_server):
    html = page(f"{live_server}/articles?q={quote('快递说放门口了 可是门口啥也没有')}")
    first = re.search(r'<li class="result">(.*?)</li>', html, re.S).group(1)
    assert 'href="/articles/parcel-not-received"' in first
    snippet = re.search(r'<p class="snippet">(.*?)</p>', first, re.S).group(1)
    assert "<mark>" in snippet
    assert not re.findall(r"<(?!/?mark>)", snippet), "only <mark> is markup in a snippet"


def test_search_escapes_the_query(live_server):
    html = page(f"{live_server}/articles?q={quote('<script>alert(1)</script> 退款')}")
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html
    assert_only_our_scripts(html)


def test_search_with_no_results(live_server):
    html = page(f"{live_server}/articles?q=zzzzqqqq")
    assert "没有找到相关文章" in html


# ------------------------------------------------------------------ article pages


def test_article_page(live_server):
    html = page(f"{live_server}/articles/parcel-not-received")
    assert "物流显示签收了却没收到包裹" in html
    assert "处理清单" in html and "回复模板" in html
    assert "售后组" in html, "owner"
    assert re.search(r"复核日期</dt><dd>\d{4}-\d{2}-\d{2}", html)
    assert 'class="slot"' in html and "【订单号】" in html, "placeholders shown as gaps"
    assert "仅当平台为" in html, "conditional steps say when they apply"
    assert "data-print" in html
    sources = html[html.index('id="sources-heading"') : html.index('id="related-heading"')]
    assert "<li>快递市场管理办法</li>" in sources, "the rules the procedure rests on"


def test_article_page_shows_the_shop_settings_a_reply_cites(live_server):
    html = page(f"{live_server}/articles/holiday-shipping")
    replies = html[html.index('id="replies-heading"') : html.index('id="body-heading"')]
    # The fixture shop.yaml's starter value, marked as an example the shop has yet to replace.
    assert re.search(
        r'<span class="shop-value shop-example" title="店铺资料：当天发货截单时间[^"]*示例值',
        replies,
    )
    assert "17:00" in replies
    assert "{{shop." not in html


def test_article_links_resolve_both_ways(live_server):
    html = page(f"{live_server}/articles/parcel-not-received")
    body = html[html.index('id="body-heading"') : html.index('id="related-heading"')]
    assert '<a class="article-link" href="/articles/slow-delivery"' in body
    assert "[[" not in body
    related = html[html.index('id="related-heading"') :]
    incoming = related[related.index("链接到本文的文章") :]
    assert "/articles/slow-delivery" in related
    assert 'href="/articles/slow-delivery"' in incoming, "articles linking here are listed"


def test_hostile_article_body_is_sanitized(site):
    html = page(f"{site}/articles/hostile-body")
    assert_only_our_scripts(html)
    assert "alert(" not in html
    assert "<b>" not in html and "&lt;b&gt;不是粗体" in html, "step text is text"
    assert "<i>标题</i>" not in html and "测试&lt;i&gt;标题&lt;/i&gt;文章" in html
    assert "<table>" in html, "ordinary Markdown survives"
    assert '<a class="article-link" href="/articles/parcel-not-received"' in html
    step = re.search(r'<span class="step-text">(.*?)</span>', html, re.S).group(1)
    assert 'href="/articles/parcel-not-received"' in step, "[[links]] in steps resolve too"


def test_hostile_article_through_the_api_is_sanitized_too(site):
    body = fetch(f"{site}/api/articles/hostile-body").json()["body_html"]
    assert "<script" not in body and "onerror" not in body and "javascript:" not in body
    assert "<iframe" not in body and "<style" not in body


def test_article_marks(site):
    old = page(f"{site}/articles/old-policy")
    assert "已失效" in old and "待复核" in old and "已超期" in old
    upcoming = page(f"{site}/articles/next-policy")
    assert "即将生效" in upcoming and "待复核" not in upcoming


def test_unknown_links_are_plain_text(engine):
    kb = engine.current().kb
    article = dataclasses.replace(
        kb.article("parcel-not-received"), body="见 [[no-such-article]] 和 [[parcel-not-received]]"
    )
    html = render.body_html(article, kb, lambda i: f"/articles/{i}")
    assert '<span class="link-missing" title="没有这篇文章">no-such-article</span>' in html
    assert 'href="/articles/no-such-article"' not in html
    assert 'href="/articles/parcel-not-received"' in html
    assert render.linked_text("看 [[nope]] <b>", kb, str) == (
        '看 <span class="link-missing" title="没有这篇文章">nope</span> &lt;b&gt;'
    )


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("path", ["/articles/no-such-article", "/nope", "/articles/a/b"])
def test_404_is_an_html_page(live_server, path):
    html = page(f"{live_server}{path}", status=404)
    assert "页面不存在" in html
    assert 'href="/articles"' in html


def test_404_page_escapes_the_id(live_server):
    html = page(f"{live_server}/articles/{quote('<img src=x onerror=alert(1)>')}", status=404)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert_only_our_scripts(html)


def test_405_on_a_page_is_html(live_server):
    response = fetch(f"{live_server}/articles", "POST", body=b"x")
    assert response.status == 405
    assert response.content_type.startswith("text/html")
    assert "GET" in response.headers["allow"]
