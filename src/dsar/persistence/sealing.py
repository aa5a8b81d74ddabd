"""Sealing personal data under each request's own data key, and the cache of unwrapped keys.

Every request has a random data key, stored only wrapped by the key provider (a local key ring
or AWS KMS). Unwrapping is the expensive part (with KMS, a network call), so unwrapped keys are
kept in one :class:`DataKeyCache` per process, shared by every unit of work of an engine.

A cached key is never served stale: it is found by the request id AND a digest of the wrapped
key read from the database in the same transaction. A shredded request has no wrapped key any
more (nothing to look up, whatever the cache holds); a re-wrapped one has a different wrapped
key (a miss, and the old entry is dropped). Shredding and re-wrapping also evict at once.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable

from sqlalchemy import select as sa_select
from sqlmodel import Session

from dsar.crypto import KeyProvider, open_sealed, seal
from dsar.domain.errors import NotFound
from dsar.persistence.tables import RequestKeyRow

DEFAULT_CACHE_KEYS = 10_000

# SQLite allows 999 bound parameters per statement; stay under it for IN (...) lists.
IN_CHUNK = 900


def wrapping_context(request_id: str) -> bytes:
    """What a request's data key is wrapped for: it unwraps for that request only."""
    return f"request-key/{request_id}".encode()


def _fingerprint(wrapped: bytes) -> bytes:
    return hashlib.sha256(wrapped).digest()


class DataKeyCache:
    """Unwrapped data keys, least recently used evicted beyond ``max_keys``; thread-safe.

    One per engine and key provider (built at the entry point, passed to every unit of work).
    Entries are keyed by request id and the SHA-256 of the wrapped key they came from."""

    def __init__(self, max_keys: int = DEFAULT_CACHE_KEYS) -> None:
        if max_keys < 0:
            raise ValueError("max_keys cannot be negative")
        self.max_keys = max_keys
        self._keys: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, request_id: str, wrapped: bytes) -> bytes | None:
        fp = _fingerprint(wrapped)
        with self._lock:
            hit = self._keys.get(request_id)
            if hit is None:
                return None
            if hit[0] != fp:  # re-wrapped (or shredded and re-created) since it was cached
                del self._keys[request_id]
                return None
            self._keys.move_to_end(request_id)
            return hit[1]

    def put(self, request_id: str, wrapped: bytes, data_key: bytes) -> None:
        if self.max_keys == 0:
            return
        fp = _fingerprint(wrapped)
        with self._lock:
            self._keys[request_id] = (fp, data_key)
            self._keys.move_to_end(request_id)
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)

    def evict(self, request_id: str) -> None:
        with self._lock:
            self._keys.pop(request_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    def __contains__(self, request_id: object) -> bool:
        with self._lock:
            return request_id in self._keys


class Sealer:
    """The data keys of one transaction: each read from the database at most once per
    transaction, unwrapped at most once per process (through the shared cache)."""

    def __init__(self, session: Session, keys: KeyProvider, cache: DataKeyCache) -> None:
        self._s = session
        self.provider = keys
        self.cache = cache
        self._tx: dict[str, bytes] = {}
        self._gone: set[str] = set()  # no key in this transaction (shredded or unknown)

    def unwrap(self, request_id: str, wrapped: bytes) -> bytes:
        """The data key of this wrapped key (from the cache when it holds it)."""
        key = self.cache.get(request_id, wrapped)
        if key is None:
            key = self.provider.unwrap(wrapped, wrapping_context(request_id))
            self.cache.put(request_id, wrapped, key)
        self._tx[request_id] = key
        return key

    def key(self, request_id: str) -> bytes:
        if request_id in self._tx:
            return self._tx[request_id]
        wrapped = None
        if request_id not in self._gone:
            k = RequestKeyRow.__table__.c  # type: ignore[attr-defined]
            wrapped = self._s.connection().execute(sa_select(k.wrapped_key).where(k.request_id == request_id)).scalar_one_or_none()
        if wrapped is None:
            self._gone.add(request_id)
            raise NotFound(f"no data key for request {request_id} (shredded or unknown)")
        return self.unwrap(request_id, wrapped)

    def has_key(self, request_id: str) -> bool:
        """Whether the request's key exists (loading it); False once shredded."""
        try:
            self.key(request_id)
        except NotFound:
            return False
        return True

    def load(self, request_ids: Iterable[str]) -> None:
        """Read the wrapped keys of many requests with one query per chunk (missing ones fail on use)."""
        missing = sorted(set(request_ids) - self._tx.keys())
        k = RequestKeyRow.__table__.c  # type: ignore[attr-defined]
        conn = self._s.connection()
        for chunk in range(0, len(missing), IN_CHUNK):
            stmt = sa_select(k.request_id, k.wrapped_key).where(k.request_id.in_(missing[chunk : chunk + IN_CHUNK]))
            for rid, wrapped in conn.execute(stmt):
                self.unwrap(rid, wrapped)

    def created(self, request_id: str, wrapped: bytes, data_key: bytes) -> None:
        """A new request's key, wrapped and about to be stored in this transaction."""
        self._tx[request_id] = data_key
        self._gone.discard(request_id)
        self.cache.put(request_id, wrapped, data_key)

    def rewrapped(self, request_id: str, wrapped: bytes, data_key: bytes) -> None:
        """The key is now stored under a new wrapping: the entry for the old one goes."""
        self.cache.evict(request_id)
        self.created(request_id, wrapped, data_key)

    def destroyed(self, request_id: str) -> None:
        """The key was shredded: nothing may serve it from memory any more."""
        self._tx.pop(request_id, None)
        self._gone.add(request_id)
        self.cache.evict(request_id)

    def seal(self, request_id: str, plaintext: bytes, aad: str) -> bytes:
        return seal(self.key(request_id), plaintext, aad.encode())

    def open(self, request_id: str, sealed: bytes, aad: str) -> bytes:
        return open_sealed(self.key(request_id), sealed, aad.encode())

    def seal_text(self, request_id: str, column: str, value: str | None) -> bytes | None:
        return None if value is None else self.seal(request_id, value.encode(), f"privacy_request/{column}/{request_id}")

    def open_text(self, request_id: str, column: str, value: bytes | None) -> str | None:
        return None if value is None else self.open(request_id, value, f"privacy_request/{column}/{request_id}").decode()
