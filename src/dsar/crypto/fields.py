"""Field-by-field encryption of personal data and keyed blind indexes for lookups.

Each value is sealed with AES-256-GCM under its request's data key, with associated data
naming where it belongs (``table/column/row-id``): a ciphertext copied to another row or column
fails to decrypt instead of silently moving someone's data.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dsar.domain.errors import IntegrityError

_FIELD_VERSION = b"\x01"


def seal(data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return _FIELD_VERSION + nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def open_sealed(data_key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < 29 or sealed[:1] != _FIELD_VERSION:
        raise IntegrityError("encrypted field has an unknown format")
    try:
        return AESGCM(data_key).decrypt(sealed[1:13], sealed[13:], aad)
    except InvalidTag:
        raise IntegrityError("encrypted field failed its integrity check") from None


class BlindIndex:
    """HMAC-SHA256 of a normalised value: equal inputs give equal tokens, nothing else leaks."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def token(self, kind: str, normalised_value: str) -> str:
        msg = kind.encode() + b"\x00" + normalised_value.encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()


def keyed_digest(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def digests_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
