"""Who is asking and what they may open: roles, signing in, the login page.

Two roles: an agent uses the console, the articles and the API (assist, search, feedback); an
editor also sees what agents looked for and what changed (the `editors` blueprint: /insights,
/changes, and whatever editors' pages join it). Two ways to say who one is, either or both:

- a users file (KB_USERS_FILE, `assist_app.users`): people sign in on /login, and a signed
  session cookie carries their name;
- a reverse proxy that has signed them in already (KB_TRUSTED_PROXIES): its `Remote-User`
  (or, with KB_PROXY_USER_HEADER, `X-Forwarded-User`) header names them, believed only from
  those addresses.

Neither configured: everyone is an editor, as on a developer's machine; `kb serve` refuses to
bind anything but loopback that way unless told `--allow-anonymous`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from assist_app.settings import Settings
from assist_app.users import ROLE_NAMES, User, UsersFileError, read_users, verify_password

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

# Open to anyone: health checks (load balancers), the login page, the styles it needs.
PUBLIC_ENDPOINTS = frozenset({"static", "auth.login", "auth.logout", "api.healthz", "api.readyz"})
EDITOR_BLUEPRINTS = frozenset({"editors"})
ROLE_RANK = {"agent": 1, "editor": 2}
SESSION_HOURS = 12
_MAX_PROXY_NAME = 128


@dataclass(frozen=True)
class Visitor:
    """Who sent this request: a name (None when access is open), a role and how we know."""

    name: str | None
    role: str
    via: str  # "open", "proxy" or "session"

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]


OPEN_VISITOR = Visitor(None, "editor", "open")


class Access:
    """The app's access rules; re-reads the users file when it changes on disk."""

    def __init__(self, settings: Settings):
        self.users_file: Path | None = settings.users_file
        self.proxies = [ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies]
        self.proxy_header = settings.proxy_user_header
        self.proxy_editors = frozenset(settings.proxy_editors)
        self._users: dict[str, User] = {}
        self._users_stamp: tuple | None = None
        self._users_error: str | None = None
        if self.users_file is not None:
            self.users()  # a missing or malformed file stops the app from starting

    @property
    def open(self) -> bool:
        return self.users_file is None and not self.proxies

    def users(self) -> dict[str, User]:
        """The users file as it is now (the last good copy while it is missing or malformed)."""
        assert self.users_file is not None
        try:
            stat = self.users_file.stat()
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if stamp is not None and stamp == self._users_stamp:
            return self._users
        try:
            self._users = read_users(self.users_file)
        except UsersFileError as e:
            if self._users_stamp is None:
                raise  # at start: no good copy to fall back on
            if str(e) != self._users_error:
                log.warning("用户文件无法读取，沿用上次读到的用户：%s", e)
            self._users_error = str(e)
            return self._users
        self._users_stamp, self._users_error = stamp or (0, 0, 0), None
        return self._users

    def from_trusted_proxy(self) -> bool:
        """Whether the request came straight from a configured reverse proxy."""
        try:
            peer = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:
            return False
        return any(peer in network for network in self.proxies)

    def proxy_visitor(self) -> Visitor | None:
        if not self.proxies or not self.from_trusted_proxy():
            return None
        name = request.headers.get(self.proxy_header, "").strip()
        if not name or len(name) > _MAX_PROXY_NAME or not name.isprintable():
            return None
        role = "editor" if name in self.proxy_editors else "agent"
        return Visitor(name, role, "proxy")

    def session_visitor(self) -> Visitor | None:
        if self.users_file is None:
            return None
        user = self.users().get(session.get("user", ""))
        # A changed password (or a removed user) ends the sessions made before it.
        if user is None or session.get("key") != user.fingerprint():
            return None
        return Visitor(user.name, user.role, "session")

    def identify(self) -> Visitor | None:
        """Who sent the request, or None when nobody we know of."""
        if self.open:
            return OPEN_VISITOR
        return self.proxy_visitor() or self.session_visitor()


def get_access() -> Access:
    return current_app.extensions["access"]


def current_visitor() -> Visitor | None:
    """The visitor of this request (set before the view runs)."""
    return g.get("visitor")


def required_role(endpoint: str | None, blueprint: str | None) -> str | None:
    """The role an endpoint needs; None when it is open to anyone."""
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    return "editor" if blueprint in EDITOR_BLUEPRINTS else "agent"


def check_access():
    """Before every request: who is it, and may they open this? (401, a login redirect, 403)."""
    access = get_access()
    visitor = access.identify()
    g.visitor = visitor
    needed = required_role(request.endpoint, request.blueprint)
    if needed is None:
        return None
    if visitor is None:
        page = not request.path.startswith("/api/") and request.method in ("GET", "HEAD")
        if access.users_file is not None and page:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        how = "请先登录" if access.users_file is not None else "请通过公司的登录入口访问"
        abort(401, f"{how}：这个服务只对坐席和编辑开放")
    if ROLE_RANK[visitor.role] < ROLE_RANK[needed]:
        abort(403, f"这个页面只对{ROLE_NAMES[needed]}开放（你的角色：{visitor.role_name}）")
    return None


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("pages.console")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("pages.console")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form (users-file mode); a good name and password start a session."""
    access = get_access()
    if access.users_file is None:
        abort(404, "这个服务不使用登录页：请通过公司的登录入口访问")
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target, error=None, name="")
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    user = access.users().get(name)
    if not verify_password(user, password):
        log.info("登录失败：%s", request.remote_addr)
        error = "用户名或密码不对"
        return render_template("login.html", next=target, error=error, name=name), 401
    session.clear()
    session.permanent = True
    session["user"] = user.name
    session["key"] = user.fingerprint()
    return redirect(target)


@bp.post("/logout")
def logout():
    """End the session and go back to the sign-in form."""
    session.clear()
    if get_access().users_file is None:
        return redirect(url_for("pages.console"))
    return redirect(url_for("auth.login"))


def init_app(app: Flask, settings: Settings) -> None:
    """Access rules, the session cookie and the login page for this app."""
    # Random when unset: fine for one server (workers share it, made before the fork); a restart
    # then signs everyone out. Several servers behind one address need the same KB_SECRET_KEY.
    app.secret_key = settings.secret_key or secrets.token_hex(32)
    app.config.update(
        SESSION_COOKIE_NAME="kb_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
    )
    app.extensions["access"] = Access(settings)
    app.before_request(check_access)
    app.context_processor(lambda: {"visitor": current_visitor()})
    app.register_blueprint(bp)


def is_loopback(host: str) -> bool:
    """Whether `kb serve --host` keeps the service on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
