"""Access control over HTTP: roles, the users file and /login, a trusted proxy's header,
cross-site writes, `kb serve` refusing to expose an open service, no paths shown to anyone.

Each test serves the real app (web_helpers.serve_app) or runs the real `kb` command.
"""

from __future__ import annotations

import contextlib
import http.cookies
import json
import os
import stat
import subprocess
import urllib.parse

import pytest
from kb_helpers import SHOP_KB
from live_helpers import KB_COMMAND, free_port, request, run_kb
from web_helpers import serve_app

from assist_app import create_app
from assist_app.settings import Settings
from assist_app.users import set_user

CASE = "快递说放门口了 可是门口啥也没有"
AGENT_PASSWORD = "agent-secret-1"
EDITOR_PASSWORD = "editor-secret-2"


@pytest.fixture
def users_file(tmp_path):
    path = tmp_path / "users"
    set_user(path, "xiaowang", "agent", AGENT_PASSWORD)
    set_user(path, "laoli", "editor", EDITOR_PASSWORD)
    return path


@pytest.fixture
def app_with(index_root, tmp_path):
    """Serve the real app with extra settings; yield a function returning (base URL, app)."""
    stack = contextlib.ExitStack()

    def start(**extra):
        settings = Settings(
            kb_dir=SHOP_KB,
            index_root=index_root,
            insights_url=str(tmp_path / "insights.sqlite"),
            **extra,
        )
        app = create_app(settings)
        stack.callback(app.extensions["insights"].close)
        return stack.enter_context(serve_app(app)), app

    with stack:
        yield start


class Browser:
    """A client that keeps cookies, like a browser, over raw HTTP (live_helpers.request)."""

    def __init__(self, base: str):
        self.base = base
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, body: bytes | None = None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = request(self.base, method, path, body, headers)
        if "set-cookie" in response.headers:
            jar = http.cookies.SimpleCookie(response.headers["set-cookie"])
            for name, morsel in jar.items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return response

    def login(self, name: str, password: str, **headers):
        form = urllib.parse.urlencode({"name": name, "password": password, "next": "/"}).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return self.send("POST", "/login", form, headers)

    def assist(self, case: str = CASE, headers=None):
        body = json.dumps({"case": case}, ensure_ascii=False).encode()
        return self.send(
            "POST", "/api/assist", body, {"Content-Type": "application/json", **(headers or {})}
        )


# ------------------------------------------------------------------ open (no configuration)


def test_without_configuration_loopback_stays_open(app_with):
    base, _ = app_with()
    client = Browser(base)
    for path in ("/", "/articles", "/insights", "/changes"):
        assert client.send("GET", path).status == 200, path
    assert client.assist().status == 200


# ------------------------------------------------------------------ users file


def test_users_file_mode_requires_sign_in(app_with, users_file):
    base, _ = app_with(users_file=users_file)
    client = Browser(base)
    page = client.send("GET", "/insights?days=7")
    assert page.status == 302
    login_url = urllib.parse.urlsplit(page.headers["location"])
    assert login_url.path == "/login"
    assert urllib.parse.parse_qs(login_url.query) == {"next": ["/insights?days=7"]}
    api = client.assist()
    assert api.status == 401 and api.json()["error"]["message"].startswith("请先登录")
    assert client.send("GET", "/api/articles").status == 401
    # Health checks stay open for load balancers; the login page is in Chinese.
    assert client.send("GET", "/healthz").status == 200
    assert client.send("GET", "/readyz").status == 200
    login = client.send("GET", "/login")
    assert login.status == 200 and "登录售后知识库" in login.text and 'lang="zh-CN"' in login.text


def test_agent_sees_console_and_api_not_editor_pages(app_with, users_file):
    base, _ = app_with(users_file=users_file)
    client = Browser(base)
    signed_in = client.login("xiaowang", AGENT_PASSWORD)
    assert signed_in.status == 302 and signed_in.headers["location"] == "/"
    cookie = signed_in.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    console = client.send("GET", "/")
    assert console.status == 200 and "xiaowang（坐席）" in console.text
    assert "检索洞察" not in console.text  # no link to what the agent may not open
    answer = client.assist()
    assert answer.status == 200
    feedback = client.send(
        "POST",
        "/api/feedback",
        json.dumps(
            {
                "request_id": answer.json()["request_id"],
                "action": "open",
                "article_id": "parcel-not-received",
            }
        ).encode(),
        {"Content-Type": "application/json"},
    )
    assert feedback.status == 202
    for path in ("/insights", "/changes"):
        denied = client.send("GET", path)
        assert denied.status == 403 and "只对编辑开放" in denied.text, path


def test_editor_sees_insights_and_logout_ends_the_session(app_with, users_file):
    base, _ = app_with(users_file=users_file)
    client = Browser(base)
    assert client.login("laoli", EDITOR_PASSWORD).status == 302
    for path in ("/insights", "/changes", "/"):
        assert client.send("GET", path).status == 200, path
    old_cookies = dict(client.cookies)
    assert client.send("POST", "/logout").headers["location"] == "/login"
    assert client.send("GET", "/insights").status == 302
    # The cookie of a session that ended is not replayable... as long as the password stands:
    # a changed password ends every session made before it.
    client.cookies = old_cookies
    assert client.send("GET", "/insights").status == 200
    set_user(users_file, "laoli", None, "a-new-password")
    assert client.send("GET", "/insights").status == 302


def test_wrong_password_or_name_is_refused_in_chinese(app_with, users_file):
    base, _ = app_with(users_file=users_file)
    for name, password in (("xiaowang", "wrong-password"), ("nobody", AGENT_PASSWORD)):
        client = Browser(base)
        refused = client.login(name, password)
        assert refused.status == 401 and "用户名或密码不对" in refused.text
        assert client.send("GET", "/").status == 302


def test_login_never_redirects_to_another_site(app_with, users_file):
    base, _ = app_with(users_file=users_file)
    client = Browser(base)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        form = urllib.parse.urlencode(
            {"name": "xiaowang", "password": AGENT_PASSWORD, "next": target}
        ).encode()
        reply = client.send(
            "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert reply.status == 302 and reply.headers["location"] == "/", target


# ------------------------------------------------------------------ trusted proxy


def test_proxy_header_is_believed_only_from_trusted_addresses(app_with):
    base, _ = app_with(trusted_proxies=("127.0.0.1",), proxy_editors=("laoli",))
    client = Browser(base)
    assert client.send("GET", "/").status == 401  # no header: nobody signed in at the proxy
    assert client.assist().status == 401
    agent = {"Remote-User": "xiaowang"}
    assert client.send("GET", "/", headers=agent).status == 200
    assert client.assist(headers=agent).status == 200
    assert client.send("GET", "/insights", headers=agent).status == 403
    editor = {"Remote-User": "laoli"}
    assert client.send("GET", "/insights", headers=editor).status == 200
    # Only the configured header: a proxy that sets Remote-User may pass a client's
    # X-Forwarded-User through untouched.
    assert client.send("GET", "/insights", headers={"X-Forwarded-User": "laoli"}).status == 401


def test_proxy_header_can_be_x_forwarded_user(app_with):
    base, _ = app_with(
        trusted_proxies=("127.0.0.0/8",),
        proxy_user_header="X-Forwarded-User",
        proxy_editors=("laoli",),
    )
    client = Browser(base)
    assert client.send("GET", "/insights", headers={"X-Forwarded-User": "laoli"}).status == 200
    assert client.send("GET", "/insights", headers={"Remote-User": "laoli"}).status == 401


def test_proxy_header_from_elsewhere_is_ignored(app_with):
    base, _ = app_with(trusted_proxies=("10.9.8.7",), proxy_editors=("laoli",))
    client = Browser(base)
    for header in ("Remote-User", "X-Forwarded-User"):
        assert client.send("GET", "/insights", headers={header: "laoli"}).status == 401
        assert client.assist(headers={header: "laoli"}).status == 401


# ------------------------------------------------------------------ cross-site writes


def test_cross_site_writes_are_refused_and_record_nothing(app_with, tmp_path):
    base, app = app_with()
    client = Browser(base)
    body = json.dumps({"case": "假的案例 不对"}, ensure_ascii=False).encode()
    # What a page elsewhere can send without a CORS preflight: text/plain, a form.
    plain = client.send("POST", "/api/assist", body, {"Content-Type": "text/plain"})
    assert (
        plain.status == 415 and "Content-Type: application/json" in plain.json()["error"]["message"]
    )
    form = client.send(
        "POST", "/api/assist", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status == 415
    for origin in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
    ):
        cross = client.assist("假的案例 不对", headers=origin)
        assert cross.status == 403 and "跨站" in cross.json()["error"]["message"], origin
    recorder = app.extensions["insights"]
    assert recorder.flush()
    assert recorder.stats()["written"] == 0
    # Our own pages (Origin is this host) and curl (no Origin, JSON) are served.
    assert client.assist(headers={"Origin": base}).status == 200
    assert client.assist().status == 200


def test_cross_site_logout_and_login_are_refused(app_with, users_file):
    base, _ = app_with(users_file=users_file)
    client = Browser(base)
    assert client.login("xiaowang", AGENT_PASSWORD, Origin="https://evil.example").status == 403
    assert client.login("xiaowang", AGENT_PASSWORD, Origin=base).status == 302
    assert client.send("POST", "/logout", headers={"Origin": "https://evil.example"}).status == 403
    assert client.send("GET", "/").status == 200


def test_feedback_needs_a_request_id_this_service_issued(app_with):
    base, app = app_with()
    client = Browser(base)
    issued = client.assist().json()["request_id"]

    def feedback(request_id):
        body = {"request_id": request_id, "action": "wrong", "article_id": "parcel-not-received"}
        return client.send(
            "POST", "/api/feedback", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )

    assert feedback(issued).status == 202
    made_up = "0123456789abcdef0123456789abcdef"
    assert feedback(made_up).status == 400
    assert "不是本服务发出的" in feedback(made_up).json()["error"]["message"]
    assert feedback(issued + "\n").status == 400  # `$` let a trailing newline through
    assert feedback(issued.upper()).status == 400
    # A case_id it did not issue does not join a case: the request starts its own.
    follow_up = client.send(
        "POST",
        "/api/assist",
        json.dumps({"case": CASE, "case_id": made_up}).encode(),
        {"Content-Type": "application/json"},
    )
    assert follow_up.status == 200
    recorder = app.extensions["insights"]
    assert recorder.flush()
    with recorder.store.connection() as conn:
        cases = recorder.store.query(conn, "SELECT case_id FROM insight_requests", {})
    assert made_up not in {case for (case,) in cases}
    assert (follow_up.json()["request_id"],) in cases


# ------------------------------------------------------------------ no paths to anyone


def test_readyz_and_pages_show_no_paths(app_with, tmp_path, index_root):
    base, _ = app_with()
    client = Browser(base)
    assert client.assist().status == 200
    ready = client.send("GET", "/readyz")
    assert ready.status == 200 and ready.json()["insights"]["store"] == "SQLite"
    insights = client.send("GET", "/insights")
    for reply in (ready, insights):
        assert str(tmp_path) not in reply.text and "insights.sqlite" not in reply.text


def test_not_ready_errors_do_not_show_the_index_path(tmp_path):
    empty = tmp_path / "no-index"
    app = create_app(Settings(kb_dir=SHOP_KB, index_root=empty))
    with serve_app(app) as base:
        client = Browser(base)
        for path in ("/readyz", "/", "/api/articles"):
            reply = client.send("GET", path)
            assert reply.status == 503, path
            assert str(empty) not in reply.text and str(tmp_path) not in reply.text, path


# ------------------------------------------------------------------ kb serve and kb users


def test_serve_refuses_a_public_address_without_sign_in(tmp_path, index_root):
    port = str(free_port())
    base = ("--kb", SHOP_KB, "--index", index_root, "serve", "--port", port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    refused = run_kb(*base, "--host", "0.0.0.0", timeout=60, env=env)
    assert refused.returncode == 1
    assert (
        "拒绝在 0.0.0.0 上无登录地提供服务" in refused.stderr
        and "--allow-anonymous" in refused.stderr
    )
    debugger = run_kb(*base, "--host", "0.0.0.0", "--dev", timeout=60, env=env)
    assert debugger.returncode == 1 and "--dev 只能绑定本机地址" in debugger.stderr
    missing = run_kb(
        *base, "--host", "0.0.0.0", timeout=60, env={**env, "KB_USERS_FILE": str(tmp_path / "x")}
    )
    assert (
        missing.returncode == 1
        and "用户文件" in missing.stderr
        and "Traceback" not in missing.stderr
    )


def test_users_cli_writes_a_private_file_of_hashes(tmp_path):
    path = tmp_path / "conf" / "users"
    add = ["users", "--file", str(path), "set", "laoli", "--role", "editor", "--password-stdin"]
    too_short = kb_with_stdin(add, "short\n")
    assert too_short.returncode == 1 and "密码太短" in too_short.stderr
    assert not path.exists()
    added = kb_with_stdin(add, "correct horse battery\n")
    assert added.returncode == 0, added.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "correct horse" not in text and "laoli:editor:scrypt:" in text
    assert run_kb("users", "--file", path, "list").stdout == "laoli\teditor\n"
    role_only = run_kb(
        "users", "--file", path, "set", "laoli", "--role", "agent", "--keep-password"
    )
    assert role_only.returncode == 0 and "laoli:agent:" in path.read_text()
    assert run_kb("users", "--file", path, "remove", "laoli").returncode == 0
    assert run_kb("users", "--file", path, "list").stdout == ""


def kb_with_stdin(args: list[str], text: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(KB_COMMAND), *args], input=text, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("KB_TRUSTED_PROXIES", "10.0.0.0/33", "不是 IP 地址或网段"),
        ("KB_PROXY_USER_HEADER", "X-User", "只能是 Remote-User 或 X-Forwarded-User"),
    ],
)
def test_bad_access_settings_are_one_line_errors(variable, value, fragment):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KB_")}, variable: value}
    result = run_kb("serve", "--port", str(free_port()), timeout=60, env=env)
    assert result.returncode == 1 and fragment in result.stderr and "Traceback" not in result.stderr


def test_a_broken_users_file_keeps_the_last_good_users(app_with, users_file):
    base, _ = app_with(users_file=users_file)
    client = Browser(base)
    assert client.login("laoli", EDITOR_PASSWORD).status == 302
    good = users_file.read_text()
    users_file.write_text("laoli:boss\n")  # a hand edit gone wrong
    assert client.send("GET", "/insights").status == 200
    users_file.unlink()
    assert client.send("GET", "/insights").status == 200
    assert client.send("GET", "/insights").status == 200
    users_file.write_text(good.replace("laoli:editor:", "laoli:agent:"))
    assert client.send("GET", "/insights").status == 403  # the fixed file counts again
