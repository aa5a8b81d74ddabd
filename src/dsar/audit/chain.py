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
    """The canonical leaf: ``JSON [seq, request_id, kind, at, idempotency_key] || 0x00 || sealed``,
    the JSON exactly as ``json.dumps(..., separators=(",", ":"))`` writes it (built directly with
    its C string encoder: this is the hot path of verification)."""
    head = f"[{int(seq)},{_enc(request_id)},{_enc(kind)},{_enc(at_iso)},{_enc(idempotency_key)}]"
    return head.encode() + b"\x00" + details_enc


_enc = json.encoder.encode_basestring_ascii


def chain_hash(prev_hash: str, leaf: bytes) -> str:
    leaf_hash = hashlib.sha256(b"\x00" + leaf).digest()
    return hashlib.sha256(b"\x01" + bytes.fromhex(prev_hash) + leaf_hash).hexdigest()


def associated_data(seq: int, request_id: str, kind: str) -> bytes:
    """AES-GCM associated data binding a sealed payload to the event it belongs to."""
    return f"audit/{seq}/{request_id}/{kind}".encode()


def first_broken(events: Iterable[ChainedEvent], *, start_hash: str = GENESIS, start_seq: int = 0) -> int | None:
    """Sequence number of the first event that breaks the chain (altered, missing, inserted or
    reordered), or None when the chain is intact. (``chain_hash`` inlined: the hot loop.)"""
    sha = hashlib.sha256
    prev, prev_raw, expected = start_hash, bytes.fromhex(start_hash), start_seq + 1
    for e in events:
        if e.seq != expected or e.prev_hash != prev:
            return e.seq if e.seq == expected else expected
        leaf = leaf_bytes_iso(e.seq, e.request_id, e.kind, e.at.isoformat(), e.idempotency_key, e.details_enc)
        digest = sha(b"\x01" + prev_raw + sha(b"\x00" + leaf).digest())
        if digest.hexdigest() != e.hash:
            return e.seq
        prev, prev_raw, expected = e.hash, digest.digest(), expected + 1
    return None
