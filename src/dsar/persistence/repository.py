"""The repository over the engine's database, inside one unit of work (one transaction).

Personal data is sealed field by field under the request's own data key before it reaches a
row, and opened only here. Services get domain objects and never see a row or a ciphertext.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, update
from sqlalchemy import delete as sa_delete
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlmodel import Session, col, select

from dsar.audit.chain import ChainedEvent, associated_data, chain_hash, leaf_bytes
from dsar.crypto import BlindIndex, KeyProvider, new_data_key, open_sealed, seal
from dsar.domain.errors import NotFound
from dsar.domain.regimes import AccessScope, RequestType
from dsar.domain.request import (
    DEADLINE_STOPPED,
    AgentKind,
    AuthorizedAgent,
    Channel,
    Correction,
    PrivacyRequest,
    Status,
    SubjectIdentity,
)
from dsar.persistence.tables import (
    AuditCheckpointRow,
    AuditEventRow,
    AuditHeadRow,
    ChallengeRow,
    ClockPauseRow,
    DeadlineAlertRow,
    DecisionRow,
    LetterRow,
    PlanRow,
    ReceiptRow,
    ReferenceCounterRow,
    RequestKeyRow,
    RequestRow,
    SubjectLookupRow,
)


@dataclass(frozen=True)
class Deadline:
    """The stored dates of a request. ``due`` is the date in force now."""

    due: date
    acknowledge_by: date | None = None
    extension_notice_by: date | None = None
    extended_due: date | None = None
    statutory_due: date | None = None
    extended: bool = False
    paused_days: int = 0
    clock_stopped: bool = False
    acknowledged_at: datetime | None = None


@dataclass(frozen=True)
class AuditAppend:
    """One event to append; ``details`` are sealed under the request's key."""

    request_id: str
    kind: str
    at: datetime
    details: dict[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class CheckpointRecord:
    tree_size: int
    root_hash: str
    chain_head: str
    signed_at: datetime
    key_id: str
    statement: str
    signature: str
    archived_as: str | None = None


@dataclass(frozen=True)
class PauseRecord:
    id: int
    asked_on: date
    answered_on: date | None
    reason: str | None


# The dates the deadline watch follows: the response (``watch_due``) and the confirmation of
# receipt (``ack_watch``).
WatchColumn = Literal["watch_due", "ack_watch"]


@dataclass(frozen=True)
class WatchCandidate:
    """An open request whose watched date is near or past (no personal data); ``due`` is
    that date."""

    request_id: str
    reference: str
    regime: str
    status: str
    due: date
    extended: bool


@dataclass(frozen=True)
class Alert:
    id: int
    request_id: str
    reference: str
    kind: str
    due: date
    days_left: int
    raised_at: datetime
    notify: bool
    delivered_at: datetime | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class NewAlert:
    request_id: str
    reference: str
    kind: str
    due: date
    days_left: int
    notify: bool


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    kind: str
    at: datetime
    details: dict[str, Any]


@dataclass(frozen=True)
class Challenge:
    id: int
    channel: str
    code_digest: str
    created_at: datetime
    expires_at: datetime
    attempts: int
    consumed_at: datetime | None


@dataclass(frozen=True)
class Decision:
    step: str
    decision: str
    approver: str
    note: str | None
    at: datetime


@dataclass(frozen=True)
class PlanStep:
    system: str
    operation: str
    matches: int
    detail: str


@dataclass(frozen=True)
class Receipt:
    system: str
    operation: str
    records: int
    object_key: str | None
    at: datetime


@dataclass(frozen=True)
class Letter:
    kind: str
    template: str
    message_id: str
    at: datetime


@dataclass(frozen=True)
class RequestQuery:
    status: Status | None = None
    due_before: date | None = None
    limit: int = 200


SHREDDED = "[shredded]"


def lookup_tokens(index: BlindIndex, subject: SubjectIdentity) -> list[tuple[str, str]]:
    """(kind, token) pairs for the identifiers a request can be found or linked by."""
    pairs = [("email", index.token("email", e)) for e in subject.emails]
    if subject.account_id:
        pairs.append(("account_id", index.token("account_id", subject.account_id)))
    return pairs


class Repository:
    """All reads and writes of one transaction. Obtain through :class:`UnitOfWork`."""

    def __init__(self, session: Session, keys: KeyProvider, index: BlindIndex) -> None:
        self._s = session
        self._keys = keys
        self.index = index
        self._data_keys: dict[str, bytes] = {}

    # --- keys and sealing ---------------------------------------------------------------
    def _data_key(self, request_id: str) -> bytes:
        if request_id not in self._data_keys:
            row = self._s.get(RequestKeyRow, request_id)
            if row is None:
                raise NotFound(f"no data key for request {request_id} (shredded or unknown)")
            self._data_keys[request_id] = self._keys.unwrap(row.wrapped_key, f"request-key/{request_id}".encode())
        return self._data_keys[request_id]

    def _load_data_keys(self, request_ids: set[str]) -> None:
        """Unwrap the keys of many requests with one query (missing ones fail on use)."""
        missing = sorted(request_ids - self._data_keys.keys())
        k = RequestKeyRow.__table__.c  # type: ignore[attr-defined]
        conn = self._s.connection()
        for chunk in range(0, len(missing), 900):
            for rid, wrapped in conn.execute(sa_select(k.request_id, k.wrapped_key).where(k.request_id.in_(missing[chunk : chunk + 900]))):
                self._data_keys[rid] = self._keys.unwrap(wrapped, f"request-key/{rid}".encode())

    def seal_for(self, request_id: str, plaintext: bytes, aad: str) -> bytes:
        return seal(self._data_key(request_id), plaintext, aad.encode())

    def open_for(self, request_id: str, sealed: bytes, aad: str) -> bytes:
        return open_sealed(self._data_key(request_id), sealed, aad.encode())

    def _seal_text(self, rid: str, column: str, value: str | None) -> bytes | None:
        return None if value is None else self.seal_for(rid, value.encode(), f"privacy_request/{column}/{rid}")

    def _open_text(self, rid: str, column: str, value: bytes | None) -> str | None:
        return None if value is None else self.open_for(rid, value, f"privacy_request/{column}/{rid}").decode()

    # --- requests -----------------------------------------------------------------------
    def next_reference_number(self, year: int) -> int:
        """Next number of the year's sequence. The UPDATE takes the row lock, so concurrent
        loggers on PostgreSQL queue instead of handing out the same number."""
        for _ in range(3):
            res = self._s.execute(
                update(ReferenceCounterRow)
                .where(col(ReferenceCounterRow.year) == year)
                .values(last=col(ReferenceCounterRow.last) + 1)
                .returning(col(ReferenceCounterRow.last))
            ).scalar_one_or_none()
            if res is not None:
                return int(res)
            try:
                with self._s.begin_nested():
                    self._s.add(ReferenceCounterRow(year=year, last=1))
                return 1
            except SqlIntegrityError:
                continue  # another writer created the year's row first; take the UPDATE path
        raise RuntimeError("could not allocate a reference number")

    def add_request(self, r: PrivacyRequest, deadline: Deadline, at: datetime) -> None:
        key = new_data_key()
        self._s.add(
            RequestKeyRow(
                request_id=r.id, key_id=self._keys.key_id, wrapped_key=self._keys.wrap(key, f"request-key/{r.id}".encode()), created_at=at
            )
        )
        self._data_keys[r.id] = key
        s = r.subject
        row = RequestRow(
            id=r.id,
            reference=r.reference,
            type=r.type.value,
            access_scope=r.access_scope.value if r.access_scope else None,
            regime=r.regime,
            country=r.country,
            subdivision=r.subdivision,
            channel=r.channel.value,
            received_at=r.received_at,
            received_tz=_zone_name(r.received_at),
            logged_at=r.logged_at or at,
            status=r.status.value,
            on_hold=r.on_hold,
            due=deadline.due,
            statutory_due=deadline.due,
            watch_due=None if r.status in DEADLINE_STOPPED else deadline.due,
            ack_watch=None if r.status in DEADLINE_STOPPED else deadline.acknowledge_by,
            acknowledge_by=deadline.acknowledge_by,
            extension_notice_by=deadline.extension_notice_by,
            extended_due=deadline.extended_due,
            linked_to=r.linked_to,
            subject_name_enc=self._seal_text(r.id, "subject_name", s.name) or b"",
            subject_emails_enc=self._seal_text(r.id, "subject_emails", json.dumps(list(s.emails))) or b"",
            subject_phone_enc=self._seal_text(r.id, "subject_phone", s.phone),
            subject_address_enc=self._seal_text(r.id, "subject_address", s.postal_address),
            subject_account_id_enc=self._seal_text(r.id, "subject_account_id", s.account_id),
            subject_extra_enc=self._seal_text(r.id, "subject_extra", json.dumps(dict(s.extra))) if s.extra else None,
            agent_enc=self._seal_text(r.id, "agent", json.dumps(_agent_doc(r.agent))) if r.agent else None,
            corrections_enc=self._seal_text(r.id, "corrections", json.dumps([[c.attribute, c.value] for c in r.corrections]))
            if r.corrections
            else None,
        )
        self._s.add(row)
        for kind, token in lookup_tokens(self.index, s):
            self._s.add(SubjectLookupRow(request_id=r.id, kind=kind, token=token))
        self._s.flush()

    def _to_domain(self, row: RequestRow) -> PrivacyRequest:
        rid = row.id
        if row.shredded_at is not None:
            return self._shell(row)
        extra = self._open_text(rid, "subject_extra", row.subject_extra_enc)
        agent = self._open_text(rid, "agent", row.agent_enc)
        corrections = self._open_text(rid, "corrections", row.corrections_enc)
        subject = SubjectIdentity(
            name=self._open_text(rid, "subject_name", row.subject_name_enc) or "",
            emails=tuple(json.loads(self._open_text(rid, "subject_emails", row.subject_emails_enc) or "[]")),
            phone=self._open_text(rid, "subject_phone", row.subject_phone_enc),
            postal_address=self._open_text(rid, "subject_address", row.subject_address_enc),
            account_id=self._open_text(rid, "subject_account_id", row.subject_account_id_enc),
            extra=tuple(sorted(json.loads(extra).items())) if extra else (),
        )
        return PrivacyRequest(
            id=rid,
            reference=row.reference,
            type=RequestType(row.type),
            regime=row.regime,
            country=row.country,
            subdivision=row.subdivision,
            channel=Channel(row.channel),
            received_at=row.received_at.astimezone(_zone(row.received_tz)),
            subject=subject,
            due=row.due,
            access_scope=AccessScope(row.access_scope) if row.access_scope else None,
            agent=_agent_from(json.loads(agent)) if agent else None,
            status=Status(row.status),
            on_hold=row.on_hold,
            linked_to=row.linked_to,
            logged_at=row.logged_at,
            corrections=tuple(Correction(a, v) for a, v in json.loads(corrections)) if corrections else (),
        )

    def _shell(self, row: RequestRow) -> PrivacyRequest:
        """A request whose key was destroyed: everything but the personal data."""
        return PrivacyRequest(
            id=row.id,
            reference=row.reference,
            type=RequestType(row.type),
            regime=row.regime,
            country=row.country,
            subdivision=row.subdivision,
            channel=Channel(row.channel),
            received_at=row.received_at.astimezone(_zone(row.received_tz)),
            subject=SubjectIdentity(name=SHREDDED),
            due=row.due,
            access_scope=AccessScope(row.access_scope) if row.access_scope else None,
            agent=None,
            status=Status(row.status),
            on_hold=row.on_hold,
            linked_to=row.linked_to,
            logged_at=row.logged_at,
        )

    def _row(self, request_id: str) -> RequestRow:
        row = self._s.get(RequestRow, request_id)
        if row is None:
            raise NotFound(f"no request with id {request_id}")
        return row

    def get(self, request_id: str) -> PrivacyRequest:
        return self._to_domain(self._row(request_id))

    def facts(self, request_id: str) -> tuple[PrivacyRequest, bool]:
        """The request without its personal data (nothing is decrypted), and whether it was shredded."""
        row = self._row(request_id)
        return self._shell(row), row.shredded_at is not None

    def get_by_reference(self, reference: str) -> PrivacyRequest:
        row = self._s.exec(select(RequestRow).where(RequestRow.reference == reference)).first()
        if row is None:
            raise NotFound(f"no request {reference}")
        return self._to_domain(row)

    def deadline(self, request_id: str) -> Deadline:
        row = self._row(request_id)
        return Deadline(
            row.due,
            row.acknowledge_by,
            row.extension_notice_by,
            row.extended_due,
            row.statutory_due or row.due,
            row.extended,
            row.paused_days,
            row.clock_stopped,
            _utc(row.acknowledged_at) if row.acknowledged_at is not None else None,
        )

    def mark_acknowledged(self, request_id: str, at: datetime) -> bool:
        """Record that receipt was confirmed to the subject; False if it already was (the
        first confirmation is the one that counts against ``acknowledge_by``)."""
        row = self._row(request_id)
        if row.acknowledged_at is not None:
            return False
        row.acknowledged_at, row.version = at, row.version + 1
        _rewatch(row)
        self._s.add(row)
        self._s.flush()
        return True

    def save_state(self, r: PrivacyRequest, at: datetime) -> None:
        """Persist status and hold flag (the only mutable parts of a logged request); ``at`` is
        when the change happened (a finished request's retention period starts then)."""
        row = self._row(r.id)
        row.status, row.on_hold, row.version = r.status.value, r.on_hold, row.version + 1
        if Status(row.status) in DEADLINE_STOPPED and row.finished_at is None:
            row.finished_at = at
        _rewatch(row)
        self._s.add(row)
        self._s.flush()

    def save_deadline(self, request_id: str, d: Deadline) -> None:
        """Store recomputed dates (after an extension or a pause); the statutory date stays."""
        row = self._row(request_id)
        row.due, row.acknowledge_by, row.extension_notice_by, row.extended_due = (
            d.due,
            d.acknowledge_by,
            d.extension_notice_by,
            d.extended_due,
        )
        row.extended, row.paused_days, row.clock_stopped = d.extended, d.paused_days, d.clock_stopped
        row.version += 1
        _rewatch(row)
        self._s.add(row)
        self._s.flush()

    def set_flow_run(self, request_id: str, flow_run_id: str) -> None:
        row = self._row(request_id)
        row.flow_run_id = flow_run_id
        self._s.add(row)

    def flow_run_id(self, request_id: str) -> str | None:
        return self._row(request_id).flow_run_id

    def list_requests(self, q: RequestQuery) -> list[PrivacyRequest]:
        stmt = select(RequestRow)
        if q.status is not None:
            stmt = stmt.where(RequestRow.status == q.status.value)
        if q.due_before is not None:
            stmt = stmt.where(col(RequestRow.due) < q.due_before)
        stmt = stmt.order_by(col(RequestRow.due), col(RequestRow.reference)).limit(q.limit)
        return [self._to_domain(row) for row in self._s.exec(stmt)]

    def find_linkable(
        self, tokens: Sequence[tuple[str, str]], request_type: RequestType, regime: str, since: datetime
    ) -> PrivacyRequest | None:
        """The earliest unlinked request of the same type and regime, logged since ``since``,
        sharing an identifier token with the new submission."""
        if not tokens:
            return None
        stmt = (
            select(RequestRow)
            .join(SubjectLookupRow, col(SubjectLookupRow.request_id) == col(RequestRow.id))
            .where(col(SubjectLookupRow.token).in_([t for _, t in tokens]))
            .where(RequestRow.type == request_type.value, RequestRow.regime == regime)
            .where(col(RequestRow.logged_at) >= since, col(RequestRow.linked_to).is_(None))
            .order_by(col(RequestRow.logged_at))
            .limit(1)
        )
        row = self._s.exec(stmt).first()
        return None if row is None else self._to_domain(row)

    # --- stop-the-clock pauses ----------------------------------------------------------
    def add_pause(self, request_id: str, asked_on: date, reason: str | None, at: datetime) -> int:
        row = ClockPauseRow(request_id=request_id, asked_on=asked_on, at=at)
        self._s.add(row)
        self._s.flush()
        assert row.id is not None
        if reason:
            row.reason_enc = self.seal_for(request_id, reason.encode(), f"pause/{request_id}/{row.id}")
            self._s.add(row)
            self._s.flush()
        return row.id

    def answer_pause(self, pause_id: int, answered_on: date) -> None:
        row = self._s.get(ClockPauseRow, pause_id)
        if row is None:
            raise NotFound(f"no pause {pause_id}")
        row.answered_on = answered_on
        self._s.add(row)
        self._s.flush()

    def pauses(self, request_id: str) -> list[PauseRecord]:
        rows = self._s.exec(select(ClockPauseRow).where(ClockPauseRow.request_id == request_id).order_by(col(ClockPauseRow.id)))
        return [
            PauseRecord(
                r.id or 0,
                r.asked_on,
                r.answered_on,
                self.open_for(request_id, r.reason_enc, f"pause/{request_id}/{r.id}").decode() if r.reason_enc else None,
            )
            for r in rows
        ]

    # --- deadline watch -----------------------------------------------------------------
    def watch_candidates(self, horizon: date, column: WatchColumn = "watch_due") -> list[WatchCandidate]:
        """Open requests whose watched date (``watch_due``: the response; ``ack_watch``: the
        receipt confirmation) is on or before ``horizon``: an index range scan, the column
        being NULL for everything not watched."""
        r = RequestRow.__table__.c  # type: ignore[attr-defined]
        watched = r[column]
        stmt = (
            sa_select(r.id, r.reference, r.regime, r.status, watched, r.extended)
            .where(watched.is_not(None), watched <= horizon)
            .order_by(watched, r.reference)
        )
        return [WatchCandidate(i, ref, reg, st, d, ext) for i, ref, reg, st, d, ext in self._s.connection().execute(stmt)]

    def alerted(self, horizon: date, column: WatchColumn = "watch_due") -> set[tuple[str, date, str]]:
        """(request id, date, kind) of the alerts already raised for the candidates' current dates."""
        r, a = RequestRow.__table__.c, DeadlineAlertRow.__table__.c  # type: ignore[attr-defined]
        watched = r[column]
        stmt = (
            sa_select(a.request_id, a.due, a.kind)
            .join_from(RequestRow.__table__, DeadlineAlertRow.__table__, (a.request_id == r.id) & (a.due == watched))  # type: ignore[attr-defined]
            .where(watched.is_not(None), watched <= horizon)
        )
        return {(rid, d, k) for rid, d, k in self._s.connection().execute(stmt)}

    def add_alerts(self, alerts: Sequence[NewAlert], at: datetime) -> None:
        if not alerts:
            return
        self._s.connection().execute(
            DeadlineAlertRow.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "request_id": a.request_id,
                    "reference": a.reference,
                    "kind": a.kind,
                    "due": a.due,
                    "days_left": a.days_left,
                    "raised_at": at,
                    "notify": a.notify,
                    "delivered_at": None if a.notify else at,
                    "attempts": 0,
                    "last_error": None,
                }
                for a in alerts
            ],
        )

    def undelivered_alerts(self, max_attempts: int) -> list[Alert]:
        stmt = (
            select(DeadlineAlertRow)
            .where(col(DeadlineAlertRow.delivered_at).is_(None), col(DeadlineAlertRow.attempts) < max_attempts)
            .order_by(col(DeadlineAlertRow.id))
        )
        return [_alert(r) for r in self._s.exec(stmt)]

    def record_delivery(self, alert_ids: Sequence[int], at: datetime, error: str | None) -> None:
        """One more delivery attempt of these alerts: delivered at ``at``, or failed with ``error``."""
        a = DeadlineAlertRow.__table__.c  # type: ignore[attr-defined]
        values: dict[str, Any] = {"attempts": a.attempts + 1}
        values.update({"delivered_at": at, "last_error": None} if error is None else {"last_error": error[:500]})
        conn = self._s.connection()
        ids = list(alert_ids)
        for chunk in range(0, len(ids), 900):
            conn.execute(update(DeadlineAlertRow.__table__).where(a.id.in_(ids[chunk : chunk + 900])).values(**values))  # type: ignore[attr-defined]

    def alerts(self, request_id: str | None = None, limit: int = 500) -> list[Alert]:
        stmt = select(DeadlineAlertRow)
        if request_id is not None:
            stmt = stmt.where(DeadlineAlertRow.request_id == request_id)
        stmt = stmt.order_by(col(DeadlineAlertRow.id).desc()).limit(limit)
        return [_alert(r) for r in self._s.exec(stmt)]

    # --- key rotation -------------------------------------------------------------------
    def rewrap_data_keys(self, limit: int = 1000) -> int:
        """Re-wrap up to ``limit`` data keys not yet under the provider's current key."""
        k = RequestKeyRow.__table__.c  # type: ignore[attr-defined]
        conn = self._s.connection()
        rows = conn.execute(sa_select(k.request_id, k.wrapped_key).where(k.key_id != self._keys.key_id).limit(limit)).all()
        for rid, wrapped in rows:
            context = f"request-key/{rid}".encode()
            rewrapped = self._keys.wrap(self._keys.unwrap(wrapped, context), context)
            conn.execute(update(RequestKeyRow.__table__).where(k.request_id == rid).values(wrapped_key=rewrapped, key_id=self._keys.key_id))  # type: ignore[attr-defined]
        return len(rows)

    def data_key_ids(self) -> set[str]:
        k = RequestKeyRow.__table__.c  # type: ignore[attr-defined]
        return {kid for (kid,) in self._s.connection().execute(sa_select(k.key_id).distinct())}

    def references(self, request_ids: set[str]) -> dict[str, str]:
        ids = sorted(request_ids)
        r = RequestRow.__table__.c  # type: ignore[attr-defined]
        out: dict[str, str] = {}
        conn = self._s.connection()
        for chunk in range(0, len(ids), 900):
            out.update({i: ref for i, ref in conn.execute(sa_select(r.id, r.reference).where(r.id.in_(ids[chunk : chunk + 900])))})
        return out

    def shredded(self, request_ids: set[str]) -> set[str]:
        r = RequestRow.__table__.c  # type: ignore[attr-defined]
        ids = sorted(request_ids)
        out: set[str] = set()
        conn = self._s.connection()
        for chunk in range(0, len(ids), 900):
            out.update(i for (i,) in conn.execute(sa_select(r.id).where(r.id.in_(ids[chunk : chunk + 900]), r.shredded_at.is_not(None))))
        return out

    def count_requests(self) -> int:
        return int(self._s.exec(select(func.count()).select_from(RequestRow)).one())

    # --- audit --------------------------------------------------------------------------
    def append_audit(self, request_id: str, kind: str, at: datetime, details: dict[str, Any], idempotency_key: str) -> bool:
        """Append one event to the hash chain unless its idempotency key is already there.
        Returns False for a repeat (a re-run writes nothing twice)."""
        return self.append_audit_many([AuditAppend(request_id, kind, at, details, idempotency_key)]) == 1

    def append_audit_many(self, events: Sequence[AuditAppend]) -> int:
        """Append events in order under one lock of the chain head, skipping those whose
        idempotency key is already there. One round trip per step, not per event: the rate
        the deadline watch and bulk imports need. Returns how many were appended."""
        if not events:
            return 0
        ev = self._s.connection()
        wanted = [e.idempotency_key for e in events]
        seen: set[str] = set()
        t = AuditEventRow.__table__.c  # type: ignore[attr-defined]
        for chunk in range(0, len(wanted), 900):
            seen.update(k for (k,) in ev.execute(sa_select(t.idempotency_key).where(t.idempotency_key.in_(wanted[chunk : chunk + 900]))))
        todo, keys_in_batch = [], set()
        for e in events:
            if e.idempotency_key not in seen and e.idempotency_key not in keys_in_batch:
                todo.append(e)
                keys_in_batch.add(e.idempotency_key)
        if not todo:
            return 0
        self._load_data_keys({e.request_id for e in todo})
        head = self._s.exec(select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()).one()
        seq, prev = head.seq, head.hash
        rows = []
        for e in todo:
            e = replace(e, at=e.at.astimezone(UTC))  # stored and hashed in UTC, so it reads back the same
            seq += 1
            sealed = self.seal_for(
                e.request_id,
                json.dumps(e.details, sort_keys=True, default=str).encode(),
                associated_data(seq, e.request_id, e.kind).decode(),
            )
            digest = chain_hash(prev, leaf_bytes(seq, e.request_id, e.kind, e.at, e.idempotency_key, sealed))
            rows.append(
                {
                    "seq": seq,
                    "request_id": e.request_id,
                    "kind": e.kind,
                    "at": e.at,
                    "idempotency_key": e.idempotency_key,
                    "details_enc": sealed,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        ev.execute(AuditEventRow.__table__.insert(), rows)  # type: ignore[attr-defined]
        head.seq, head.hash = seq, prev
        self._s.add(head)
        self._s.flush()
        return len(rows)

    def audit_events(self, request_id: str) -> list[AuditEntry]:
        rows = self._s.exec(select(AuditEventRow).where(AuditEventRow.request_id == request_id).order_by(col(AuditEventRow.seq)))
        return [AuditEntry(r.seq, r.kind, r.at, self.event_details(r.seq, r.request_id, r.kind, r.details_enc)) for r in rows]

    def event_details(self, seq: int, request_id: str, kind: str, sealed: bytes) -> dict[str, Any]:
        """An event's decrypted details, or ``{"shredded": true}`` once the request's key is gone."""
        if request_id not in self._data_keys:
            self._load_data_keys({request_id})
            if request_id not in self._data_keys:
                return {"shredded": True}
        return dict(json.loads(self.open_for(request_id, sealed, associated_data(seq, request_id, kind).decode())))

    def audit_head(self) -> tuple[int, str]:
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
                yield ChainedEvent(r[0], r[1], r[2], _utc(r[3]), r[4], r[5], r[6], r[7])
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

    # --- checkpoints and shredding ------------------------------------------------------
    def add_checkpoint(self, c: CheckpointRecord) -> None:
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

    def shred_candidates(self, finished_before: datetime) -> list[tuple[str, str]]:
        """(id, reference) of finished requests past their retention whose key still exists."""
        stmt = (
            select(RequestRow.id, RequestRow.reference)
            .where(col(RequestRow.finished_at).is_not(None), col(RequestRow.finished_at) < finished_before)
            .where(col(RequestRow.shredded_at).is_(None))
            .order_by(col(RequestRow.finished_at))
        )
        return [(i, ref) for i, ref in self._s.exec(stmt)]

    def shred(self, request_id: str, at: datetime) -> None:
        """Destroy the request's data key: its sealed fields and events can never be read again."""
        k = RequestKeyRow.__table__.c  # type: ignore[attr-defined]
        self._s.connection().execute(sa_delete(RequestKeyRow.__table__).where(k.request_id == request_id))  # type: ignore[attr-defined]
        self._data_keys.pop(request_id, None)
        row = self._row(request_id)
        row.shredded_at = at
        self._s.add(row)
        self._s.flush()

    def chain(self, after_seq: int = 0, limit: int = 100_000) -> list[ChainedEvent]:
        rows = self._s.exec(select(AuditEventRow).where(col(AuditEventRow.seq) > after_seq).order_by(col(AuditEventRow.seq)).limit(limit))
        return [ChainedEvent(r.seq, r.request_id, r.kind, r.at, r.idempotency_key, r.details_enc, r.prev_hash, r.hash) for r in rows]

    # --- verification challenges --------------------------------------------------------
    def add_challenge(self, request_id: str, channel: str, code_digest: str, created_at: datetime, expires_at: datetime) -> None:
        self._s.add(
            ChallengeRow(request_id=request_id, channel=channel, code_digest=code_digest, created_at=created_at, expires_at=expires_at)
        )
        self._s.flush()

    def latest_challenge(self, request_id: str) -> Challenge | None:
        row = self._s.exec(select(ChallengeRow).where(ChallengeRow.request_id == request_id).order_by(col(ChallengeRow.id).desc())).first()
        if row is None or row.id is None:
            return None
        return Challenge(row.id, row.channel, row.code_digest, row.created_at, row.expires_at, row.attempts, row.consumed_at)

    def record_attempt(self, challenge_id: int, *, consumed_at: datetime | None) -> None:
        row = self._s.get(ChallengeRow, challenge_id)
        if row is None:
            raise NotFound("no such challenge")
        row.attempts += 1
        row.consumed_at = consumed_at
        self._s.add(row)
        self._s.flush()

    # --- decisions, plan, receipts, letters ---------------------------------------------
    def record_decision(self, request_id: str, step: str, decision: str, approver: str, note: str | None, at: datetime) -> None:
        note_enc = self.seal_for(request_id, note.encode(), f"decision/{request_id}/{step}") if note else None
        self._s.add(DecisionRow(request_id=request_id, step=step, decision=decision, approver=approver, note_enc=note_enc, at=at))
        self._s.flush()

    def decision(self, request_id: str, step: str) -> Decision | None:
        row = self._s.exec(select(DecisionRow).where(DecisionRow.request_id == request_id, DecisionRow.step == step)).first()
        if row is None:
            return None
        note = self.open_for(request_id, row.note_enc, f"decision/{request_id}/{step}").decode() if row.note_enc else None
        return Decision(row.step, row.decision, row.approver, note, row.at)

    def save_plan(self, request_id: str, steps: Sequence[PlanStep]) -> None:
        for st in steps:
            self._s.add(PlanRow(request_id=request_id, system=st.system, operation=st.operation, matches=st.matches, detail=st.detail))
        self._s.flush()

    def plan(self, request_id: str) -> list[PlanStep]:
        rows = self._s.exec(select(PlanRow).where(PlanRow.request_id == request_id).order_by(col(PlanRow.system)))
        return [PlanStep(r.system, r.operation, r.matches, r.detail) for r in rows]

    def add_receipt(self, request_id: str, system: str, operation: str, records: int, object_key: str | None, at: datetime) -> None:
        self._s.add(ReceiptRow(request_id=request_id, system=system, operation=operation, records=records, object_key=object_key, at=at))
        self._s.flush()

    def receipts(self, request_id: str) -> list[Receipt]:
        rows = self._s.exec(select(ReceiptRow).where(ReceiptRow.request_id == request_id).order_by(col(ReceiptRow.system)))
        return [Receipt(r.system, r.operation, r.records, r.object_key, r.at) for r in rows]

    def add_letter(self, request_id: str, kind: str, template: str, message_id: str, at: datetime) -> None:
        self._s.add(LetterRow(request_id=request_id, kind=kind, template=template, message_id=message_id, at=at))
        self._s.flush()

    def letter(self, request_id: str, kind: str) -> Letter | None:
        row = self._s.exec(select(LetterRow).where(LetterRow.request_id == request_id, LetterRow.kind == kind)).first()
        return None if row is None else Letter(row.kind, row.template, row.message_id, row.at)


class UnitOfWork:
    """One transaction: ``with uow_factory() as uow: ...; uow.commit()``. Leaving the block
    without commit rolls back, so a crash halfway writes nothing."""

    def __init__(self, engine: Engine, keys: KeyProvider, index: BlindIndex) -> None:
        self._engine, self._keys, self._index = engine, keys, index
        self._session: Session | None = None

    def __enter__(self) -> UnitOfWork:
        self._session = Session(self._engine, expire_on_commit=False)
        self.repo = Repository(self._session, self._keys, self._index)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._session is not None
        self._session.rollback()
        self._session.close()

    def commit(self) -> None:
        assert self._session is not None
        self._session.commit()


UnitOfWorkFactory = Callable[[], UnitOfWork]


def _rewatch(row: RequestRow) -> None:
    """The watch follows a request while it is open and its clock runs, and its receipt
    confirmation while none is recorded (a paused clock does not excuse that one)."""
    finished = Status(row.status) in DEADLINE_STOPPED
    row.watch_due = None if finished or row.clock_stopped else row.due
    row.ack_watch = None if finished or row.acknowledged_at is not None else row.acknowledge_by


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _checkpoint(r: AuditCheckpointRow) -> CheckpointRecord:
    return CheckpointRecord(r.tree_size, r.root_hash, r.chain_head, r.signed_at, r.key_id, r.statement, r.signature, r.archived_as)


def _alert(r: DeadlineAlertRow) -> Alert:
    return Alert(
        r.id or 0, r.request_id, r.reference, r.kind, r.due, r.days_left, r.raised_at, r.notify, r.delivered_at, r.attempts, r.last_error
    )


def new_request_id() -> str:
    return uuid.uuid4().hex


def _zone_name(dt: datetime) -> str:
    tz = dt.tzinfo
    if isinstance(tz, ZoneInfo):
        return tz.key
    off = dt.utcoffset()
    return "UTC" if not off else dt.strftime("%z")


def _zone(name: str) -> Any:
    if name == "UTC":
        return UTC
    if name[:1] in "+-":
        return datetime.strptime(name, "%z").tzinfo
    return ZoneInfo(name)


def _agent_doc(a: AuthorizedAgent | None) -> dict[str, str | None]:
    assert a is not None
    return {"name": a.name, "email": a.email, "kind": a.kind.value, "organisation": a.organisation}


def _agent_from(d: dict[str, Any]) -> AuthorizedAgent:
    return AuthorizedAgent(name=d["name"], email=d.get("email"), kind=AgentKind(d["kind"]), organisation=d.get("organisation"))
