"""The agent console and the article pages in a real browser (Debian's chromium via Playwright).

Never downloads a browser: without /usr/bin/chromium these tests are skipped. Screenshots go to
test-artifacts/screenshots/ (the path is printed) for a person to look at. The console is
served over the shop fixture KB (conftest `live_server`); the test of kb learn's loop serves
test_learn's fixture KB (the shop's plus an article its cases do not find first yet).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kb_helpers import SHOP_KB

from assist_app.settings import PROJECT_ROOT

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
LOST_PARCEL = "快递说放门口了 可是门口啥也没有"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) "
            "to run the browser tests; they never download a browser"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


_announced = []


@pytest.fixture
def screenshots(capsys) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if not _announced:
        _announced.append(True)
        with capsys.disabled():
            print(f"\nscreenshots: {SCREENSHOTS}")
    return SCREENSHOTS


def watched_page(browser, base: str, console_errors: bool = True):
    """A new page on `base` and the list its script errors (and console errors) go to."""
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN", base_url=base
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    if console_errors:
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return context, page, errors


@pytest.fixture
def page(browser, live_server):
    context, page, errors = watched_page(browser, live_server)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"


def ask(page, case: str, expected_title: str):
    """Open the console, type a case as an agent would and wait for the procedure."""
    page.goto("/")
    # Focus starts in the case box: autofocus lands at the page's first rendering, which on a
    # busy machine can come after the load event goto waits for.
    page.wait_for_function("() => document.activeElement.id === 'case'")
    page.keyboard.type(case)
    page.wait_for_function(
        "t => document.getElementById('proc-title').textContent.includes(t)", arg=expected_title
    )


def clipboard(page) -> str:
    return page.evaluate("navigator.clipboard.readText()")


def step(page, text: str):
    return page.locator("#checklist .step", has_text=text)


def fact(page, label: str):
    return page.locator(f"#fact-chips [aria-label='{label}']")


# ------------------------------------------------------------------ console


def test_type_a_case_and_work_the_checklist(page, screenshots):
    ask(page, LOST_PARCEL, "没收到包裹")
    assert page.locator("#candidate-list .candidate").count() == 5
    assert page.locator("#candidate-list .candidate.open .candidate-key").inner_text() == "1"
    steps = page.locator("#checklist .step")
    assert steps.count() >= 5
    assert page.locator("#proc-why .term").count() > 0, "why: matched terms are shown"
    # Conditional steps whose fact is unknown are marked for checking.
    unsure = page.locator("#checklist .step-unsure")
    assert unsure.count() >= 1 and "需确认" in unsure.first.inner_text()

    steps.nth(0).locator("input[type=checkbox]").check()
    assert "done" in (steps.nth(0).get_attribute("class") or "")
    assert page.locator("#progress").inner_text().startswith("已完成 1 /")
    # Replies arrive filled in, gaps marked in place.
    first_reply = page.locator("#replies .reply").first
    assert "【订单号】" in first_reply.locator("textarea").input_value()
    assert first_reply.locator(".backdrop mark.gap").count() >= 1
    page.screenshot(path=screenshots / "console-results.png")


def test_results_follow_the_latest_text(page):
    ask(page, "啊啊啊下错单了 钱刚付 还没打包吧 快帮我撤销", "取消")
    page.locator("#case").fill("")
    page.locator("#case").press_sequentially(LOST_PARCEL, delay=15)
    page.wait_for_function(
        "() => document.getElementById('proc-title').textContent.includes('没收到包裹')"
    )
    assert page.locator("#candidate-list .candidate").first.inner_text().find("没收到包裹") >= 0


def test_a_stale_answer_never_replaces_a_newer_one(page):
    # The first request is held back 1.5 s and cannot be aborted: its answer arrives last.
    page.add_init_script("""
        const realFetch = window.fetch;
        let calls = 0;
        window.fetch = (url, options = {}) => {
            const { signal, ...rest } = options;
            const delay = calls++ === 0 ? 1500 : 0;
            return new Promise((done) => setTimeout(done, delay)).then(() => realFetch(url, rest));
        };
    """)
    page.goto("/")
    page.keyboard.type("啊啊啊下错单了 钱刚付 还没打包吧 快帮我撤销")
    page.wait_for_timeout(500)
    page.locator("#case").fill(LOST_PARCEL)
    page.wait_for_function(
        "() => document.getElementById('proc-title').textContent.includes('没收到包裹')"
    )
    page.wait_for_timeout(2000)
    assert "没收到包裹" in page.locator("#proc-title").inner_text()
    assert "没收到包裹" in page.locator("#candidate-list .candidate-title").first.inner_text()


def test_changing_a_fact_chip_retailors_the_checklist(page, screenshots):
    ask(page, "鞋子小了想换", "换")
    late = step(page, "签收已超过 7 天")
    assert "step-unsure" in late.get_attribute("class")

    # Facts the case did not mention fold behind one control.
    assert not fact(page, "签收天数").is_visible()
    page.locator("#facts-more").click()
    days = fact(page, "签收天数")
    days.fill("3")
    days.press("Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#checklist .step-na')]"
        ".some(s => s.textContent.includes('签收已超过 7 天'))"
    )
    assert "不适用" in late.inner_text()
    chip = page.locator("#fact-chips .chip[data-fact=days_since_receipt]")
    assert "chip-agent" in chip.get_attribute("class")

    days.fill("9")
    days.press("Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#checklist .step-ok')]"
        ".some(s => s.textContent.includes('签收已超过 7 天'))"
    )

    fact(page, "平台").select_option("拼多多")
    page.wait_for_function(
        "() => document.querySelector('.chip[data-fact=platform]').classList.contains('chip-agent')"
    )
    page.screenshot(path=screenshots / "console-fact-changed.png")


def test_copy_a_reply_warns_about_gaps(page, screenshots):
    ask(page, LOST_PARCEL, "没收到包裹")
    reply = page.locator("#replies .reply").first
    text = reply.locator("textarea").input_value()
    reply.locator("button.copy").click()
    notice = page.locator("#copy-notice")
    notice.wait_for(state="visible")
    assert "空缺" in notice.inner_text() and "【订单号】" in notice.inner_text()
    assert clipboard(page) == text
    page.screenshot(path=screenshots / "console-gap-warning.png")

    # Fill the gaps by hand, then copy with the keyboard from inside the reply.
    filled = re.sub(r"【[^】]*】", "123", text)
    textarea = reply.locator("textarea")
    textarea.fill(filled)
    assert "可以发送" in reply.locator(".check").inner_text()
    textarea.press("Control+Enter")
    page.wait_for_function(
        "() => document.getElementById('copy-notice').textContent.includes('可以粘贴')"
    )
    assert clipboard(page) == filled


def test_banned_wording_is_flagged_before_copying(page):
    ask(page, LOST_PARCEL, "没收到包裹")
    reply = page.locator("#replies .reply").first
    textarea = reply.locator("textarea")
    textarea.fill("亲，给个好评返现5元，加微信聊")
    assert "禁用说法" in reply.locator(".check").inner_text()
    assert reply.locator(".backdrop mark.banned").count() == 2
    page.evaluate("navigator.clipboard.writeText('之前的内容')")
    reply.locator("button.copy").click()
    notice = page.locator("#copy-notice")
    notice.wait_for(state="visible")
    assert "没有复制" in notice.inner_text() and "好评返现" in notice.inner_text()
    assert clipboard(page) == "之前的内容"
    notice.get_by_role("button", name="仍要复制").click()
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.includes('加微信'))")


def body_of(reply: str) -> str:
    """A reply's first line without its greeting: how it reads inside a composed message."""
    return re.sub(r"^亲[，,]\s*(?:(?:您好|你好)[！!，,。～~]*)?", "", reply.strip()).splitlines()[
        0
    ][:20]


def test_compose_one_message_from_several_replies(page, screenshots):
    ask(page, LOST_PARCEL, "没收到包裹")
    page.locator("#opening").select_option(label="开场问候")
    page.locator("#closing").select_option(label="结束道别")
    replies = page.locator("#replies .reply")
    first = replies.nth(0).locator("textarea").input_value()
    second = replies.nth(1).locator("textarea").input_value()
    replies.nth(1).locator(".add-compose").check()
    replies.nth(0).locator(".add-compose").check()
    assert page.locator("#compose-parts li").count() == 2
    composed = page.locator("#compose").input_value()
    assert composed.startswith("亲，您好！欢迎光临测试小店"), "the shop profile fills the opening"
    assert "{{" not in composed
    assert composed.count("您好") == 1, "one greeting, not one per reply"
    assert composed.index(body_of(second)) < composed.index(body_of(first)), "in the order ticked"
    assert "祝您生活愉快" in composed.splitlines()[-1]

    page.locator("#profile-summary").click()
    page.locator("#agent-name").fill("小美")
    page.locator("#profile-summary").click()
    assert page.locator("#profile-summary").inner_text() == "客服：小美"
    composed = page.locator("#compose").input_value()
    assert "我是客服小美" in composed and "【客服昵称】" not in composed

    page.locator("#case").focus()
    page.keyboard.press("Control+Enter")
    page.locator("#copy-notice").wait_for(state="visible")
    assert clipboard(page) == composed
    assert "组合消息" in page.locator("#copy-notice").inner_text()
    page.screenshot(path=screenshots / "console-compose.png")

    replies.nth(1).locator(".add-compose").uncheck()
    assert page.locator("#compose-parts li").count() == 1
    assert body_of(second) not in page.locator("#compose").input_value()


def test_other_candidates_are_one_key_away(page):
    ask(page, LOST_PARCEL, "没收到包裹")
    second_title = page.locator("#candidate-list .candidate-title").nth(1).inner_text()
    page.keyboard.press("Alt+2")
    assert page.locator("#proc-title").inner_text() == second_title
    assert page.locator("#proc-rank").inner_text() == "第 2 候选"
    page.keyboard.press("Alt+ArrowDown")
    assert page.locator("#proc-rank").inner_text() == "第 3 候选"
    page.keyboard.press("Alt+ArrowUp")
    page.keyboard.press("Alt+ArrowUp")
    assert page.locator("#proc-rank").inner_text() == "最匹配"
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") == "case"


def test_buyer_text_is_never_rendered_as_html(page):
    ask(
        page,
        '<img src=x onerror="window.hacked=1"><b id=bold>粗</b> 快递说放门口了 没收到',
        "没收到包裹",
    )
    assert page.evaluate("window.hacked") is None
    assert page.locator("#bold").count() == 0
    assert page.locator("main img").count() == 0


def test_new_case_clears_everything(page):
    ask(page, LOST_PARCEL, "没收到包裹")
    page.locator("#checklist .step input").first.check()
    page.keyboard.press("Alt+n")
    assert page.locator("#case").input_value() == ""
    assert page.locator("#empty-state").is_visible()
    assert page.evaluate("document.activeElement.id") == "case"


# ------------------------------------------------------------------ the right text to the buyer

INVOICE_CASE = "我要开发票，公司抬头"
FIRST_ORDER = "3900123456789012345"
SECOND_ORDER = "3900999999999999999"


def save_opening_and_closing(page):
    page.goto("/")
    page.locator("#opening").select_option(label="开场问候")
    page.locator("#closing").select_option(label="结束道别")
    page.reload()
    assert page.locator("#opening").input_value(), "the opening is saved in the browser"


@pytest.mark.parametrize("when", ["at once", "after the answer"])
def test_ctrl_enter_with_a_saved_opening_and_closing_copies_the_reply(page, when):
    # Issue 13.1: Ctrl+Enter copied 欢迎光临… + …再见！ with no reply between them.
    save_opening_and_closing(page)
    page.locator("#case").focus()
    page.keyboard.type(INVOICE_CASE)
    if when == "after the answer":
        page.wait_for_function(
            "() => document.getElementById('proc-title').textContent.includes('发票')"
        )
    page.keyboard.press("Control+Enter")
    page.locator("#copy-notice").wait_for(state="visible")
    copied = clipboard(page)
    assert "可以为您开具发票" in copied, copied
    assert copied.startswith("亲，您好！欢迎光临") and copied.rstrip().endswith("再见！")
    assert copied == page.locator("#compose").input_value(), "what the agent sees is what is copied"
    assert copied.count("您好") == 1, "one greeting"
    assert "可以发送" not in page.locator("#compose-check").inner_text(), "the reply has gaps"


def test_ctrl_enter_never_copies_a_frame_without_a_reply(page):
    save_opening_and_closing(page)
    page.evaluate("navigator.clipboard.writeText('之前的内容')")
    page.locator("#case").focus()
    page.keyboard.press("Control+Enter")
    page.locator("#copy-notice").wait_for(state="visible")
    assert "先输入买家消息" in page.locator("#copy-notice").inner_text()
    assert clipboard(page) == "之前的内容"
    assert page.locator("#compose").input_value() == ""


def edit_first_reply_and_tick_a_step(page) -> str:
    reply = page.locator("#replies .reply").first
    textarea = reply.locator("textarea")
    assert FIRST_ORDER in textarea.input_value()
    edited = textarea.input_value() + "我是小美，已为您登记加急。"
    textarea.fill(edited)
    page.locator("#checklist .step input").first.check()
    return edited


def reply_texts(page) -> list[str]:
    return page.locator("#replies .reply textarea").evaluate_all("els => els.map(e => e.value)")


@pytest.mark.parametrize("how", ["select all and type", "paste over", "Alt+N"])
def test_a_new_buyer_starts_from_fresh_replies_and_checklist(page, how):
    # Issue 13.2: the previous buyer's order number, edit and ticks carried over.
    ask(page, f"快递说放门口了 可是门口啥也没有 订单号 {FIRST_ORDER}", "没收到包裹")
    edited = edit_first_reply_and_tick_a_step(page)

    # More words about the same case keep the agent's work.
    page.locator("#case").press("End")
    page.keyboard.type(" 麻烦快点")
    page.wait_for_function("() => document.getElementById('busy').textContent === ''")
    page.wait_for_timeout(400)
    assert reply_texts(page)[0] == edited
    assert page.locator("#checklist .step input").first.is_checked()

    second = f"快递说放门口了 可是门口啥也没有 订单号 {SECOND_ORDER}"
    page.locator("#case").focus()
    if how == "select all and type":
        page.keyboard.press("Control+A")
        page.keyboard.type(second)
    elif how == "paste over":
        page.evaluate("t => navigator.clipboard.writeText(t)", second)
        page.keyboard.press("Control+A")
        page.keyboard.press("Control+V")
    else:
        page.keyboard.press("Alt+n")
        page.keyboard.type(second)
    page.wait_for_function(
        "o => document.querySelector('#replies .reply textarea')?.value.includes(o)",
        arg=SECOND_ORDER,
    )
    texts = reply_texts(page)
    assert not any(FIRST_ORDER in t or "加急" in t for t in texts), texts
    assert page.locator("#checklist .step input:checked").count() == 0
    assert page.locator("#replies .reply button", has_text="还原").first.is_hidden()


def test_another_order_number_in_the_same_box_is_a_new_case(page):
    ask(page, f"快递说放门口了 可是门口啥也没有 订单号 {FIRST_ORDER}", "没收到包裹")
    edit_first_reply_and_tick_a_step(page)
    # Only the number is retyped: the rest of the text stays.
    page.locator("#case").evaluate(
        "(box, o) => { box.focus(); const at = box.value.indexOf(o);"
        " box.setSelectionRange(at, at + o.length); }",
        FIRST_ORDER,
    )
    page.keyboard.type(SECOND_ORDER)
    page.wait_for_function(
        "o => document.querySelector('#replies .reply textarea')?.value.includes(o)",
        arg=SECOND_ORDER,
    )
    assert page.locator("#checklist .step input:checked").count() == 0


# ------------------------------------------------------------------ less hunting


def in_view(locator) -> bool:
    """The element is inside the viewport without scrolling the page or its pane."""
    return locator.evaluate(
        """e => { const r = e.getBoundingClientRect();
                  return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight
                      && r.left >= 0 && r.right <= window.innerWidth; }"""
    )


@pytest.mark.parametrize("height", [768, 657])
def test_the_work_is_above_the_fold_at_1366(browser, live_server, screenshots, height):
    # 1366x657 is a 1366x768 screen with a browser's toolbars.
    context = browser.new_context(
        viewport={"width": 1366, "height": height}, locale="zh-CN", base_url=live_server
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto("/")
    page.locator("#opening").select_option(label="开场问候")
    page.locator("#closing").select_option(label="结束道别")
    page.keyboard.press("Escape")
    page.locator("#case").fill("鞋子小了想换 拼多多买的 订单号 3900123456789012345")
    page.wait_for_function("() => document.getElementById('proc-title').textContent.includes('换')")
    page.screenshot(path=screenshots / f"console-1366x{height}.png")
    assert in_view(page.locator("#case"))
    assert in_view(page.locator("#proc-title"))
    for n in range(3):
        assert in_view(page.locator("#checklist .step").nth(n)), f"step {n + 1} is below the fold"
    assert in_view(page.locator("#replies .reply").first), "the first reply is below the fold"
    assert in_view(page.locator("#candidate-list .candidate").first)
    assert page.locator("#fact-chips .chip-unknown:visible").count() == 0, "unknown facts fold away"
    context.close()


def test_keys_reach_the_checklist_the_replies_and_the_help(page):
    ask(page, LOST_PARCEL, "没收到包裹")
    page.keyboard.press("Alt+j")
    page.keyboard.press("Alt+j")
    ticked = page.locator("#checklist .step input:checked")
    assert ticked.count() == 2
    assert page.locator("#progress").inner_text().startswith("已完成 2 /")
    page.keyboard.press("Alt+l")
    assert page.evaluate("document.activeElement.classList.contains('step-box')")
    page.keyboard.press("Alt+r")
    assert page.evaluate("document.activeElement.classList.contains('reply-text')")
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.id") == "case"

    second = page.locator("#replies .reply").nth(1).locator("textarea").input_value()
    page.keyboard.press("Alt+Shift+2")
    page.locator("#copy-notice").wait_for(state="visible")
    assert clipboard(page) == second

    page.locator("#proc-title").click()  # out of the text box: ? is a key, not a character
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    assert "勾选下一步" in page.locator("#help").inner_text()
    page.keyboard.press("Escape")
    assert not page.locator("#help").is_visible()


def test_my_name_closes_on_escape_and_outside_and_never_covers_the_replies(page):
    page.goto("/")
    page.locator("#profile-summary").click()
    panel = page.locator(".profile-panel")
    assert panel.is_visible()
    box, replies = panel.bounding_box(), page.locator(".reply-pane").bounding_box()
    assert box["x"] + box["width"] <= replies["x"], "the panel opens clear of the replies"
    page.locator("#agent-name").press("Escape")
    assert not panel.is_visible()
    page.locator("#profile-summary").click()
    page.locator(".procedure-pane").click(position={"x": 20, "y": 300})
    assert not panel.is_visible()


def test_half_typed_pinyin_is_neither_searched_nor_recorded(page):
    page.add_init_script("""
        window.sentCases = [];
        const realFetch = window.fetch;
        window.fetch = (url, options = {}) => {
            if (String(url).includes('/api/assist')) window.sentCases.push(JSON.parse(options.body).case);
            return realFetch(url, options);
        };
    """)
    page.goto("/")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.imeSetComposition", {"text": "kuaidi", "selectionStart": 6, "selectionEnd": 6})
    page.wait_for_timeout(700)  # longer than the console's pause before it searches
    assert page.evaluate("window.sentCases") == []
    cdp.send("Input.insertText", {"text": "快递说放门口了 可是门口啥也没有"})
    page.wait_for_function(
        "() => document.getElementById('proc-title').textContent.includes('没收到包裹')"
    )
    sent = page.evaluate("window.sentCases")
    assert sent and not any("kuaidi" in case for case in sent), sent


def test_why_is_said_in_words(page):
    ask(page, "鞋子小了想换", "换")
    terms = page.locator("#proc-why .term").all_inner_texts()
    assert terms and all(len(t) > 1 for t in terms), terms
    candidates = page.locator("#candidate-list").inner_text()
    assert "相关度" not in candidates and not re.search(r"\d\.\d\d", candidates)
    assert page.locator("#candidate-list .confidence").count() == 5
    assert page.locator("#proc-confidence").inner_text()
    checklist = page.locator("#checklist").inner_text()
    assert "签收超过 7 天" in checklist and "签收天数 >" not in checklist


@pytest.mark.parametrize(("status", "says"), [(401, "重新登录"), (403, "没有使用坐席助手的权限")])
def test_a_sign_in_that_expired_or_no_permission_is_said_plainly(
    browser, live_server, status, says
):
    # The sign-in in front of the app may answer with a login page (HTML), not JSON. (Its own
    # page: the browser logs the refused request as an error, which the page fixture forbids.)
    context = browser.new_context(locale="zh-CN", base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.route(
        "**/api/assist",
        lambda route: route.fulfill(
            status=status, body="<html>请登录</html>", content_type="text/html"
        ),
    )
    page.goto("/")
    page.keyboard.type(LOST_PARCEL)
    notice = page.locator("#notice-bar")
    notice.wait_for(state="visible")
    assert says in notice.inner_text()
    context.close()


PASTED_CHAT = (
    "卖家: 亲在的 有什么可以帮您\n买家: 我买的鞋子码小了 想换大一码\n卖家: 好的亲 订单号发一下"
)


def test_a_pasted_chat_shows_which_lines_were_read_as_the_buyers(page):
    page.goto("/")
    page.evaluate("t => navigator.clipboard.writeText(t)", PASTED_CHAT)
    page.keyboard.press("Control+V")
    page.wait_for_function("() => document.getElementById('proc-title').textContent.includes('换')")
    turns = page.locator("#turns")
    assert turns.is_visible()
    assert "3 段" in turns.inner_text() and "1 段读作买家的话" in turns.inner_text()
    page.locator("#turns-summary").click()
    assert (
        page.locator(".turn-buyer").inner_text().replace("\n", "")
        == "买家我买的鞋子码小了 想换大一码"
    )
    assert page.locator(".turn-agent").count() == 2

    page.locator("#case").fill(LOST_PARCEL)  # one message: nothing to split
    page.wait_for_function(
        "() => document.getElementById('proc-title').textContent.includes('没收到包裹')"
    )
    assert not turns.is_visible()


def test_no_good_match_shows_candidates_as_only_possibly_related(page):
    page.goto("/")
    page.keyboard.type("你们的老板是谁呀")
    page.wait_for_function(
        "() => document.getElementById('candidates-label').textContent === '可能相关'"
    )
    assert "未找到合适流程" in page.locator("#notice-bar").inner_text()
    assert not page.locator("#procedure").is_visible(), "no procedure opens by itself"
    assert page.locator("#candidate-list .candidate").count() >= 1
    page.keyboard.press("Control+Enter")
    page.locator("#copy-notice").wait_for(state="visible")
    assert "没有复制" in page.locator("#copy-notice").inner_text()
    page.keyboard.press("Alt+1")
    assert page.locator("#procedure").is_visible()
    assert page.locator("#proc-rank").inner_text() == "可能相关 1"


# ------------------------------------------------------------------ browsing


def test_a_case_worded_like_an_out_of_scope_topic_says_so(browser, starter_server):
    # The starter KB's out-of-scope phrases tell the agent why nothing fits: the buyer asks a
    # pre-sales question (stock, sizes) that no after-sales procedure answers.
    context, page, errors = watched_page(browser, starter_server)
    page.goto("/")
    page.wait_for_function("() => document.activeElement.id === 'case'")
    page.keyboard.type("这款有没有大码")
    page.wait_for_function(
        "() => document.getElementById('candidates-label').textContent === '可能相关'"
    )
    notice = page.locator("#notice-bar").inner_text()
    assert "未找到合适流程" in notice
    assert "售后流程以外的问题" in notice
    page.locator("#case").fill("收到的杯子碎了")  # a buyer-facing problem: no such notice
    page.wait_for_function(
        "() => document.getElementById('candidates-label').textContent !== '可能相关'"
    )
    assert "售后流程以外" not in page.locator("body").inner_text()
    context.close()
    assert not errors, f"errors in the page: {errors}"


def test_browse_open_an_article_and_follow_a_link(page, screenshots):
    page.goto("/articles")
    page.get_by_role("link", name=re.compile("物流显示签收了却没收到包裹")).first.click()
    page.wait_for_url("**/articles/parcel-not-received")
    assert "物流显示签收了却没收到包裹" in page.locator("h1").inner_text()
    assert page.locator(".checklist-static .step").count() >= 5
    page.screenshot(path=screenshots / "article-page.png", full_page=True)
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible()
    page.screenshot(path=screenshots / "article-print.png", full_page=True)
    page.emulate_media(media="screen")

    page.locator(".article-body a.article-link[href='/articles/slow-delivery']").click()
    page.wait_for_url("**/articles/slow-delivery")
    assert "物流" in page.locator("h1").inner_text()
    assert page.locator(".related a[href='/articles/parcel-not-received']").count() >= 1


def test_search_articles_with_highlights(page, screenshots):
    page.goto("/articles")
    page.locator("#q").fill("七天无理由 不想要了")
    page.locator("#q").press("Enter")
    page.wait_for_url("**/articles?q=*")
    assert page.locator(".result").count() >= 1
    assert page.locator(".result .snippet mark").count() >= 1
    page.screenshot(path=screenshots / "browse-search.png")


# ------------------------------------------------------------------ insights


def test_mark_a_result_helpful_and_see_it_in_insights(browser, index_root, tmp_path, screenshots):
    from web_helpers import agents_session, serve_app

    from assist_app import create_app
    from assist_app.settings import Settings

    store = tmp_path / "insights.sqlite"
    app = create_app(Settings(kb_dir=SHOP_KB, index_root=index_root, insights_url=str(store)))
    with serve_app(app) as base:
        agents_session(base)  # other agents' work this week, through the API
        context, page, errors = watched_page(browser, base)

        ask(page, "收到的杯子碎了 箱子都压扁了", "运输破损")
        helpful = page.get_by_role("button", name="✓ 有用")
        helpful.click()
        page.wait_for_function(
            "() => document.getElementById('verdict-status').textContent.includes('已记录：有用')"
        )
        assert helpful.get_attribute("aria-pressed") == "true"
        assert page.get_by_role("button", name="✗ 不对").get_attribute("aria-pressed") == "false"
        assert app.extensions["insights"].flush()

        page.get_by_role("link", name="检索洞察").click()
        page.wait_for_url("**/insights")
        row = page.locator("#marks-title + .bars > li", has_text="收到时商品破了")
        assert "有用 1" in row.inner_text() and "100%" in row.inner_text()
        page.get_by_role("link", name="近 7 天").click()
        page.wait_for_url("**/insights?days=7")
        page.screenshot(path=screenshots / "insights.png", full_page=True)
        context.close()
        assert not errors, f"errors in the page: {errors}"


def test_working_from_a_lower_procedure_is_reported_once_and_learnt(browser, tmp_path, screenshots):
    """The console reports `chose` when the agent works from a procedure below the first (a
    copied reply, a ticked step, or another pick after marking the first 不对), once per case;
    the insights page then proposes the buyers' wording and copies its patch."""
    from test_learn import CASES, WANTED, write_learn_kb
    from web_helpers import serve_app

    from assist_app import create_app
    from assist_app.settings import Settings
    from indexer.build import build_index

    kb_dir = write_learn_kb(tmp_path / "kb")
    build_index(kb_dir, tmp_path / "index")
    store_url = str(tmp_path / "insights.sqlite")
    app = create_app(Settings(kb_dir=kb_dir, index_root=tmp_path / "index", insights_url=store_url))
    first_title = "物流好几天不更新"
    wanted = "#candidate-list .candidate", "寄回的退货包裹"
    with serve_app(app) as base:
        context, page, errors = watched_page(browser, base)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        for n, case in enumerate(CASES):
            if n == 0:
                ask(page, case, first_title)
            else:
                page.keyboard.press("Alt+KeyN")  # a new buyer
                page.keyboard.type(case)
                page.wait_for_function(
                    "t => document.getElementById('proc-title').textContent.includes(t)",
                    arg=first_title,
                )
            candidate = page.locator(wanted[0], has_text=wanted[1])
            rank = int(candidate.locator(".candidate-key").inner_text())
            assert rank > 1
            if n == 0:  # Alt+digit, then copy one of its replies (twice: one choice)
                page.keyboard.press(f"Alt+Digit{rank}")
                page.wait_for_function(
                    "() => document.getElementById('proc-title').textContent.includes('寄回')"
                )
                page.locator("#replies .reply .copy").first.click()
                page.locator("#replies .reply .copy").first.click()
            elif n == 1:  # click it, tick two of its steps
                candidate.locator("button").click()
                page.wait_for_function(
                    "() => document.getElementById('proc-title').textContent.includes('寄回')"
                )
                page.locator("#checklist .step-box").nth(0).check()
                page.locator("#checklist .step-box").nth(1).check()
            else:  # mark the first 不对, then pick it
                page.get_by_role("button", name="✗ 不对").click()
                candidate.locator("button").click()
                page.wait_for_function(
                    "() => document.getElementById('proc-title').textContent.includes('寄回')"
                )
        store = app.extensions["insights"].store

        def chosen() -> list[tuple]:
            assert app.extensions["insights"].flush()
            with store.connection() as conn:
                return store.query(
                    conn,
                    "SELECT r.case_id, a.article_id, a.rank FROM insight_actions a JOIN "
                    "insight_requests r ON r.request_id = a.request_id WHERE a.action = 'chose'",
                    {},
                )

        # Feedback is fire-and-forget: wait until the last case's report has arrived.
        for _ in range(100):
            if len(chosen()) >= 3:
                break
            page.wait_for_timeout(100)
        page.wait_for_timeout(300)  # a duplicate report, were one sent, would be in by now
        found = chosen()
        assert len(found) == 3 and len({case_id for case_id, _, _ in found}) == 3
        assert {(article_id, rank > 1) for _, article_id, rank in found} == {(WANTED, True)}

        page.goto("/insights?days=7")
        proposal = page.locator(f".proposal[data-article='{WANTED}']")
        assert "3 个案例" in proposal.inner_text() and first_title in proposal.inner_text()
        proposal.get_by_role("button", name="复制补丁").click()
        page.wait_for_function(
            "() => document.querySelector('[data-copy]').textContent === '已复制'"
        )
        patch = clipboard(page)
        assert len(patch.splitlines()) == 3 and all(
            line.startswith("  - ") for line in patch.splitlines()
        )
        assert not re.search(r"\d", patch), "no number of the cases reaches a keyword"
        page.screenshot(path=screenshots / "insights-learn.png", full_page=True)

        dropped = patch.splitlines()[0][4:]
        proposal.locator("li", has_text=dropped).get_by_role("button", name="忽略").click()
        page.wait_for_url("**/insights?days=7#learn-title")
        assert dropped not in page.locator(f".proposal[data-article='{WANTED}']").inner_text()
        context.close()
        assert not errors, f"errors in the page: {errors}"
    app.extensions["insights"].close()


# ------------------------------------------------------------------ accessibility

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


def accessibility_violations(page) -> list[str]:
    """WCAG 2 A/AA violations axe-core finds on the page, one line each."""
    # evaluate() is not subject to the page's Content-Security-Policy; a <script> tag would be.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """() => axe.run(document, {
               runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
           }).then(r => r.violations.map(v =>
               `${v.id}: ${v.help} — ${v.nodes.slice(0, 4).map(n => n.target.join(" ")).join(", ")}`))"""
    )
    return found


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/articles",
        "/articles?q=退款",
        "/articles/parcel-not-received",
        "/changes",
        "/insights",
    ],
)
def test_pages_pass_an_automated_accessibility_check(page, path):
    page.goto(path)
    assert accessibility_violations(page) == []


def test_the_console_with_an_answer_passes_an_automated_accessibility_check(page):
    ask(page, "鞋子小了想换 拼多多 订单号 3900123456789012345", "换")
    page.locator("#opening").select_option(label="开场问候")
    page.locator("#facts-more").click()
    assert accessibility_violations(page) == []


# ------------------------------------------------------------------ signing in


def test_sign_in_work_a_case_and_sign_out(browser, index_root, tmp_path, screenshots):
    from web_helpers import serve_app

    from assist_app import create_app
    from assist_app.settings import Settings
    from assist_app.users import set_user

    users = tmp_path / "users"
    set_user(users, "xiaowang", "agent", "agent-secret-1")
    app = create_app(
        Settings(
            kb_dir=SHOP_KB,
            index_root=index_root,
            insights_url=str(tmp_path / "insights.sqlite"),
            users_file=users,
        )
    )
    with serve_app(app) as base:
        # The refused sign-in is a 401, which the console logs as an error: scripts only.
        context, page, errors = watched_page(browser, base, console_errors=False)

        page.goto("/articles")
        page.wait_for_url(re.compile(r"/login\?next="))
        assert page.get_by_role("heading", name="登录售后知识库").is_visible()
        page.get_by_label("用户名").fill("xiaowang")
        page.get_by_label("密码").fill("wrong password")
        page.get_by_role("button", name="登录").click()
        assert page.get_by_role("alert").inner_text() == "用户名或密码不对"
        assert accessibility_violations(page) == []
        page.get_by_label("密码").fill("agent-secret-1")
        page.screenshot(path=screenshots / "login.png")
        page.get_by_role("button", name="登录").click()
        page.wait_for_url("**/articles")
        assert "xiaowang（坐席）" in page.locator(".signed-in").inner_text()
        assert page.get_by_role("link", name="检索洞察").count() == 0

        # The console's scripts work signed in: the answer, then feedback (same-origin POSTs).
        ask(page, "收到的杯子碎了 箱子都压扁了", "运输破损")
        page.get_by_role("button", name="✓ 有用").click()
        page.wait_for_function(
            "() => document.getElementById('verdict-status').textContent.includes('已记录：有用')"
        )
        assert app.extensions["insights"].flush()
        assert app.extensions["insights"].stats()["written"] >= 2

        page.get_by_role("button", name="退出登录").click()
        page.wait_for_url("**/login")
        page.goto("/")
        page.wait_for_url(re.compile(r"/login\?next="))
        context.close()
        assert not errors, f"errors in the page: {errors}"


def test_openings_and_closings_are_offered_where_they_belong(page):
    ask(page, LOST_PARCEL, "没收到包裹")
    openings = page.locator("#opening option").all_inner_texts()
    closings = page.locator("#closing option").all_inner_texts()
    assert "开场问候" in openings and "结束道别" not in openings
    assert "结束道别" in closings and "开场问候" not in closings
    # An off-hours auto-reply is a message of its own, neither an opening nor a closing.
    assert "非工作时间自动回复" not in openings + closings


def test_a_reply_with_the_shops_starter_values_is_marked_for_checking(page):
    ask(page, "过年还发货吗", "春节")
    marked = page.locator("#replies .reply", has_text="放假前一天")
    assert "含示例值：当天发货截单时间" in marked.locator(".reply-example").inner_text()
    plain = page.locator("#replies .reply", has_text="节后仓库恢复发货")
    assert plain.locator(".reply-example").count() == 0
