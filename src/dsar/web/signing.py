"""Signed, expiring tokens for cookies and forms (HMAC-SHA256 over a JSON payload).

``sign(key, purpose, data, now)`` -> opaque string; ``unsign(key, purpose, token, max_age, now)``
-> the data, or raises :class:`BadToken` (tampered, wrong purpose, malformed or expired).
Comparisons are constant-time. The purpose is bound into the MAC, so a CSRF token cannot be
replayed as a session cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any


class BadToken(Exception):
    """A token that does not verify. The message never repeats the token."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, body: str) -> str:
    return _b64(hmac.new(key, f"{purpose}\x00{body}".encode(), hashlib.sha256).digest())


def sign(key: bytes, purpose: str, data: dict[str, Any], now: datetime) -> str:
    body = _b64(json.dumps({"d": data, "t": int(now.timestamp())}, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(key, purpose, body)}"


def unsign(key: bytes, purpose: str, token: str, max_age: timedelta, now: datetime) -> dict[str, Any]:
    if not token or len(token) > 4096 or token.count(".") != 1:
        raise BadToken("malformed token")
    body, mac = token.split(".")
    if not hmac.compare_digest(mac.encode(), _mac(key, purpose, body).encode()):
        raise BadToken("token does not verify")
    try:
        doc = json.loads(_unb64(body))
    except (ValueError, binascii.Error):
        raise BadToken("malformed token") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("d"), dict) or not isinstance(doc.get("t"), int):
        raise BadToken("malformed token")
    age = now.timestamp() - doc["t"]
    if age > max_age.total_seconds() or age < -300:
        raise BadToken("token expired")
    data: dict[str, Any] = doc["d"]
    return data
