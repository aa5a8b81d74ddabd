"""Key providers: where the key-encryption key lives and how data keys are wrapped.

Envelope encryption: every request gets its own random 256-bit data key; the data key is
stored only wrapped (encrypted) by a key provider. The default provider keeps a master key in a
local file created on first run (mode 0600). Destroying a request's wrapped data key makes its
fields unreadable (crypto-shredding) without touching anything else.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from abc import ABC, abstractmethod
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dsar.domain.errors import ConfigurationError, IntegrityError

_WRAP_VERSION = b"\x01"


class KeyProvider(ABC):
    """Wraps and unwraps per-request data keys; also derives the engine's keyed-hash keys."""

    key_id: str

    @abstractmethod
    def wrap(self, data_key: bytes, context: bytes) -> bytes: ...

    @abstractmethod
    def unwrap(self, wrapped: bytes, context: bytes) -> bytes: ...

    @abstractmethod
    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for a keyed hash (blind index, one-time codes), stable across runs."""


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


class LocalKeyProvider(KeyProvider):
    """A master key in a local JSON file; wrapping is AES-256-GCM under an HKDF-derived key."""

    def __init__(self, master_key: bytes, key_id: str) -> None:
        if len(master_key) != 32:
            raise ConfigurationError("local master key must be 32 bytes")
        self._master = master_key
        self.key_id = key_id
        self._kek = AESGCM(self.derive("kek"))

    @classmethod
    def from_file(cls, path: Path, *, create: bool = True) -> LocalKeyProvider:
        """Load the key file, creating it (0600, in a 0700 folder) on first run."""
        if not path.exists():
            if not create:
                raise ConfigurationError(f"key file {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            doc = {
                "version": 1,
                "key_id": "local-" + secrets.token_hex(4),
                "master_key": base64.b64encode(secrets.token_bytes(32)).decode(),
            }
            # O_EXCL: two processes starting at once must not both write a key.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    json.dump(doc, fh)
        try:
            doc = json.loads(path.read_text())
            master = base64.b64decode(doc["master_key"], validate=True)
            key_id = str(doc["key_id"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"key file {path} is unreadable or corrupt") from exc
        return cls(master, key_id)

    def derive(self, purpose: str) -> bytes:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"dsar/{purpose}/v1".encode())
        return hkdf.derive(self._master)

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return _WRAP_VERSION + nonce + self._kek.encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        if len(wrapped) < 13 or wrapped[:1] != _WRAP_VERSION:
            raise IntegrityError("wrapped data key has an unknown format")
        try:
            return self._kek.decrypt(wrapped[1:13], wrapped[13:], context)
        except InvalidTag:
            raise IntegrityError("wrapped data key failed its integrity check") from None
