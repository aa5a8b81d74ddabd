"""SQLModel tables of the engine's own database, the record of truth for every request.

Columns ending in ``_enc`` hold AES-256-GCM ciphertext under the request's data key (see
:mod:`dsar.crypto`); nothing else holds personal data. Times are stored in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlmodel import Field, SQLModel

from dsar.domain.errors import IntegrityError


class RequestRow(SQLModel, table=True):
    __tablename__ = "privacy_request"

    id: str = Field(primary_key=True, max_length=32)
    reference: str = Field(unique=True, index=True, max_length=32)
    type: str = Field(max_length=16)
    access_scope: str | None = Field(default=None, max_length=32)
    regime: str = Field(max_length=16)
    country: str = Field(max_length=2)
    subdivision: str | None = Field(default=None, max_length=8)
    channel: str = Field(max_length=8)
    received_at: datetime
    received_tz: str = Field(max_length=64)
    logged_at: datetime
    status: str = Field(index=True, max_length=32)
    on_hold: bool = False
    # The date the response is due now: the statutory date, later the extended one, moved by
    # UK stop-the-clock pauses. ``statutory_due`` keeps the first computed date.
    due: date = Field(index=True)
    statutory_due: date | None = None
    acknowledge_by: date | None = None
    extension_notice_by: date | None = None
    extended_due: date | None = None
    extended: bool = False
    paused_days: int = 0
    clock_stopped: bool = False
    # What the deadline watch looks at: ``due`` while the request is open and its clock runs,
    # NULL otherwise, so a sweep reads only the open requests near their date.
    watch_due: date | None = Field(default=None, index=True)
    # When receipt of the request was confirmed to the subject (the regimes that require it:
    # ``acknowledge_by``), and what the watch looks at for that: ``acknowledge_by`` while no
    # confirmation is recorded and the request is open, NULL otherwise.
    acknowledged_at: datetime | None = None
    ack_watch: date | None = Field(default=None, index=True)
    # When the request reached closed, denied or withdrawn (the retention clock's start), and
    # when its data key was destroyed (crypto-shredding).
    finished_at: datetime | None = None
    shredded_at: datetime | None = None
    linked_to: str | None = Field(default=None, max_length=32)
    flow_run_id: str | None = Field(default=None, max_length=64)
    version: int = 1
    language: str = Field(default="en", max_length=8)
    subject_name_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    subject_emails_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    subject_phone_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    subject_address_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    subject_account_id_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    subject_extra_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    agent_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    corrections_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class RequestKeyRow(SQLModel, table=True):
    """The request's data key, wrapped by the key provider. Deleting it shreds the request."""

    __tablename__ = "request_key"

    request_id: str = Field(primary_key=True, max_length=32)
    key_id: str = Field(max_length=128)
    wrapped_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime


class SubjectLookupRow(SQLModel, table=True):
    """Keyed blind-index tokens of a request's identifiers (lookups without plaintext)."""

    __tablename__ = "subject_lookup"
    __table_args__ = (UniqueConstraint("request_id", "kind", "token"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, max_length=32)
    kind: str = Field(max_length=16)
    token: str = Field(index=True, max_length=64)


class ReferenceCounterRow(SQLModel, table=True):
    __tablename__ = "reference_counter"

    year: int = Field(primary_key=True)
    last: int = 0


class AuditEventRow(SQLModel, table=True):
    """Append-only, hash-chained audit log. ``details_enc`` is sealed under the request key;
    the chain hashes the sealed bytes so it verifies without keys (and after shredding)."""

    __tablename__ = "audit_event"
    # which requests have an event of a kind (legal's queue: the escalated ones)
    __table_args__ = (Index("ix_audit_event_kind_request_id", "kind", "request_id"),)

    seq: int = Field(primary_key=True)
    request_id: str = Field(index=True, max_length=32)
    kind: str = Field(max_length=64)
    at: datetime
    idempotency_key: str = Field(unique=True, max_length=200)
    details_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHeadRow(SQLModel, table=True):
    """One row: the last sequence number and hash. Updating it serialises appends."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(max_length=64)


class ChallengeRow(SQLModel, table=True):
    """A one-time verification code, kept only as a keyed digest."""

    __tablename__ = "verification_challenge"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, max_length=32)
    channel: str = Field(max_length=16)
    code_digest: str = Field(max_length=64)
    created_at: datetime
    expires_at: datetime
    attempts: int = 0
    consumed_at: datetime | None = None


class DecisionRow(SQLModel, table=True):
    """A legal sign-off decision on a step of a request."""

    __tablename__ = "decision"
    __table_args__ = (UniqueConstraint("request_id", "step"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, max_length=32)
    step: str = Field(max_length=64)
    decision: str = Field(max_length=16)
    approver: str = Field(max_length=200)
    note_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    at: datetime


class PlanRow(SQLModel, table=True):
    """What will be done in each system (no personal data: entity names and counts)."""

    __tablename__ = "plan_step"
    __table_args__ = (UniqueConstraint("request_id", "system", "operation"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, max_length=32)
    system: str = Field(max_length=64)
    operation: str = Field(max_length=16)
    matches: int = 0
    detail: str = Field(default="", max_length=2000)


class ReceiptRow(SQLModel, table=True):
    """What was done in one system: counts and the encrypted export's object key, never values."""

    __tablename__ = "receipt"
    __table_args__ = (UniqueConstraint("request_id", "system", "operation"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, max_length=32)
    system: str = Field(max_length=64)
    operation: str = Field(max_length=16)
    records: int = 0
    object_key: str | None = Field(default=None, max_length=300)
    at: datetime


class LetterRow(SQLModel, table=True):
    """A letter sent for a request; one per (request, kind) so a re-run never sends twice."""

    __tablename__ = "letter"
    __table_args__ = (UniqueConstraint("request_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, max_length=32)
    kind: str = Field(max_length=32)
    template: str = Field(max_length=200)
    message_id: str = Field(max_length=200)
    at: datetime
    version: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=8)


class TemplateApprovalRow(SQLModel, table=True):
    """Legal's approval of one version of one template file (migration letter_templates)."""

    __tablename__ = "template_approval"
    __table_args__ = (UniqueConstraint("path", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(index=True, max_length=200)
    version: str = Field(max_length=64)
    content: str = Field(sa_column=Column(Text, nullable=False))
    approver: str = Field(max_length=64)
    account_id: int
    approved_at: datetime
    totp_step: int = Field(sa_column=Column(BigInteger, nullable=False))


class ClockPauseRow(SQLModel, table=True):
    """A stop-the-clock pause: the team asked the subject for ID or clarification on
    ``asked_on``; the answer came on ``answered_on`` (NULL: still waiting)."""

    __tablename__ = "clock_pause"

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(index=True, max_length=32)
    asked_on: date
    answered_on: date | None = None
    reason_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    at: datetime


class AuditCheckpointRow(SQLModel, table=True):
    """A signed tree head: the RFC 9162 Merkle root and the hash-chain head over the first
    ``tree_size`` audit events, signed with the engine's Ed25519 key."""

    __tablename__ = "audit_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    tree_size: int = Field(index=True)
    root_hash: str = Field(max_length=64)
    chain_head: str = Field(max_length=64)
    signed_at: datetime
    key_id: str = Field(max_length=80)
    statement: str = Field(max_length=2000)
    signature: str = Field(max_length=200)
    archived_as: str | None = Field(default=None, max_length=300)


def register_all() -> None:
    """Import every module that declares a table, so ``SQLModel.metadata`` holds the whole schema
    (alembic's environment, the test comparing the models with the migrations). The tables of
    staff accounts, alerts, access packages and the mail ledger live with their repositories and
    are imported where those are used: a command that reads a request does not build them
    (issue 13, item 8)."""
    from dsar.persistence import accounts, alerts, mail_ledger, packages, verification  # noqa: F401


def as_utc(at: datetime) -> datetime:
    """A stored time as read back: SQLite (and ``timestamp`` columns) hand back naive values,
    and every time is stored in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def as_utc_or_none(at: datetime | None) -> datetime | None:
    return None if at is None else as_utc(at)


@contextmanager
def refused_if_exists(what: str) -> Iterator[None]:
    """A row a unique constraint refuses (a second decision for a step, a second letter of a
    kind, ...) as the domain's :class:`IntegrityError`, naming ``what`` (ids and kinds, never
    values); the transaction is then unusable and rolls back when its unit of work ends."""
    try:
        yield
    except SqlIntegrityError:
        raise IntegrityError(f"{what} exists already") from None
