"""The ports the services depend on, one Protocol per area, with in-memory implementations
shipped beside them in :mod:`dsar.services.memory` (as httpx ships ``MockTransport`` beside
``BaseTransport``). The SQL implementation lives in :mod:`dsar.persistence`; both pass the
same contract suite (tests/contract).

A :class:`UnitOfWork` is one transaction over every repository: ``with uow_factory() as uow:
...; uow.commit()``. Leaving the block without ``commit`` rolls back, so a crash halfway writes
nothing. Repositories exchange domain values (:mod:`dsar.domain`), never rows; personal data is
sealed field by field under the request's own data key on the way in and opened on the way
out, inside the implementation.

Adapters for the outside world (mail, text messages, object store, notifier, checkpoint
archive, letter renderer) are ports too; their adapters live in ``letters/``, ``storage/``, ``notify/``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from dsar.audit.chain import ChainedEvent
from dsar.domain.accounts import ApiToken, Role, StaffAccount, TokenScope
from dsar.domain.alerts import Alert, NewAlert, WatchCandidate, WatchColumn
from dsar.domain.deadlines import Deadline, PauseRecord
from dsar.domain.decisions import Decision
from dsar.domain.events import AuditEntry, AuditEvent, CheckpointRecord
from dsar.domain.letters import SentLetter, TemplateApproval
from dsar.domain.lockout import CodeFailures
from dsar.domain.packages import AccessPackage
from dsar.domain.plan import PlanStep, Receipt
from dsar.domain.regimes import RequestType
from dsar.domain.request import PrivacyRequest, Status
from dsar.domain.verification import Challenge
from dsar.domain.verification_case import VerificationCase

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str = "application/json"


@dataclass(frozen=True)
class OutgoingMail:
    """A message to send. ``message_id`` is deterministic per request and purpose, so sending
    the same message twice is a no-op."""

    message_id: str
    to: str
    sender: str
    subject: str
    body: str
    attachments: Sequence[Attachment] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    html: str = ""  # the HTML alternative of ``body`` (a letter's page), when there is one

    def __repr__(self) -> str:
        return f"OutgoingMail({self.message_id})"


class Mailer(ABC):
    @abstractmethod
    def send(self, mail: OutgoingMail) -> bool:
        """Send once; return False when this message id was already sent."""


@dataclass(frozen=True)
class ReceivedNotice:
    """A message read from the queue of the mail service's bounce notices."""

    handle: str  # what deletes it from the queue
    message_id: str  # the queue's id of it
    body: str
    # "ses": a JSON notification of AWS SES; "report": a mail an SMTP server sent back (RFC 3464
    # delivery status, RFC 5965 complaint), its bytes decoded as UTF-8 with surrogateescape;
    # "sns-sms": an entry of SNS's log of text messages it could not deliver
    format: str = "ses"


class BounceSource(ABC):
    """Where the mail service's bounce and complaint notices wait (an SQS queue, a mailbox).
    ``delete`` takes a settled notice out of what ``receive`` returns."""

    @abstractmethod
    def receive(self, max_messages: int = 10) -> list[ReceivedNotice]: ...

    @abstractmethod
    def delete(self, handle: str) -> None: ...


class MailLedger(Protocol):
    """Every message a transport accepted, by message id, kept outside any request's unit of
    work (a send cannot be rolled back): a re-run never sends a message twice."""

    def sent(self, message_id: str) -> bool: ...

    def record(self, message_id: str, transport: str, provider_id: str | None, at: datetime) -> None:
        """Record one accepted message (a second record of the same id changes nothing)."""


@dataclass(frozen=True)
class TextMessage:
    """A text message (SMS) to send. ``to`` is one number in E.164 (``+4930...``); ``message_id``
    is deterministic per request and purpose, like a letter's, so a second send is a no-op.
    Personal data: its repr names the id only."""

    message_id: str
    to: str
    body: str

    def __repr__(self) -> str:
        return f"TextMessage({self.message_id})"


class TextMessenger(ABC):
    """Sends text messages (the verification link and code to a subject whose only contact on
    file is a phone). Adapters: the outbox folder and AWS SNS (``dsar.letters.sms``)."""

    @abstractmethod
    def send(self, message: TextMessage) -> bool:
        """Send once; return False when this message id was already sent."""


class ObjectStore(ABC):
    """Where exports are kept (encrypted by the caller)."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...


@dataclass(frozen=True)
class Notice:
    """A message to the privacy team (deadline alerts). References and dates only: never
    personal data, since it leaves the engine for chat tools and webhooks."""

    title: str
    body: str
    urgent: bool = False


class NotificationFailed(Exception):
    """The notice did not reach (all of) its destinations; worth trying again later."""


class Notifier(ABC):
    @abstractmethod
    def notify(self, notice: Notice) -> None:
        """Deliver the notice or raise :class:`NotificationFailed`."""


class CheckpointArchive(ABC):
    """Where signed checkpoints are also written so history cannot be rewritten (write-once)."""

    @abstractmethod
    def put(self, name: str, document: bytes) -> str:
        """Store the document; return where it went (e.g. ``s3://bucket/key?versionId=...``)."""


@dataclass(frozen=True)
class WitnessedCheckpoint:
    tree_size: int
    root_hash: str
    signed_at: str
    key_id: str


class CheckpointWitness(ABC):
    """A record of every signed checkpoint kept outside the engine's database (append-only),
    so that a log rewritten or truncated together with its checkpoint table is still caught."""

    @abstractmethod
    def latest(self) -> WitnessedCheckpoint | None:
        """The last checkpoint witnessed (raises IntegrityError when the record is damaged)."""

    @abstractmethod
    def record(self, checkpoint: CheckpointRecord) -> None:
        """Append a newly signed checkpoint (durably, before the caller commits)."""


@dataclass(frozen=True)
class RenderedLetter:
    template: str
    subject: str
    body: str  # plain text, reflowed
    html: str = ""  # the HTML page (mail's HTML part; the PDF is made from it)
    version: str = ""  # SHA-256 of the template file
    language: str = "en"  # the language the letter is in (after any fallback)
    # Every file the letter was made of, with its version: each must be approved to send it.
    sources: tuple[tuple[str, str], ...] = ()
    # SHA-256 of the PDF that was mailed (kept sealed for the evidence bundle); "" when none was
    pdf_sha256: str = ""


class LetterRenderer(Protocol):
    """Renders a letter kind for a regime from the organisation's templates."""

    def render(self, kind: str, regime: str, context: Mapping[str, Any], language: str = "en") -> RenderedLetter: ...

    def render_text(self, kind: str, regime: str, context: Mapping[str, Any], language: str = "en") -> RenderedLetter:
        """A plain-text message (an SMS) of a text kind: ``body`` only, no subject, no HTML, no
        PDF; ``sources`` are the files it was made of, approved like a letter's."""
        ...

    def pdf(self, letter: RenderedLetter) -> bytes:
        """The letter as a PDF on the organisation's letterhead."""
        ...


# --- repositories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestQuery:
    """Requests soonest due first (then by reference), filtered; ``after`` continues a list
    after the (due, reference) of its last line (keyset pagination)."""

    status: Status | None = None
    due_before: date | None = None
    limit: int = 200
    regime: str | None = None
    after: tuple[date, str] | None = None
    request_type: RequestType | None = None
    reference: str | None = None  # exactly this reference
    reference_like: str | None = None  # a SQL LIKE pattern of references (dsar.domain.request.reference_search)
    offset: int = 0  # skip this many (pages of the queue)


class RequestRepository(Protocol):
    """Requests: identity (sealed), type, regime, status and hold."""

    def next_reference_number(self, year: int) -> int:
        """The next number of the year's sequence; concurrent callers never get the same one."""
        ...

    def add(self, request: PrivacyRequest, deadline: Deadline, at: datetime) -> None:
        """Store a new request with its dates, under a fresh data key."""
        ...

    def get(self, request_id: str) -> PrivacyRequest:
        """The request with its personal data opened (``[shredded]`` once its key is gone).
        Raises NotFound."""
        ...

    def facts(self, request_id: str) -> PrivacyRequest:
        """The request without its personal data: nothing is decrypted (status, reference,
        type, regime, dates). Raises NotFound."""
        ...

    def is_shredded(self, request_id: str) -> bool: ...

    def id_for_reference(self, reference: str) -> str:
        """Raises NotFound."""
        ...

    def save_state(self, request: PrivacyRequest, at: datetime) -> None:
        """Persist status and hold (the only mutable parts); ``at`` is when it changed."""
        ...

    def set_flow_run(self, request_id: str, flow_run_id: str) -> None: ...

    def flow_run_id(self, request_id: str) -> str | None: ...

    def query(self, query: RequestQuery) -> list[PrivacyRequest]:
        """Requests without personal data (as :meth:`facts`), soonest due first."""
        ...

    def record_verified_contact(self, request_id: str, contact: str) -> None:
        """Remember the contact a request was verified with (the address its code went to), as a
        keyed blind-index token in SQL, never plaintext. Recording it again changes nothing."""
        ...

    def verified_with(
        self, contact: str, request_type: RequestType, regime: str, received_from: datetime, received_to: datetime
    ) -> list[PrivacyRequest]:
        """Requests (without their personal data) of this type and regime, received between the
        two instants (inclusive), verified with ``contact``, not themselves linked to another and
        in an :data:`~dsar.domain.request.ANSWERING` status; earliest received first."""
        ...

    def link(self, request_id: str, to: str) -> None:
        """Record that the request is a duplicate of request ``to`` (its ``linked_to``)."""
        ...

    def references(self, request_ids: set[str]) -> dict[str, str]: ...

    def shredded(self, request_ids: set[str]) -> set[str]: ...

    def count(self) -> int: ...

    def shred_candidates(self, finished_before: datetime) -> list[tuple[str, str]]:
        """(id, reference) of finished requests past retention whose key still exists."""
        ...

    def shred(self, request_id: str, at: datetime) -> None:
        """Destroy the request's data key: its sealed fields and events are unreadable forever."""
        ...


class DeadlineRepository(Protocol):
    """A request's stored dates, its stop-the-clock pauses and its receipt confirmation."""

    def get(self, request_id: str) -> Deadline: ...

    def save(self, request_id: str, deadline: Deadline) -> None:
        """Store recomputed dates (after an extension or a pause); the statutory date stays."""
        ...

    def mark_acknowledged(self, request_id: str, at: datetime) -> bool:
        """Record the first confirmation of receipt; False if one was already recorded."""
        ...

    def add_pause(self, request_id: str, asked_on: date, reason: str | None, at: datetime) -> int: ...

    def answer_pause(self, pause_id: int, answered_on: date) -> None: ...

    def pauses(self, request_id: str) -> list[PauseRecord]: ...


class AuditLog(Protocol):
    """The append-only, hash-chained log. Payloads are sealed under the request's key; staff
    events (``dsar.domain.events.STAFF_STREAM``) under the staff stream's key, created on first use."""

    def append(self, events: Sequence[AuditEvent]) -> int:
        """Append in order, skipping events whose idempotency key the log already holds (and
        repeats within the batch). Returns how many were appended."""
        ...

    def events(self, request_id: str) -> list[AuditEntry]:
        """The request's events in order, payloads opened (``{"shredded": true}`` once shredded)."""
        ...

    def open_details(self, event: ChainedEvent) -> dict[str, Any]: ...

    def request_ids_with(self, kind: str) -> list[str]:
        """The requests with at least one event of ``kind`` (read from the index on kinds,
        without opening a payload): e.g. the escalated ones, for legal's queue."""
        ...

    def head(self) -> tuple[int, str]:
        """(size, hash) of the chain's head."""
        ...

    def iter_chain(self, first_seq: int = 1, last_seq: int | None = None) -> Iterator[ChainedEvent]: ...

    def event_seqs(self, request_ids: Sequence[str] | None, since: datetime | None, until: datetime | None, upto: int) -> list[int]: ...

    def add_checkpoint(self, checkpoint: CheckpointRecord) -> None: ...

    def checkpoints(self) -> list[CheckpointRecord]:
        """Every signed checkpoint, oldest first."""
        ...

    def latest_checkpoint(self) -> CheckpointRecord | None: ...


class ChallengeRepository(Protocol):
    """One-time codes, stored as keyed digests only."""

    def add(self, request_id: str, channel: str, code_digest: str, created_at: datetime, expires_at: datetime) -> Challenge: ...

    def latest(self, request_id: str) -> Challenge | None: ...

    def count(self, request_id: str) -> int:
        """How many challenges the request was given (the next one's ordinal is this + 1)."""
        ...

    def record_attempt(self, challenge_id: int, *, consumed_at: datetime | None) -> None: ...

    def delete_for(self, request_id: str) -> int:
        """Delete the request's codes (the request ended); how many there were."""
        ...

    def of_ended_requests(self, limit: int) -> list[str]:
        """Up to ``limit`` ended requests (a final status) that still hold codes here."""
        ...


class VerificationCaseRepository(Protocol):
    """Identity verification cases, one per request (dsar.domain.verification_case)."""

    def add(self, case: VerificationCase) -> VerificationCase: ...

    def get(self, request_id: str) -> VerificationCase | None: ...

    def by_link(self, digest: str) -> VerificationCase | None: ...

    def by_session(self, digest: str) -> VerificationCase | None: ...

    def open_expiring(self, before: datetime) -> list[VerificationCase]:
        """Open cases whose link expires at or before ``before`` (the watch's reminders and
        expiries), soonest first."""
        ...

    def of_ended_requests(self, limit: int) -> list[str]:
        """Up to ``limit`` ended requests (a final status) whose case still holds its
        verification data (not yet ``closed``): those that ended before that was deleted."""
        ...

    def save(self, case: VerificationCase) -> None: ...


class DecisionRepository(Protocol):
    """Decisions by people (sign-off, extension, manual steps); notes sealed at rest."""

    def record(self, request_id: str, step: str, decision: str, approver: str, note: str | None, at: datetime) -> None: ...

    def get(self, request_id: str, step: str) -> Decision | None: ...


class PlanRepository(Protocol):
    """The approved plan of a request and the receipts of what was done, per system."""

    def save(self, request_id: str, steps: Sequence[PlanStep]) -> None: ...

    def revise(self, request_id: str, steps: Sequence[PlanStep]) -> None:
        """Replace the detail of steps already saved (same system and operation): legal's
        exemptions at approval. NotFound for a step the plan does not have."""
        ...

    def get(self, request_id: str) -> list[PlanStep]:
        """The steps, ordered by system."""
        ...

    def add_receipt(self, request_id: str, receipt: Receipt) -> None: ...

    def receipts(self, request_id: str) -> list[Receipt]: ...


class LetterRepository(Protocol):
    def add(self, request_id: str, letter: SentLetter) -> None: ...

    def get(self, request_id: str, kind: str) -> SentLetter | None: ...


class PackageRepository(Protocol):
    """Access packages (dsar.domain.packages): one live package per request; links and codes
    as keyed digests only."""

    def add(self, package: AccessPackage) -> None: ...

    def for_request(self, request_id: str) -> AccessPackage | None:
        """The request's package not deleted yet, if any."""
        ...

    def last_for_request(self, request_id: str) -> AccessPackage | None:
        """The request's newest package, deleted or not (what staff are shown)."""
        ...

    def by_link(self, link_digest: str) -> AccessPackage | None: ...

    def save(self, package: AccessPackage) -> None:
        """Store the mutable parts (link, code, attempts, starts, link use, deletion) whatever
        the row holds now, moving it to its next revision."""
        ...

    def swap(self, package: AccessPackage) -> bool:
        """Compare-and-set: store the mutable parts only if the row is still at
        ``package.revision`` (nobody saved it since it was read), moving it to the next
        revision. False (nothing stored) when another transaction got there first: the
        database row is the arbiter between concurrent downloads, codes and new links."""
        ...

    def to_purge(self, expired_before: datetime) -> list[AccessPackage]:
        """Packages not deleted whose download finished, or whose link expired before
        ``expired_before``."""
        ...


class TemplateApprovalRepository(Protocol):
    """Legal's approvals of template versions (dsar.services.templates)."""

    def add(self, approval: TemplateApproval) -> None:
        """Record one; a second approval of the same path and version raises IntegrityError."""

    def approved(self, path: str, version: str) -> TemplateApproval | None: ...

    def latest(self, path: str) -> TemplateApproval | None: ...

    def all_latest(self) -> dict[str, TemplateApproval]:
        """The latest approval of every path approved at least once."""
        ...


class AlertRepository(Protocol):
    """The deadline watch's alerts: one per request, date and kind."""

    def watch_candidates(self, horizon: date, column: WatchColumn = "watch_due") -> list[WatchCandidate]: ...

    def alerted(self, horizon: date, column: WatchColumn = "watch_due") -> set[tuple[str, date, str]]:
        """(request id, date, kind) of the alerts already raised for the candidates' current dates."""
        ...

    def add(self, alerts: Sequence[NewAlert], at: datetime) -> None: ...

    def undelivered(self, max_attempts: int) -> list[Alert]: ...

    def record_delivery(self, alert_ids: Sequence[int], at: datetime, error: str | None) -> None: ...

    def supersede(self, alert_ids: Sequence[int], at: datetime) -> None:
        """These undelivered alerts are covered by a more urgent one raised later: never sent
        (``notify`` false, settled at ``at``), as an alert covered when it was raised."""
        ...

    def recent(self, request_id: str | None = None, limit: int = 500) -> list[Alert]:
        """Alerts raised, newest first."""
        ...


class DataKeys(Protocol):
    """The per-request data keys: sealing what the services store outside the repositories
    (exports in the object store), and re-wrapping under a new master key."""

    def seal(self, request_id: str, plaintext: bytes, aad: str) -> bytes: ...

    def open(self, request_id: str, sealed: bytes, aad: str) -> bytes: ...

    def rewrap(self, limit: int = 1000) -> int:
        """Re-wrap up to ``limit`` data keys not yet under the current master key."""
        ...

    def key_ids(self) -> set[str]: ...


@dataclass(frozen=True)
class PasswordToken:
    """A set-password link's token as stored: its SHA-256 digest only."""

    account_id: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class TotpRecord:
    """A staff account's authenticator: the secret sealed under the staff stream's key, and the
    last time step used (RFC 6238 5.2: a code is accepted once)."""

    sealed_secret: bytes
    last_step: int | None = None
    failures: CodeFailures = CodeFailures()  # wrong codes lately, and a lock-out (dsar.domain.lockout)


class AccountRepository(Protocol):
    """Staff accounts (no subjects' data): names unique whatever their case, password hashes
    (scrypt, parameters kept with each hash) and set-password tokens (digests only)."""

    def add(self, name: str, role: Role, at: datetime) -> StaffAccount:
        """A new active account without a password. Raises IntegrityError when the name is
        taken in any case."""
        ...

    def get(self, account_id: int) -> StaffAccount | None: ...

    def lock(self, account_id: int) -> StaffAccount | None:
        """As :meth:`get`, holding the account's row until the transaction ends (``SELECT ...
        FOR UPDATE``): concurrent sign-ins of one account count their failures one after another."""
        ...

    def find(self, name: str) -> StaffAccount | None:
        """The account of this name, compared case-insensitively."""
        ...

    def all(self) -> list[StaffAccount]:
        """Every account, by name."""
        ...

    def save(self, account: StaffAccount) -> None:
        """Store the mutable parts (role, active, failed logins, lock, last login, training,
        session epoch); name, creation and ``password_set`` are not changed here. Raises NotFound."""
        ...

    def password_hash(self, account_id: int) -> str | None: ...

    def set_password_hash(self, account_id: int, encoded: str) -> None:
        """Raises NotFound."""
        ...

    def add_password_token(self, account_id: int, digest: str, created_at: datetime, expires_at: datetime) -> None:
        """Store a set-password token's digest; the account's earlier tokens stop working."""
        ...

    def password_token(self, digest: str) -> PasswordToken | None: ...

    def use_password_token(self, digest: str, at: datetime) -> None: ...

    def totp(self, account_id: int) -> TotpRecord | None:
        """The account's sealed TOTP secret and the last time step a code of it was used; None
        when none is enrolled."""
        ...

    def set_totp(self, account_id: int, sealed_secret: bytes) -> None:
        """Enrol (or replace) the account's TOTP secret, sealed by the caller; forgets the last
        used step. Raises NotFound."""
        ...

    def use_totp_step(self, account_id: int, step: int) -> None:
        """Record that a code of this time step was used (a code of it or an earlier step is
        refused after). Raises NotFound, or InvalidInput when no secret is enrolled."""
        ...

    def set_totp_failures(self, account_id: int, failures: CodeFailures) -> None:
        """Keep the count of wrong codes and the lock-out (enrolling again clears them).
        Raises NotFound."""
        ...


class TokenRepository(Protocol):
    """API tokens: SHA-256 digests of the secrets and a short non-secret prefix to find them by."""

    def add(
        self, name: str, scopes: frozenset[TokenScope], prefix: str, digest: str, created_at: datetime, created_by: str
    ) -> ApiToken: ...

    def get(self, token_id: int) -> ApiToken | None: ...

    def all(self) -> list[ApiToken]:
        """Every token, oldest first."""
        ...

    def with_prefix(self, prefix: str) -> list[tuple[ApiToken, str]]:
        """(token, digest) of the tokens whose secret starts with ``prefix``."""
        ...

    def revoke(self, token_id: int, at: datetime) -> None:
        """Raises NotFound."""
        ...

    def touch(self, token_id: int, at: datetime) -> None:
        """Record a use (``last_used_at``)."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository."""

    @property
    def requests(self) -> RequestRepository: ...

    @property
    def deadlines(self) -> DeadlineRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def challenges(self) -> ChallengeRepository: ...

    @property
    def cases(self) -> VerificationCaseRepository: ...

    @property
    def decisions(self) -> DecisionRepository: ...

    @property
    def plans(self) -> PlanRepository: ...

    @property
    def letters(self) -> LetterRepository: ...

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def packages(self) -> PackageRepository: ...

    @property
    def keys(self) -> DataKeys: ...

    @property
    def accounts(self) -> AccountRepository: ...

    @property
    def tokens(self) -> TokenRepository: ...

    @property
    def templates(self) -> TemplateApprovalRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None: ...

    def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
