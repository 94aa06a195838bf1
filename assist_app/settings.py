"""Where the knowledge base, the index and the insights live, and the service's limits."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# How many results an answer has unless the caller asks for another number (up to
# Settings.max_limit): a few procedures to act on, a longer list to browse.
DEFAULT_ASSIST_RESULTS = 5
DEFAULT_SEARCH_RESULTS = 10


@dataclass(frozen=True)
class Settings:
    kb_dir: Path
    index_root: Path
    # A chat message is a few hundred characters; 5,000 leaves room for a pasted conversation.
    max_case_chars: int = 5000
    max_body_bytes: int = 64 * 1024
    # The most results one request may ask for (the API's `limit`, `kb search -k`).
    max_limit: int = 20
    # Where insights (what agents looked for and did) are kept: a SQLite file path or
    # sqlite:///path, or postgresql://… for a store shared by several app servers. None: a
    # SQLite file beside the index root (var/insights.sqlite).
    insights_url: str | None = None
    # Insights older than this are deleted (by the writer on start and hourly, `kb insights --purge`).
    insights_retention_days: int = 90
    # Access control (README, Deployment). Neither set: no sign-in, for loopback only.
    # Users who sign in on /login: name:role:hash lines, written by `kb users set`.
    users_file: Path | None = None
    # Reverse proxies (addresses or networks) whose Remote-User / X-Forwarded-User is believed.
    trusted_proxies: tuple[str, ...] = ()
    # The header the proxy names the user in (Remote-User, or X-Forwarded-User for oauth2-proxy):
    # only this one, so a client cannot slip in the other past a proxy that sets one.
    proxy_user_header: str = "Remote-User"
    # Users the proxy names who are editors; everyone else it names is an agent.
    proxy_editors: tuple[str, ...] = ()
    # Signs sessions and request ids; random per start when unset (sign-ins end on restart).
    secret_key: str | None = None
    # Session cookies only over HTTPS (set when TLS ends at the proxy in front).
    secure_cookies: bool = False

    @property
    def access_control(self) -> bool:
        """Whether anyone has to say who they are (a users file or a trusted proxy)."""
        return self.users_file is not None or bool(self.trusted_proxies)

    def insights_store_url(self) -> str:
        """The insights store's URL or SQLite path, defaulted beside the index root."""
        return self.insights_url or str(self.index_root.parent / "insights.sqlite")

    @classmethod
    def from_env(cls) -> Settings:
        """Defaults (the repository's kb/ and var/index/), overridden by the environment.

        KB_DIR, KB_INDEX_DIR, KB_INSIGHTS_URL, KB_INSIGHTS_RETENTION_DAYS, and for access
        control KB_USERS_FILE, KB_TRUSTED_PROXIES, KB_PROXY_USER_HEADER, KB_PROXY_EDITORS,
        KB_SECRET_KEY, KB_SECURE_COOKIES.
        """
        kb_dir = Path(os.environ.get("KB_DIR", PROJECT_ROOT / "kb"))
        index_root = Path(os.environ.get("KB_INDEX_DIR", PROJECT_ROOT / "var" / "index"))
        retention = os.environ.get("KB_INSIGHTS_RETENTION_DAYS", "").strip()
        if retention and not (retention.isascii() and retention.isdigit() and int(retention) > 0):
            raise ValueError(
                f"KB_INSIGHTS_RETENTION_DAYS 必须是正整数（天数），收到的是“{retention}”"
            )
        return cls(
            kb_dir=kb_dir,
            index_root=index_root,
            insights_url=os.environ.get("KB_INSIGHTS_URL") or None,
            insights_retention_days=int(retention) if retention else cls.insights_retention_days,
            users_file=Path(users_file)
            if (users_file := os.environ.get("KB_USERS_FILE"))
            else None,
            trusted_proxies=proxy_networks(os.environ.get("KB_TRUSTED_PROXIES", "")),
            proxy_user_header=proxy_header(os.environ.get("KB_PROXY_USER_HEADER", "")),
            proxy_editors=_words(os.environ.get("KB_PROXY_EDITORS", "")),
            secret_key=os.environ.get("KB_SECRET_KEY") or None,
            secure_cookies=os.environ.get("KB_SECURE_COOKIES", "") in ("1", "true", "yes"),
        )


def _words(value: str) -> tuple[str, ...]:
    return tuple(word for word in value.replace(",", " ").split() if word)


def proxy_networks(value: str) -> tuple[str, ...]:
    """KB_TRUSTED_PROXIES: addresses or networks (127.0.0.1, 10.0.0.0/24), comma-separated."""
    networks = _words(value)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(
                f"KB_TRUSTED_PROXIES 中的“{network}”不是 IP 地址或网段（例如 127.0.0.1、10.0.0.0/24）"
            ) from None
    return networks


PROXY_USER_HEADERS = ("Remote-User", "X-Forwarded-User")


def proxy_header(value: str) -> str:
    """KB_PROXY_USER_HEADER: Remote-User (the default) or X-Forwarded-User."""
    if not value.strip():
        return Settings.proxy_user_header
    for header in PROXY_USER_HEADERS:
        if value.strip().lower() == header.lower():
            return header
    raise ValueError(
        f"KB_PROXY_USER_HEADER 只能是 {' 或 '.join(PROXY_USER_HEADERS)}，收到的是“{value}”"
    )
