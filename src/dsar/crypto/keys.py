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
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dsar.domain.errors import ConfigurationError, IntegrityError

_WRAP_VERSION = b"\x01"  # v1: nonce || ciphertext, under the ring's first key
_WRAP_V2 = b"\x02"  # v2: len || key id || nonce || ciphertext
_WRAP_KMS = b"\x03"  # KMS ciphertext blob


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


def _write_ring(path: Path, keys: dict[str, bytes], current: str, derivation: str) -> None:
    """Replace the key file atomically with this ring (mode 0600)."""
    doc = {"version": 2, "current": current, "derivation": derivation, "keys": {k: base64.b64encode(v).decode() for k, v in keys.items()}}
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
    os.replace(tmp, path)


class LocalKeyProvider(KeyProvider):
    """Master keys in a local JSON key ring; wrapping is AES-256-GCM under a key derived (HKDF)
    from the current master key. Rotation adds a master key and makes it current; data keys
    wrapped under older ones still unwrap until they are re-wrapped (``dsar keys rotate``).
    Keyed hashes (blind index, codes) always derive from the first key, so they survive rotation."""

    def __init__(self, keys: dict[str, bytes], current: str, derivation: str | None = None) -> None:
        if current not in keys or any(len(k) != 32 for k in keys.values()):
            raise ConfigurationError("local key ring is inconsistent: every master key must be 32 bytes and the current one present")
        self._keys = dict(keys)
        self.key_id = current
        self._derivation = derivation or current
        if self._derivation not in keys:
            raise ConfigurationError("local key ring lacks its derivation key")
        self._keks = {kid: AESGCM(_hkdf(k, "kek")) for kid, k in keys.items()}

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    @classmethod
    def from_file(cls, path: Path, *, create: bool = True) -> LocalKeyProvider:
        """Load the key file, creating it (0600, in a 0700 folder) on first run."""
        if not path.exists():
            if not create:
                raise ConfigurationError(f"key file {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            kid = "local-" + secrets.token_hex(4)
            doc = {"version": 2, "current": kid, "derivation": kid, "keys": {kid: base64.b64encode(secrets.token_bytes(32)).decode()}}
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
            if doc.get("version") == 1:  # a single key (files written before key rotation existed)
                kid = str(doc["key_id"])
                return cls({kid: base64.b64decode(doc["master_key"], validate=True)}, kid)
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in doc["keys"].items()}
            return cls(keys, str(doc["current"]), str(doc["derivation"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"key file {path} is unreadable or corrupt") from exc

    @classmethod
    def rotate_file(cls, path: Path) -> LocalKeyProvider:
        """Add a new master key to the ring and make it current (written atomically, 0600)."""
        ring = cls.from_file(path, create=False)
        kid = "local-" + secrets.token_hex(4)
        keys = {**ring._keys, kid: secrets.token_bytes(32)}
        _write_ring(path, keys, kid, ring._derivation)
        return cls(keys, kid, ring._derivation)

    def retire_file(self, path: Path, keep: set[str]) -> list[str]:
        """Drop master keys no data key is wrapped under any more (never the current or the
        derivation key). Returns the retired key ids."""
        retired = [k for k in self._keys if k not in keep | {self.key_id, self._derivation}]
        _write_ring(path, {k: v for k, v in self._keys.items() if k not in retired}, self.key_id, self._derivation)
        return retired

    def derive(self, purpose: str) -> bytes:
        return _hkdf(self._keys[self._derivation], purpose)

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        kid = self.key_id.encode()
        return _WRAP_V2 + bytes([len(kid)]) + kid + nonce + self._keks[self.key_id].encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        if wrapped[:1] == _WRAP_VERSION and len(wrapped) >= 13:
            kek, nonce, body = self._keks[self._derivation], wrapped[1:13], wrapped[13:]
        elif wrapped[:1] == _WRAP_V2 and len(wrapped) >= 2:
            n = wrapped[1]
            kid = wrapped[2 : 2 + n].decode(errors="replace")
            if kid not in self._keks:
                raise IntegrityError(f"data key is wrapped under master key {kid}, which is not in the key ring")
            kek, nonce, body = self._keks[kid], wrapped[2 + n : 14 + n], wrapped[14 + n :]
        else:
            raise IntegrityError("wrapped data key has an unknown format")
        try:
            return kek.decrypt(nonce, body, context)
        except InvalidTag:
            raise IntegrityError("wrapped data key failed its integrity check") from None

    def wrapped_under(self, wrapped: bytes) -> str:
        if wrapped[:1] == _WRAP_V2 and len(wrapped) >= 2:
            return wrapped[2 : 2 + wrapped[1]].decode(errors="replace")
        return self._derivation


def _hkdf(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"dsar/{purpose}/v1".encode()).derive(master)


class KmsKeyProvider(KeyProvider):
    """Data keys wrapped by AWS KMS (``Encrypt``/``Decrypt`` with the wrapping context as
    encryption context, so a wrapped key only unwraps for its own request). Keys wrapped by a
    previous local key ring still unwrap through ``legacy`` until re-wrapped. Keyed hashes derive
    from the legacy ring when there is one (tokens must not change), otherwise from a secret
    KMS generated once and that is kept only encrypted, in ``secret_file``."""

    def __init__(self, client: Any, kms_key_id: str, secret_file: Path, legacy: LocalKeyProvider | None = None) -> None:
        self._kms = client
        self._kms_key = kms_key_id
        self.key_id = f"kms:{kms_key_id}"
        self._legacy = legacy
        self._secret: bytes | None = None
        self._secret_file = secret_file

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        try:
            result: dict[str, Any] = getattr(self._kms, op)(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            if code in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise IntegrityError(f"KMS refused to unwrap the data key ({code})") from None
            raise ConfigurationError(f"KMS {op} failed ({code})") from None
        except BotoCoreError as exc:
            raise ConfigurationError(f"KMS {op} failed ({type(exc).__name__})") from None
        return result

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        blob = self._call("encrypt", KeyId=self._kms_key, Plaintext=data_key, EncryptionContext={"dsar": context.decode()})
        return _WRAP_KMS + bytes(blob["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        if wrapped[:1] != _WRAP_KMS:
            if self._legacy is None:
                raise IntegrityError("data key is wrapped by a local key ring, and none is configured")
            return self._legacy.unwrap(wrapped, context)
        result = self._call("decrypt", CiphertextBlob=wrapped[1:], EncryptionContext={"dsar": context.decode()})
        return bytes(result["Plaintext"])

    def derive(self, purpose: str) -> bytes:
        if self._legacy is not None:
            return self._legacy.derive(purpose)
        if self._secret is None:
            if not self._secret_file.exists():
                blob = self._call("generate_data_key", KeyId=self._kms_key, KeySpec="AES_256", EncryptionContext={"dsar": "derive"})
                self._secret_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(self._secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(bytes(blob["CiphertextBlob"]))
            sealed = self._secret_file.read_bytes()
            self._secret = bytes(self._call("decrypt", CiphertextBlob=sealed, EncryptionContext={"dsar": "derive"})["Plaintext"])
        return _hkdf(self._secret, purpose)
