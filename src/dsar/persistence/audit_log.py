"""The append-only, hash-chained audit log and its signed checkpoints, in SQL.

Each event's payload is sealed under its request's data key, with the event's place as
associated data (:func:`dsar.audit.chain.associated_data`); the chain hashes the sealed bytes
(:func:`dsar.audit.chain.leaf_bytes`), so it verifies without keys and after shredding. The
stored form is part of the evidence format: existing logs and bundles must keep verifying.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from dsar.audit.chain import ChainedEvent, associated_data, chain_hash, leaf_bytes
from dsar.crypto import new_data_key
from dsar.domain.events import STAFF_STREAM, AuditEntry, AuditEvent, CheckpointRecord
from dsar.persistence.damage import intact, request_name
from dsar.persistence.sealing import IN_CHUNK, Sealer, wrapping_context
from dsar.persistence.tables import AuditCheckpointRow, AuditEventRow, AuditHeadRow, RequestKeyRow, as_utc

SHREDDED_DETAILS: dict[str, Any] = {"shredded": True}


@dataclass(frozen=True)
class RawAuditRecord:
    """An event as the log stores it: its kind and details as plain values."""

    request_id: str
    kind: str
    at: datetime
    details: dict[str, Any]
    idempotency_key: str


class SqlAuditLog:
    """:class:`dsar.services.ports.AuditLog` over ``audit_event``, ``audit_head`` and ``audit_checkpoint``."""

    def __init__(self, session: Session, sealer: Sealer) -> None:
        self._s = session
        self._sealer = sealer

    def append(self, events: Sequence[AuditEvent]) -> int:
        return self.append_records([RawAuditRecord(e.request_id, e.kind, e.at, dict(e.payload()), e.idempotency_key) for e in events])

    def append_records(self, records: Sequence[RawAuditRecord]) -> int:
        """Append in order under one lock of the chain head, skipping records whose idempotency
        key is already there (or earlier in the batch). One round trip per step, not per
        event: the rate the deadline watch and bulk imports need. Returns how many were appended."""
        if not records:
            return 0
        conn = self._s.connection()
        t = AuditEventRow.__table__.c  # type: ignore[attr-defined]
        wanted = [e.idempotency_key for e in records]
        seen: set[str] = set()
        for chunk in range(0, len(wanted), IN_CHUNK):
            stmt = sa_select(t.idempotency_key).where(t.idempotency_key.in_(wanted[chunk : chunk + IN_CHUNK]))
            seen.update(k for (k,) in conn.execute(stmt))
        todo: list[RawAuditRecord] = []
        for e in records:
            if e.idempotency_key not in seen:
                todo.append(e)
                seen.add(e.idempotency_key)
        if not todo:
            return 0
        if any(e.request_id == STAFF_STREAM for e in todo):
            self._ensure_staff_key(todo[0].at)
        self._sealer.load({e.request_id for e in todo})
        head = self._s.exec(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()).one()
        seq, prev = head.seq, head.hash
        rows = []
        for e in todo:
            at = e.at.astimezone(UTC)  # stored and hashed in UTC, so it reads back the same
            seq += 1
            sealed = self._sealer.seal(
                e.request_id,
                json.dumps(e.details, sort_keys=True, default=str).encode(),
                associated_data(seq, e.request_id, e.kind).decode(),
            )
            digest = chain_hash(prev, leaf_bytes(seq, e.request_id, e.kind, at, e.idempotency_key, sealed))
            rows.append(
                {
                    "seq": seq,
                    "request_id": e.request_id,
                    "kind": e.kind,
                    "at": at,
                    "idempotency_key": e.idempotency_key,
                    "details_enc": sealed,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        conn.execute(AuditEventRow.__table__.insert(), rows)  # type: ignore[attr-defined]
        head.seq, head.hash = seq, prev
        self._s.add(head)
        self._s.flush()
        return len(rows)

    def _ensure_staff_key(self, at: datetime) -> None:
        """The staff stream's data key, created on first use. Under the chain head's lock, so
        two first staff events in parallel do not both create one."""
        self._s.exec(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()).one()
        if self._sealer.has_key(STAFF_STREAM):
            return
        provider = self._sealer.provider
        key = new_data_key()
        wrapped = provider.wrap(key, wrapping_context(STAFF_STREAM))
        self._s.add(RequestKeyRow(request_id=STAFF_STREAM, key_id=provider.key_id, wrapped_key=wrapped, created_at=at))
        self._s.flush()
        self._sealer.created(STAFF_STREAM, wrapped, key)

    def events(self, request_id: str) -> list[AuditEntry]:
        t = AuditEventRow.__table__.c  # type: ignore[attr-defined]
        stmt = sa_select(t.seq, t.kind, t.at, t.details_enc).where(t.request_id == request_id).order_by(t.seq)
        with intact(lambda: f"the audit trail of {request_name(self._s, request_id)}"):
            rows = self._s.connection().execute(stmt).all()
        entries = []
        for seq, kind, at, sealed in rows:
            with intact(partial(self._event_name, seq, request_id)):
                entries.append(AuditEntry(seq, kind, as_utc(at), self._details(seq, request_id, kind, sealed)))
        return entries

    def _event_name(self, seq: int, request_id: str) -> str:
        return f"audit event {seq} of {request_name(self._s, request_id)}"

    def open_details(self, event: ChainedEvent) -> dict[str, Any]:
        """An event's decrypted details, or ``{"shredded": true}`` once the request's key is gone."""
        return self._details(event.seq, event.request_id, event.kind, event.details_enc)

    def _details(self, seq: int, request_id: str, kind: str, sealed: bytes) -> dict[str, Any]:
        if not self._sealer.has_key(request_id):
            return dict(SHREDDED_DETAILS)
        return dict(json.loads(self._sealer.open(request_id, sealed, associated_data(seq, request_id, kind).decode())))

    def request_ids_with(self, kind: str) -> list[str]:
        t = AuditEventRow.__table__.c  # type: ignore[attr-defined]
        stmt = sa_select(t.request_id).where(t.kind == kind).distinct().order_by(t.request_id)
        return [str(rid) for rid in self._s.connection().execute(stmt).scalars()]

    def head(self) -> tuple[int, str]:
        head = self._s.exec(select(AuditHeadRow).where(AuditHeadRow.id == 1)).one()
        return head.seq, head.hash

    def iter_chain(self, first_seq: int = 1, last_seq: int | None = None, batch: int = 20_000) -> Iterator[ChainedEvent]:
        """Events in sequence order, streamed in batches (the whole log can be large)."""
        t = AuditEventRow.__table__.c  # type: ignore[attr-defined]
        cols = (t.seq, t.request_id, t.kind, t.at, t.idempotency_key, t.details_enc, t.prev_hash, t.hash)
        conn = self._s.connection()
        nxt = first_seq
        while True:
            stmt = sa_select(*cols).where(t.seq >= nxt)
            if last_seq is not None:
                stmt = stmt.where(t.seq <= last_seq)
            rows = conn.execute(stmt.order_by(t.seq).limit(batch)).all()
            if not rows:
                return
            for r in rows:
                yield ChainedEvent(r[0], r[1], r[2], as_utc(r[3]), r[4], r[5], r[6], r[7])
            nxt = rows[-1][0] + 1

    def event_seqs(self, request_ids: Sequence[str] | None, since: datetime | None, until: datetime | None, upto: int) -> list[int]:
        t = AuditEventRow.__table__.c  # type: ignore[attr-defined]
        stmt = sa_select(t.seq).where(t.seq <= upto)
        if request_ids is not None:
            stmt = stmt.where(t.request_id.in_(list(request_ids)))
        if since is not None:
            stmt = stmt.where(t.at >= since)
        if until is not None:
            stmt = stmt.where(t.at < until)
        return [s for (s,) in self._s.connection().execute(stmt.order_by(t.seq))]

    def add_checkpoint(self, checkpoint: CheckpointRecord) -> None:
        c = checkpoint
        self._s.add(
            AuditCheckpointRow(
                tree_size=c.tree_size,
                root_hash=c.root_hash,
                chain_head=c.chain_head,
                signed_at=c.signed_at,
                key_id=c.key_id,
                statement=c.statement,
                signature=c.signature,
                archived_as=c.archived_as,
            )
        )
        self._s.flush()

    def checkpoints(self) -> list[CheckpointRecord]:
        """Every signed checkpoint, oldest first (a few a day: signed by maintenance and exports)."""
        return [_checkpoint(r) for r in self._s.exec(select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.id)))]

    def latest_checkpoint(self) -> CheckpointRecord | None:
        row = self._s.exec(select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.id).desc()).limit(1)).first()
        return None if row is None else _checkpoint(row)


def _checkpoint(r: AuditCheckpointRow) -> CheckpointRecord:
    return CheckpointRecord(r.tree_size, r.root_hash, r.chain_head, r.signed_at, r.key_id, r.statement, r.signature, r.archived_as)
