"""The users file: who may sign in, with which role, and a hash of their password.

One user a line, `name:role:hash`, like an htpasswd file (`#` starts a comment). Hashes are
Werkzeug's (`scrypt:32768:8:1$salt$…` by default): Werkzeug ships with Flask, is kept by the
Pallets team, and its scrypt is memory-hard, salted and compared in constant time, so no second
hashing library is needed. `kb users set` writes the file; the app re-reads it when it changes.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("agent", "editor")
ROLE_NAMES = {"agent": "坐席", "editor": "编辑"}
# Letters, digits and . _ - @ (e-mail-like logins); no ':' (the separator) and no spaces.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}\Z")
MIN_PASSWORD_CHARS = 8
# Checked against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class UsersFileError(ValueError):
    """The users file cannot be read or has a bad line; the message names the file and line."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str

    def fingerprint(self) -> str:
        """A short digest of the stored hash: a session made before a password change ends."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]


def check_name(name: str) -> str:
    """A user name, or UsersFileError saying what a name may hold."""
    if not _NAME.match(name):
        raise UsersFileError(
            f"用户名“{name}”不合法：只能用字母、数字和 . _ - @，以字母或数字开头，最多 64 个字符"
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsersFileError(f"角色“{role}”不存在，可选：{'、'.join(ROLES)}")
    return role


def parse_users(text: str, path: Path) -> dict[str, User]:
    """Users by name from the file's text; UsersFileError naming the first bad line."""
    users: dict[str, User] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep1, rest = line.partition(":")
        role, sep2, password_hash = rest.partition(":")
        where = f"{path}:{number}"
        if not (sep1 and sep2 and password_hash):
            raise UsersFileError(f"{where}: 格式应为 用户名:角色:密码哈希（用 kb users set 写入）")
        try:
            check_name(name)
            check_role(role)
        except UsersFileError as e:
            raise UsersFileError(f"{where}: {e}") from None
        if name in users:
            raise UsersFileError(f"{where}: 用户“{name}”重复出现")
        users[name] = User(name, role, password_hash)
    return users


def read_users(path: Path) -> dict[str, User]:
    """The users in the file at `path`; UsersFileError if it is missing or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsersFileError(
            f"用户文件 {path} 不存在：先用 kb users set 用户名 --role editor 创建"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsersFileError(f"无法读取用户文件 {path}：{e}") from None
    return parse_users(text, path)


def verify_password(user: User | None, password: str) -> bool:
    """Whether `password` is the user's; as slow for an unknown user as for a known one."""
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(user.password_hash, password)


def write_users(path: Path, users: dict[str, User]) -> None:
    """Replace the file atomically, readable by its owner only (it holds password hashes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# kb-assist users: name:role:password hash (kb users set NAME --role ROLE)"]
    lines += [f"{u.name}:{u.role}:{u.password_hash}" for u in sorted(users.values(), key=_by_name)]
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp creates it 0600
            out.write("\n".join(lines) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _by_name(user: User) -> str:
    return user.name


def set_user(path: Path, name: str, role: str | None, password: str | None) -> User:
    """Add a user or change one's role and/or password; return the user as written.

    A new user needs a role and a password; an existing one keeps what is not given.
    """
    check_name(name)
    users = read_users(path) if path.exists() else {}
    old = users.get(name)
    if old is None and (role is None or password is None):
        raise UsersFileError(f"新用户“{name}”需要 --role 和密码")
    if password is not None and len(password) < MIN_PASSWORD_CHARS:
        raise UsersFileError(f"密码太短：至少 {MIN_PASSWORD_CHARS} 个字符")
    user = User(
        name,
        check_role(role) if role is not None else old.role,
        generate_password_hash(password) if password is not None else old.password_hash,
    )
    users[name] = user
    write_users(path, users)
    return user


def remove_user(path: Path, name: str) -> None:
    """Remove a user from the file; UsersFileError if there is none of that name."""
    users = read_users(path)
    if name not in users:
        raise UsersFileError(f"用户文件 {path} 里没有用户“{name}”")
    del users[name]
    write_users(path, users)
