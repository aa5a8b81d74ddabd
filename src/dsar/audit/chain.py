"""Hash chaining of audit events (pure; no keys needed to verify).

Each event's hash is ``SHA-256(0x00 || leaf)`` chained as ``SHA-256(0x01 || prev || leaf_hash)``
— RFC 9162-style domain separation of leaves and interior nodes, so a leaf can never be passed
off as a node. ``leaf`` is the canonical encoding of the event's identity and its *sealed*
payload: the chain verifies without decrypting anything, and still verifies after a request's
key has been destroyed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

GENESIS = "0" * 64


@dataclass(frozen=True)
class ChainedEvent:
    seq: int
    request_id: str
    kind: str
    at: datetime
    idempotency_key: str
    details_enc: bytes
    prev_hash: str
    hash: str


def leaf_bytes(seq: int, request_id: str, kind: str, at: datetime, idempotency_key: str, details_enc: bytes) -> bytes:
    return leaf_bytes_iso(seq, request_id, kind, at.isoformat(), idempotency_key, details_enc)


def leaf_bytes_iso(seq: int, request_id: str, kind: str, at_iso: str, idempotency_key: str, details_enc: bytes) -> bytes:
    """The canonical leaf: ``JSON [seq, request_id, kind, at, idempotency_key] || 0x00 || sealed``."""
    head = json.dumps([seq, request_id, kind, at_iso, idempotency_key], separators=(",", ":")).encode()
    return head + b"\x00" + details_enc


def chain_hash(prev_hash: str, leaf: bytes) -> str:
    leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
    return hashlib.sha256(b"\x01" + bytes.fromhex(prev_hash) + leaf_hash).hexdigest()


def associated_data(seq: int, request_id: str, kind: str) -> bytes:
    """AES-GCM associated data binding a sealed payload to the event it belongs to."""
    return f"audit/{seq}/{request_id}/{kind}".encode()


def first_broken(events: Iterable[ChainedEvent], *, start_hash: str = GENESIS, start_seq: int = 0) -> int | None:
    """Sequence number of the first event that breaks the chain (altered, missing, inserted or
    reordered), or None when the chain is intact."""
    prev, expected = start_hash, start_seq + 1
    for e in events:
        if e.seq != expected or e.prev_hash != prev:
            return e.seq if e.seq == expected else expected
        if chain_hash(prev, leaf_bytes(e.seq, e.request_id, e.kind, e.at, e.idempotency_key, e.details_enc)) != e.hash:
            return e.seq
        prev, expected = e.hash, expected + 1
    return None
