"""Requests in SQL: identity sealed field by field, the rest in plain columns.

:meth:`SqlRequests.get` opens the personal data (one key unwrap at most); :meth:`facts` and
:meth:`query` decrypt nothing. Lookups by email or account id go through keyed blind-index
tokens (:func:`lookup_tokens`), never plaintext.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, update
from sqlalchemy import delete as sa_delete
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlmodel import Session, col, select

from dsar.crypto import BlindIndex, new_data_key
from dsar.domain.deadlines import Deadline
from dsar.domain.errors import NotFound
from dsar.domain.regimes import AccessScope, RequestType
from dsar.domain.request import (
    ANSWERING,
    DEADLINE_STOPPED,
    AgentKind,
    AuthorizedAgent,
    Channel,
    Correction,
    PrivacyRequest,
    Status,
    SubjectIdentity,
)
from dsar.persistence.damage import READ_FAILURES, intact, request_name
from dsar.persistence.sealing import IN_CHUNK, Sealer, wrapping_context
from dsar.persistence.tables import ReferenceCounterRow, RequestKeyRow, RequestRow, SubjectLookupRow, refused_if_exists
from dsar.services.ports import RequestQuery

SHREDDED = "[shredded]"
# The blind-index kind of the address a request was verified with (the one its code went to).
VERIFIED_EMAIL = "verified_email"
NOT_OPENED = "[not opened]"


def new_request_id() -> str:
    return uuid.uuid4().hex


def lookup_tokens(index: BlindIndex, subject: SubjectIdentity) -> list[tuple[str, str]]:
    """(kind, token) pairs for the identifiers a request gave at intake (unverified)."""
    pairs = [("email", index.token("email", e)) for e in subject.emails]
    if subject.account_id:
        pairs.append(("account_id", index.token("account_id", subject.account_id)))
    return pairs


def rewatch(row: RequestRow) -> None:
    """The watch follows a request while it is open and its clock runs, and its receipt
    confirmation while none is recorded (a paused clock does not excuse that one)."""
    finished = Status(row.status) in DEADLINE_STOPPED
    row.watch_due = None if finished or row.clock_stopped else row.due
    row.ack_watch = None if finished or row.acknowledged_at is not None else row.acknowledge_by


def request_row(session: Session, request_id: str) -> RequestRow:
    with intact(lambda: request_name(session, request_id)):
        row = session.get(RequestRow, request_id)
    if row is None:
        raise NotFound(f"no request with id {request_id}")
    return row


class SqlRequests:
    """:class:`dsar.services.ports.RequestRepository` over the ``privacy_request`` table."""

    def __init__(self, session: Session, sealer: Sealer, index: BlindIndex) -> None:
        self._s = session
        self._sealer = sealer
        self._index = index

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

    def add(self, request: PrivacyRequest, deadline: Deadline, at: datetime) -> None:
        r, sealer = request, self._sealer
        key = new_data_key()
        wrapped = sealer.provider.wrap(key, wrapping_context(r.id))
        self._s.add(RequestKeyRow(request_id=r.id, key_id=sealer.provider.key_id, wrapped_key=wrapped, created_at=at))
        sealer.created(r.id, wrapped, key)
        s = r.subject
        row = RequestRow(
            id=r.id,
            reference=r.reference,
            type=r.type.value,
            access_scope=r.access_scope.value if r.access_scope else None,
            language=r.language,
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
            subject_name_enc=sealer.seal_text(r.id, "subject_name", s.name) or b"",
            subject_emails_enc=sealer.seal_text(r.id, "subject_emails", json.dumps(list(s.emails))) or b"",
            subject_phone_enc=sealer.seal_text(r.id, "subject_phone", s.phone),
            subject_address_enc=sealer.seal_text(r.id, "subject_address", s.postal_address),
            subject_account_id_enc=sealer.seal_text(r.id, "subject_account_id", s.account_id),
            subject_extra_enc=sealer.seal_text(r.id, "subject_extra", json.dumps(dict(s.extra))) if s.extra else None,
            agent_enc=sealer.seal_text(r.id, "agent", json.dumps(_agent_doc(r.agent))) if r.agent else None,
            corrections_enc=sealer.seal_text(r.id, "corrections", json.dumps([[c.attribute, c.value] for c in r.corrections]))
            if r.corrections
            else None,
        )
        self._s.add(row)
        for kind, token in set(lookup_tokens(self._index, s)):
            self._s.add(SubjectLookupRow(request_id=r.id, kind=kind, token=token))
        with refused_if_exists(f"request {r.reference}"):
            self._s.flush()

    def get(self, request_id: str) -> PrivacyRequest:
        row = request_row(self._s, request_id)
        with intact(f"request {row.reference}"):
            return self._opened(row)

    def facts(self, request_id: str) -> PrivacyRequest:
        row = request_row(self._s, request_id)
        with intact(f"request {row.reference}"):
            return _shell(row)

    def is_shredded(self, request_id: str) -> bool:
        r = RequestRow.__table__.c  # type: ignore[attr-defined]
        found = self._s.connection().execute(sa_select(r.shredded_at).where(r.id == request_id)).first()
        if found is None:
            raise NotFound(f"no request with id {request_id}")
        return found[0] is not None

    def id_for_reference(self, reference: str) -> str:
        r = RequestRow.__table__.c  # type: ignore[attr-defined]
        found = self._s.connection().execute(sa_select(r.id).where(r.reference == reference)).scalar_one_or_none()
        if found is None:
            raise NotFound(f"no request {reference}")
        return str(found)

    def save_state(self, request: PrivacyRequest, at: datetime) -> None:
        """Persist status and hold flag (the only mutable parts of a logged request); ``at`` is
        when the change happened (a finished request's retention period starts then)."""
        row = request_row(self._s, request.id)
        row.status, row.on_hold, row.version = request.status.value, request.on_hold, row.version + 1
        if Status(row.status) in DEADLINE_STOPPED and row.finished_at is None:
            row.finished_at = at
        rewatch(row)
        self._s.add(row)
        self._s.flush()

    def set_flow_run(self, request_id: str, flow_run_id: str) -> None:
        row = request_row(self._s, request_id)
        row.flow_run_id = flow_run_id
        self._s.add(row)
        self._s.flush()

    def flow_run_id(self, request_id: str) -> str | None:
        return request_row(self._s, request_id).flow_run_id

    def query(self, query: RequestQuery) -> list[PrivacyRequest]:
        stmt = select(RequestRow)
        if query.status is not None:
            stmt = stmt.where(RequestRow.status == query.status.value)
        if query.due_before is not None:
            stmt = stmt.where(col(RequestRow.due) < query.due_before)
        if query.regime is not None:
            stmt = stmt.where(RequestRow.regime == query.regime)
        if query.after is not None:
            due, reference = query.after
            stmt = stmt.where(or_(col(RequestRow.due) > due, and_(col(RequestRow.due) == due, col(RequestRow.reference) > reference)))
        if query.request_type is not None:
            stmt = stmt.where(RequestRow.type == query.request_type.value)
        if query.reference is not None:
            stmt = stmt.where(RequestRow.reference == query.reference)
        if query.reference_like is not None:
            stmt = stmt.where(col(RequestRow.reference).like(query.reference_like))
        stmt = stmt.order_by(col(RequestRow.due), col(RequestRow.reference)).offset(max(query.offset, 0)).limit(query.limit)
        try:
            return [_shell(row) for row in self._s.exec(stmt)]
        except READ_FAILURES:
            self._name_the_damaged(query)
            raise

    def _name_the_damaged(self, query: RequestQuery) -> None:
        """A list failed on a damaged row: read the candidates one by one (plain columns only
        to find them) and raise for the first that cannot be read, by its reference."""
        r = RequestRow.__table__.c  # type: ignore[attr-defined]
        stmt = sa_select(r.id)
        if query.status is not None:
            stmt = stmt.where(r.status == query.status.value)
        for (request_id,) in self._s.connection().execute(stmt.order_by(r.reference)).all():
            self.facts(request_id)

    def record_verified_contact(self, request_id: str, contact: str) -> None:
        request_row(self._s, request_id)
        token = self._index.token("email", contact)
        found = self._s.exec(
            select(SubjectLookupRow).where(SubjectLookupRow.request_id == request_id, SubjectLookupRow.kind == VERIFIED_EMAIL)
        ).first()
        if found is not None:
            found.token = token
        else:
            found = SubjectLookupRow(request_id=request_id, kind=VERIFIED_EMAIL, token=token)
        self._s.add(found)
        self._s.flush()

    def verified_with(
        self, contact: str, request_type: RequestType, regime: str, received_from: datetime, received_to: datetime
    ) -> list[PrivacyRequest]:
        """One join on the blind-index table (indexed by token); nothing is decrypted."""
        token = self._index.token("email", contact)
        stmt = (
            select(RequestRow)
            .join(SubjectLookupRow, col(SubjectLookupRow.request_id) == col(RequestRow.id))
            .where(SubjectLookupRow.kind == VERIFIED_EMAIL, SubjectLookupRow.token == token)
            .where(RequestRow.type == request_type.value, RequestRow.regime == regime)
            .where(col(RequestRow.status).in_([s.value for s in ANSWERING]), col(RequestRow.linked_to).is_(None))
            .where(col(RequestRow.received_at) >= received_from, col(RequestRow.received_at) <= received_to)
            .order_by(col(RequestRow.received_at), col(RequestRow.reference))
        )
        return [_shell(row) for row in self._s.exec(stmt)]

    def link(self, request_id: str, to: str) -> None:
        row = request_row(self._s, request_id)
        request_row(self._s, to)
        row.linked_to = to
        self._s.add(row)
        self._s.flush()

    def references(self, request_ids: set[str]) -> dict[str, str]:
        ids = sorted(request_ids)
        r = RequestRow.__table__.c  # type: ignore[attr-defined]
        out: dict[str, str] = {}
        conn = self._s.connection()
        for chunk in range(0, len(ids), IN_CHUNK):
            out.update({i: ref for i, ref in conn.execute(sa_select(r.id, r.reference).where(r.id.in_(ids[chunk : chunk + IN_CHUNK])))})
        return out

    def shredded(self, request_ids: set[str]) -> set[str]:
        r = RequestRow.__table__.c  # type: ignore[attr-defined]
        ids = sorted(request_ids)
        out: set[str] = set()
        conn = self._s.connection()
        for chunk in range(0, len(ids), IN_CHUNK):
            out.update(
                i for (i,) in conn.execute(sa_select(r.id).where(r.id.in_(ids[chunk : chunk + IN_CHUNK]), r.shredded_at.is_not(None)))
            )
        return out

    def count(self) -> int:
        return int(self._s.exec(select(func.count()).select_from(RequestRow)).one())

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
        row = request_row(self._s, request_id)
        k = RequestKeyRow.__table__.c  # type: ignore[attr-defined]
        self._s.connection().execute(sa_delete(RequestKeyRow.__table__).where(k.request_id == request_id))  # type: ignore[attr-defined]
        self._sealer.destroyed(request_id)
        row.shredded_at = at
        self._s.add(row)
        self._s.flush()

    def _opened(self, row: RequestRow) -> PrivacyRequest:
        """The request with its personal data opened (the shell once shredded)."""
        rid, sealer = row.id, self._sealer
        if row.shredded_at is not None:
            return _shell(row, SHREDDED)
        extra = sealer.open_text(rid, "subject_extra", row.subject_extra_enc)
        agent = sealer.open_text(rid, "agent", row.agent_enc)
        corrections = sealer.open_text(rid, "corrections", row.corrections_enc)
        subject = SubjectIdentity(
            name=sealer.open_text(rid, "subject_name", row.subject_name_enc) or "",
            emails=tuple(json.loads(sealer.open_text(rid, "subject_emails", row.subject_emails_enc) or "[]")),
            phone=sealer.open_text(rid, "subject_phone", row.subject_phone_enc),
            postal_address=sealer.open_text(rid, "subject_address", row.subject_address_enc),
            account_id=sealer.open_text(rid, "subject_account_id", row.subject_account_id_enc),
            extra=tuple(sorted(json.loads(extra).items())) if extra else (),
        )
        return replace(
            _shell(row),
            subject=subject,
            agent=_agent_from(json.loads(agent)) if agent else None,
            corrections=tuple(Correction(a, v) for a, v in json.loads(corrections)) if corrections else (),
        )


def _shell(row: RequestRow, name: str | None = None) -> PrivacyRequest:
    """The request without its personal data: ``[shredded]`` once its key is destroyed,
    ``[not opened]`` when it simply was not decrypted."""
    return PrivacyRequest(
        id=row.id,
        reference=row.reference,
        type=RequestType(row.type),
        regime=row.regime,
        country=row.country,
        subdivision=row.subdivision,
        channel=Channel(row.channel),
        received_at=row.received_at.astimezone(_zone(row.received_tz)),
        subject=SubjectIdentity(name=name or (SHREDDED if row.shredded_at is not None else NOT_OPENED)),
        due=row.due,
        access_scope=AccessScope(row.access_scope) if row.access_scope else None,
        agent=None,
        status=Status(row.status),
        on_hold=row.on_hold,
        linked_to=row.linked_to,
        logged_at=row.logged_at,
        language=row.language or "en",
    )


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
