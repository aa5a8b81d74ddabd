"""Time-based one-time passwords (RFC 6238) as authenticator apps make them: SHA-1, 6 digits,
30-second steps, a 160-bit secret shown as base32. Built on ``cryptography``'s TOTP.

:func:`matching_step` accepts the code of the current step and of one step either side (a
clock a little off, a code typed as it turned over) and returns the step it matched, so the
caller can refuse a step already used (RFC 6238 section 5.2: a code is good once)."""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import datetime
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

DIGITS = 6
STEP_SECONDS = 30
WINDOW = 1  # steps either side
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def secret_base32(secret: bytes) -> str:
    """The secret as authenticator apps take it by hand (base32, no padding)."""
    return base64.b32encode(secret).decode().rstrip("=")


def secret_from_base32(text: str) -> bytes:
    t = "".join(text.split()).upper()
    return base64.b32decode(t + "=" * (-len(t) % 8))


def _totp(secret: bytes) -> TOTP:
    return TOTP(secret, DIGITS, SHA1(), STEP_SECONDS, enforce_key_length=False)


def step_of(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def code_at(secret: bytes, at: datetime) -> str:
    """The code an authenticator app shows at ``at``."""
    return _totp(secret).generate(int(at.timestamp())).decode()


def matching_step(secret: bytes, code: str, at: datetime, window: int = WINDOW) -> int | None:
    """The time step whose code ``code`` is, within ``window`` steps of ``at``; None when none
    is. Every candidate is compared in constant time."""
    given = "".join((code or "").split())
    if len(given) != DIGITS or not given.isascii() or not given.isdigit():
        return None
    totp = _totp(secret)
    now = step_of(at)
    found = None
    for step in range(now - window, now + window + 1):
        if hmac.compare_digest(totp.generate(step * STEP_SECONDS), given.encode()) and found is None:
            found = step
    return found


def provisioning_uri(secret: bytes, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans (Key Uri Format)."""
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode({"secret": secret_base32(secret), "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": STEP_SECONDS})
    return f"otpauth://totp/{label}?{query}"
