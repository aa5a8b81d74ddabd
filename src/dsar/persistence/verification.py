"""``verification_case``: one row per request's identity verification (see
:mod:`dsar.domain.verification_case`). Links, codes and the pages' session are stored as keyed
digests only; personal data only sealed (``*_enc``)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text
from sqlmodel import Field, Session, SQLModel, col, select

from dsar.domain.errors import NotFound
from dsar.domain.request import FINAL_STATUSES
from dsar.domain.verification_case import CaseState, VerificationCase
from dsar.domain.verification_policy import Proof, Requirement
from dsar.persistence.tables import RequestRow, as_utc


class VerificationCaseRow(SQLModel, table=True):
    __tablename__ = "verification_case"
    # the sweep's query: open cases by expiry (open_expiring)
    __table_args__ = (Index("ix_verification_case_state_expires_at", "state", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(unique=True, index=True, max_length=32)
    created_at: datetime
    expires_at: datetime
    known: bool = False
    channel: str = Field(max_length=8)
    system: str | None = Field(default=None, max_length=64)
    requirement: str = Field(sa_column=Column(Text, nullable=False))  # JSON, no personal data
    proofs: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # JSON list of Proof values
    state: str = Field(default="open", max_length=16)
    salt: str = Field(max_length=64)
    issued: int = 0
    link_digest: str | None = Field(default=None, index=True, max_length=64)
    code_digest: str | None = Field(default=None, max_length=64)
    session_digest: str | None = Field(default=None, index=True, max_length=64)
    attempts: int = 0
    wakes: int = 0
    record_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    declaration_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


def _case(row: VerificationCaseRow) -> VerificationCase:
    assert row.id is not None
    return VerificationCase(
        id=row.id,
        request_id=row.request_id,
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at),
        known=row.known,
        channel=row.channel,
        requirement=Requirement.from_json(json.loads(row.requirement)),
        salt=row.salt,
        proofs=frozenset(Proof(p) for p in json.loads(row.proofs)),
        state=CaseState(row.state),
        issued=row.issued,
        link_digest=row.link_digest,
        code_digest=row.code_digest,
        session_digest=row.session_digest,
        attempts=row.attempts,
        wakes=row.wakes,
        sealed=row.record_enc,
        declaration=row.declaration_enc,
        system=row.system,
    )


def _fill(row: VerificationCaseRow, c: VerificationCase) -> None:
    row.expires_at = c.expires_at
    row.known = c.known
    row.channel = c.channel
    row.system = c.system
    row.requirement = json.dumps(c.requirement.as_json(), sort_keys=True)
    row.proofs = json.dumps(sorted(p.value for p in c.proofs))
    row.state = c.state.value
    row.salt = c.salt  # overwritten when the request ends (dsar.services.identity.forget)
    row.issued = c.issued
    row.link_digest = c.link_digest
    row.code_digest = c.code_digest
    row.session_digest = c.session_digest
    row.attempts = c.attempts
    row.wakes = c.wakes
    row.record_enc = c.sealed
    row.declaration_enc = c.declaration


class SqlVerificationCases:
    """:class:`dsar.services.ports.VerificationCaseRepository` over ``verification_case``."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, case: VerificationCase) -> VerificationCase:
        row = VerificationCaseRow(
            request_id=case.request_id,
            created_at=case.created_at,
            expires_at=case.expires_at,
            channel=case.channel,
            requirement="{}",
            salt=case.salt,
        )
        _fill(row, case)
        self._s.add(row)
        self._s.flush()
        assert row.id is not None
        return replace(case, id=row.id)

    def get(self, request_id: str) -> VerificationCase | None:
        row = self._s.exec(select(VerificationCaseRow).where(VerificationCaseRow.request_id == request_id)).first()
        return _case(row) if row is not None else None

    def by_link(self, digest: str) -> VerificationCase | None:
        row = self._s.exec(select(VerificationCaseRow).where(VerificationCaseRow.link_digest == digest)).first()
        return _case(row) if row is not None else None

    def by_session(self, digest: str) -> VerificationCase | None:
        row = self._s.exec(select(VerificationCaseRow).where(VerificationCaseRow.session_digest == digest)).first()
        return _case(row) if row is not None else None

    def open_expiring(self, before: datetime) -> list[VerificationCase]:
        rows = self._s.exec(
            select(VerificationCaseRow)
            .where(VerificationCaseRow.state == CaseState.OPEN.value, VerificationCaseRow.expires_at <= before)
            .order_by(VerificationCaseRow.expires_at)  # type: ignore[arg-type]
        ).all()
        return [_case(row) for row in rows]

    def of_ended_requests(self, limit: int) -> list[str]:
        rows = self._s.exec(
            select(VerificationCaseRow.request_id)
            .join(RequestRow, col(RequestRow.id) == col(VerificationCaseRow.request_id))
            .where(col(RequestRow.status).in_([s.value for s in FINAL_STATUSES]))
            .where(VerificationCaseRow.state != CaseState.CLOSED.value)
            .order_by(col(VerificationCaseRow.id))
            .limit(limit)
        ).all()
        return list(rows)

    def save(self, case: VerificationCase) -> None:
        row = self._s.get(VerificationCaseRow, case.id)
        if row is None:
            raise NotFound("no such verification case")
        _fill(row, case)
        self._s.add(row)
        self._s.flush()
