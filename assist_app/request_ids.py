"""Request ids the service can recognise as its own: a random half and a keyed digest of it.

Feedback (`POST /api/feedback`) and follow-up questions (`case_id`) name an earlier answer by
its request id. Only ids this service issued count: a page elsewhere cannot invent ids to fill
the insights with 不对 marks. The check needs no lookup (the answer may still be on its way
to the store, or written by another worker): the second half is an HMAC of the first under the
app's secret key, which every worker shares (set KB_SECRET_KEY when several servers share a store).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable

# 32 lower-case hex digits, the whole string (`$` would also let a trailing newline through).
REQUEST_ID = re.compile(r"\A[0-9a-f]{32}\Z")
_HALF = 16


def _digest(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, nonce.encode("ascii"), hashlib.sha256).hexdigest()[:_HALF]


def new_request_id(secret: bytes) -> str:
    """A fresh request id: 16 random hex digits and 16 of their HMAC under `secret`."""
    nonce = secrets.token_hex(_HALF // 2)
    return nonce + _digest(secret, nonce)


def was_issued(secret: bytes, value: object) -> bool:
    """Whether `value` is a request id made by new_request_id with this secret."""
    if not isinstance(value, str) or not REQUEST_ID.match(value):
        return False
    return hmac.compare_digest(value[_HALF:], _digest(secret, value[:_HALF]))


def issuer(secret: str | bytes) -> Callable[[], str]:
    """new_request_id bound to a secret (the recorder's id maker)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return lambda: new_request_id(key)
