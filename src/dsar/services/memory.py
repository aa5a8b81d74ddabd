"""The in-memory implementation of the repository ports, shipped beside them (as httpx ships
``MockTransport`` beside ``BaseTransport``): service tests run the real services against it
and assert on what it holds afterwards.

:class:`InMemoryDatabase` is the shared state, like a database; :class:`InMemoryUnitOfWork`
is one transaction over it and implements :class:`dsar.services.ports.UnitOfWork` and every
repository Protocol. It behaves as the SQL implementation does (the contract suite in
tests/contract runs both):

* a transaction works on a copy of the state and publishes it on ``commit``; leaving the block
  without ``commit`` discards it. Units of work are serialised (one at a time, as SQLite's
  ``BEGIN IMMEDIATE`` does); a unit of work opened inside another in the same thread whose
  commit would overwrite the inner one's raises :class:`ConcurrentCommit` instead;
* every request gets its own random data key; audit payloads, decision notes and pause reasons
  are sealed under it with real AES-GCM, and the audit log is a real hash chain
  (:mod:`dsar.audit.chain`), so heads, checkpoints and evidence verify as they do on SQL;
* ``facts`` and ``query`` give requests without personal data (the subject's name reads
  ``[not opened]``); ``shred`` destroys the key and the stored personal data: ``get`` returns
  the ``[shredded]`` shell, ``events`` give ``{"shredded": True}`` payloads, ``DataKeys.open`` raises NotFound;
* identifiers for linking duplicates are kept only as keyed blind-index tokens, as in SQL.

Errors: :class:`dsar.domain.errors.NotFound` where the SQL repository raises it;
:class:`dsar.domain.errors.IntegrityError` where a SQL unique constraint would refuse a row
(a second decision for the same step, a second letter of a kind, a second alert for a request,
date and kind, a second plan step or receipt for a system and operation).

No file system, no network, no SQL: standard library, :mod:`dsar.domain`, the hash chain and
the field cipher only.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from dsar.audit.chain import GENESIS, ChainedEvent, associated_data, chain_hash, leaf_bytes
from dsar.crypto import BlindIndex, new_data_key, open_sealed, seal
from dsar.domain.accounts import ApiToken, Role, StaffAccount, TokenScope
from dsar.domain.alerts import Alert, NewAlert, WatchCandidate, WatchColumn
from dsar.domain.deadlines import Deadline, PauseRecord
from dsar.domain.decisions import Decision
from dsar.domain.errors import IntegrityError, InvalidInput, NotFound
from dsar.domain.events import STAFF_STREAM, AuditEntry, AuditEvent, CheckpointRecord
from dsar.domain.letters import SentLetter, TemplateApproval
from dsar.domain.lockout import CodeFailures
from dsar.domain.packages import AccessPackage
from dsar.domain.plan import PlanStep, Receipt, step_from_json, step_to_json
from dsar.domain.regimes import RequestType
from dsar.domain.request import ANSWERING, DEADLINE_STOPPED, PrivacyRequest, SubjectIdentity
from dsar.domain.verification import Challenge
from dsar.domain.verification_case import CaseState, VerificationCase
from dsar.services.package_memory import InMemoryPackages
from dsar.services.ports import PasswordToken, RequestQuery, TextMessage, TextMessenger, TotpRecord, UnitOfWork, UnitOfWorkFactory

__all__ = [
    "NOT_OPENED",
    "SHREDDED",
    "ConcurrentCommit",
    "InMemoryDatabase",
    "InMemoryUnitOfWork",
    "memory_uow_factory",
]

SHREDDED = "[shredded]"  # the subject's name in a request whose key was destroyed
NOT_OPENED = "[not opened]"  # ... and in one read without its personal data (facts, query)
MEMORY_KEY_ID = "memory-1"


class ConcurrentCommit(RuntimeError):
    """Another unit of work committed since this one began (only possible when one is opened
    inside another in the same thread): publishing this one would lose its writes."""


# --- what the database holds (immutable records; containers are copied per transaction) ----


@dataclass(frozen=True)
class _RequestRecord:
    request: PrivacyRequest  # with personal data until shredded, then the shell
    deadline: Deadline  # the stored dates only (no regime/received/start)
    logged_at: datetime
    lookup: frozenset[tuple[str, str]]  # (kind, blind-index token)
    verified_token: str | None = None  # blind-index token of the contact it was verified with
    finished_at: datetime | None = None
    shredded_at: datetime | None = None
    flow_run_id: str | None = None

    @property
    def watch_due(self) -> date | None:
        # The watch follows a request while it is open and its clock runs (repository._rewatch).
        finished = self.request.status in DEADLINE_STOPPED
        return None if finished or self.deadline.clock_stopped else self.deadline.due

    @property
    def ack_watch(self) -> date | None:
        # ... and its receipt confirmation while none is recorded (a paused clock does not excuse it).
        finished = self.request.status in DEADLINE_STOPPED
        return None if finished or self.deadline.acknowledged_at is not None else self.deadline.acknowledge_by

    def watched(self, column: WatchColumn) -> date | None:
        return self.watch_due if column == "watch_due" else self.ack_watch


@dataclass(frozen=True)
class _KeyRecord:
    key: bytes
    key_id: str


@dataclass(frozen=True)
class _PauseRecord:
    request_id: str
    asked_on: date
    answered_on: date | None
    reason_enc: bytes | None
    at: datetime


@dataclass(frozen=True)
class _DecisionRecord:
    step: str
    decision: str
    approver: str
    note_enc: bytes | None
    at: datetime


@dataclass(frozen=True)
class _PlanRecord:
    system: str
    operation: str
    matches: int
    detail: str  # the stored JSON form (step_to_json), so steps round-trip as on SQL


@dataclass
class _State:
    requests: dict[str, _RequestRecord] = field(default_factory=dict)
    by_reference: dict[str, str] = field(default_factory=dict)
    keys: dict[str, _KeyRecord] = field(default_factory=dict)
    counters: dict[int, int] = field(default_factory=dict)
    pauses: dict[int, _PauseRecord] = field(default_factory=dict)
    chain: list[ChainedEvent] = field(default_factory=list)
    chain_keys: set[str] = field(default_factory=set)
    by_request: dict[str, tuple[int, ...]] = field(default_factory=dict)
    head: tuple[int, str] = (0, GENESIS)
    checkpoints: list[CheckpointRecord] = field(default_factory=list)
    challenges: dict[int, tuple[str, Challenge]] = field(default_factory=dict)
    cases: dict[str, VerificationCase] = field(default_factory=dict)  # request id -> its verification case
    decisions: dict[tuple[str, str], _DecisionRecord] = field(default_factory=dict)
    plans: dict[str, tuple[_PlanRecord, ...]] = field(default_factory=dict)
    receipts: dict[str, tuple[Receipt, ...]] = field(default_factory=dict)
    letters: dict[tuple[str, str], SentLetter] = field(default_factory=dict)
    alerts: dict[int, Alert] = field(default_factory=dict)
    alert_keys: set[tuple[str, date, str]] = field(default_factory=set)
    ids: dict[str, int] = field(default_factory=dict)  # sequences: pause, challenge, alert, account, token
    accounts: dict[int, StaffAccount] = field(default_factory=dict)
    account_names: dict[str, int] = field(default_factory=dict)  # casefolded name -> id
    passwords: dict[int, str] = field(default_factory=dict)
    password_tokens: dict[str, PasswordToken] = field(default_factory=dict)  # digest -> token
    api_tokens: dict[int, tuple[ApiToken, str]] = field(default_factory=dict)  # id -> (token, digest)
    totps: dict[int, TotpRecord] = field(default_factory=dict)  # account id -> sealed secret, last step
    packages: dict[str, AccessPackage] = field(default_factory=dict)  # id -> access package
    approvals: tuple[TemplateApproval, ...] = ()  # in the order given

    def copy(self) -> _State:
        return _State(
            requests=dict(self.requests),
            by_reference=dict(self.by_reference),
            keys=dict(self.keys),
            counters=dict(self.counters),
            pauses=dict(self.pauses),
            chain=list(self.chain),
            chain_keys=set(self.chain_keys),
            by_request=dict(self.by_request),
            head=self.head,
            checkpoints=list(self.checkpoints),
            challenges=dict(self.challenges),
            cases=dict(self.cases),
            decisions=dict(self.decisions),
            plans=dict(self.plans),
            receipts=dict(self.receipts),
            letters=dict(self.letters),
            alerts=dict(self.alerts),
            alert_keys=set(self.alert_keys),
            ids=dict(self.ids),
            accounts=dict(self.accounts),
            account_names=dict(self.account_names),
            passwords=dict(self.passwords),
            password_tokens=dict(self.password_tokens),
            api_tokens=dict(self.api_tokens),
            totps=dict(self.totps),
            packages=dict(self.packages),
            approvals=self.approvals,
        )

    def next_id(self, sequence: str) -> int:
        n = self.ids.get(sequence, 0) + 1
        self.ids[sequence] = n
        return n


class InMemoryDatabase:
    """The shared state of every :class:`InMemoryUnitOfWork` made over it.

    ``key_id`` names the master key data keys are "wrapped" under; :meth:`rotate_master_key`
    changes it, so that :meth:`DataKeys.rewrap` has something to do. ``blind_index_key`` keys
    the lookup tokens (random per database unless given).
    """

    def __init__(self, *, key_id: str = MEMORY_KEY_ID, blind_index_key: bytes | None = None) -> None:
        self.key_id = key_id
        self.index = BlindIndex(blind_index_key or secrets.token_bytes(32))
        self._state = _State()
        self._version = 0
        self._lock = threading.RLock()

    def rotate_master_key(self, key_id: str) -> None:
        """Make ``key_id`` the current master key (existing data keys stay under the old one
        until re-wrapped)."""
        self.key_id = key_id

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    # What tests may read without a unit of work: committed state only.
    @property
    def committed_requests(self) -> int:
        return len(self._state.requests)

    @property
    def committed_events(self) -> int:
        return len(self._state.chain)


class InMemoryUnitOfWork:
    """One transaction over an :class:`InMemoryDatabase` (see the module docstring)."""

    def __init__(self, db: InMemoryDatabase) -> None:
        self._db = db
        self._working: _State | None = None
        self._base_version = 0
        self._requests = InMemoryRequests(self)
        self._deadlines = InMemoryDeadlines(self)
        self._audit = InMemoryAuditLog(self)
        self._challenges = InMemoryChallenges(self)
        self._cases = InMemoryVerificationCases(self)
        self._decisions = InMemoryDecisions(self)
        self._plans = InMemoryPlans(self)
        self._letters = InMemoryLetters(self)
        self._alerts = InMemoryAlerts(self)
        self._keys = InMemoryDataKeys(self)
        self._accounts = InMemoryAccounts(self)
        self._tokens = InMemoryTokens(self)
        self._packages = InMemoryPackages(self)
        self._templates = InMemoryTemplateApprovals(self)

    @classmethod
    def factory(cls, db: InMemoryDatabase) -> UnitOfWorkFactory:
        """A :data:`UnitOfWorkFactory` over ``db`` (what ``ServiceContext.uow`` takes)."""

        def make() -> UnitOfWork:
            return cls(db)

        return make

    @property
    def db(self) -> InMemoryDatabase:
        return self._db

    @property
    def state(self) -> _State:
        if self._working is None:
            raise RuntimeError("use the unit of work inside a with block")
        return self._working

    # --- the ports --------------------------------------------------------------------------
    @property
    def requests(self) -> InMemoryRequests:
        return self._requests

    @property
    def deadlines(self) -> InMemoryDeadlines:
        return self._deadlines

    @property
    def audit(self) -> InMemoryAuditLog:
        return self._audit

    @property
    def challenges(self) -> InMemoryChallenges:
        return self._challenges

    @property
    def cases(self) -> InMemoryVerificationCases:
        return self._cases

    @property
    def decisions(self) -> InMemoryDecisions:
        return self._decisions

    @property
    def plans(self) -> InMemoryPlans:
        return self._plans

    @property
    def letters(self) -> InMemoryLetters:
        return self._letters

    @property
    def templates(self) -> InMemoryTemplateApprovals:
        return self._templates

    @property
    def alerts(self) -> InMemoryAlerts:
        return self._alerts

    @property
    def keys(self) -> InMemoryDataKeys:
        return self._keys

    @property
    def accounts(self) -> InMemoryAccounts:
        return self._accounts

    @property
    def tokens(self) -> InMemoryTokens:
        return self._tokens

    @property
    def packages(self) -> InMemoryPackages:
        return self._packages

    def __enter__(self) -> Self:
        if self._working is not None:
            raise RuntimeError("this unit of work is already in use")
        self._db._lock.acquire()
        self._working = self._db._state.copy()
        self._base_version = self._db._version
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._working is None:
            return
        self._working = None  # what was not committed is discarded
        self._db._lock.release()

    def commit(self) -> None:
        state = self.state
        if self._db._version != self._base_version:
            raise ConcurrentCommit("another unit of work committed since this one began")
        self._db._state = state
        self._db._version += 1
        self._base_version = self._db._version
        self._working = state.copy()  # work after a commit is a new transaction


class MemoryTextMessenger(TextMessenger):
    """Text messages kept in memory by message id (a second send of an id is dropped, as the
    outbox folder does): the service context's default, for tests and embedded use."""

    def __init__(self) -> None:
        self.sent: dict[str, TextMessage] = {}

    def send(self, message: TextMessage) -> bool:
        if message.message_id in self.sent:
            return False
        self.sent[message.message_id] = message
        return True


def memory_uow_factory(db: InMemoryDatabase | None = None) -> UnitOfWorkFactory:
    """A :data:`UnitOfWorkFactory` over ``db`` (a fresh database when None)."""
    return InMemoryUnitOfWork.factory(db if db is not None else InMemoryDatabase())


# --- helpers shared by the repositories -----------------------------------------------------


class _Area:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    @property
    def _s(self) -> _State:
        return self._uow.state

    def _record(self, request_id: str) -> _RequestRecord:
        rec = self._s.requests.get(request_id)
        if rec is None:
            raise NotFound(f"no request with id {request_id}")
        return rec

    def _data_key(self, request_id: str) -> bytes:
        k = self._s.keys.get(request_id)
        if k is None:
            raise NotFound(f"no data key for request {request_id} (shredded or unknown)")
        return k.key

    def _seal(self, request_id: str, plaintext: bytes, aad: str) -> bytes:
        return seal(self._data_key(request_id), plaintext, aad.encode())

    def _open(self, request_id: str, sealed: bytes, aad: str) -> bytes:
        return open_sealed(self._data_key(request_id), sealed, aad.encode())


def _shell(rec: _RequestRecord) -> PrivacyRequest:
    """The request without its personal data: ``[shredded]`` as the subject's name once the key
    is gone, ``[not opened]`` while it exists (as SQL does)."""
    r = rec.request
    return PrivacyRequest(
        id=r.id,
        reference=r.reference,
        type=r.type,
        regime=r.regime,
        country=r.country,
        subdivision=r.subdivision,
        channel=r.channel,
        received_at=r.received_at,
        subject=SubjectIdentity(name=SHREDDED if rec.shredded_at is not None else NOT_OPENED),
        due=rec.deadline.due,
        access_scope=r.access_scope,
        agent=None,
        status=r.status,
        on_hold=r.on_hold,
        linked_to=r.linked_to,
        logged_at=rec.logged_at,
    )


def _opened(rec: _RequestRecord) -> PrivacyRequest:
    if rec.shredded_at is not None:
        return _shell(rec)
    return replace(rec.request, due=rec.deadline.due, logged_at=rec.logged_at, extra={})


def _lookup_tokens(index: BlindIndex, subject: SubjectIdentity) -> frozenset[tuple[str, str]]:
    pairs = {("email", index.token("email", e)) for e in subject.emails}
    if subject.account_id:
        pairs.add(("account_id", index.token("account_id", subject.account_id)))
    return frozenset(pairs)


_T = TypeVar("_T")


def _by_id(items: dict[int, _T], pick: Callable[[_T], bool]) -> list[tuple[int, _T]]:
    return sorted(((i, v) for i, v in items.items() if pick(v)), key=lambda iv: iv[0])


# --- requests -------------------------------------------------------------------------------


class InMemoryRequests(_Area):
    def next_reference_number(self, year: int) -> int:
        n = self._s.counters.get(year, 0) + 1
        self._s.counters[year] = n
        return n

    def add(self, request: PrivacyRequest, deadline: Deadline, at: datetime) -> None:
        s = self._s
        if request.id in s.requests or request.reference in s.by_reference:
            raise IntegrityError(f"request {request.reference} exists already")
        s.keys[request.id] = _KeyRecord(new_data_key(), self._uow.db.key_id)
        # As SQL stores them: the dates in force at intake, the statutory date being ``due``.
        stored = Deadline(
            deadline.due,
            deadline.acknowledge_by,
            deadline.extension_notice_by,
            deadline.extended_due,
            deadline.due,
        )
        s.requests[request.id] = _RequestRecord(
            request=replace(request, due=deadline.due, extra={}),
            deadline=stored,
            logged_at=request.logged_at or at,
            lookup=_lookup_tokens(self._uow.db.index, request.subject),
        )
        s.by_reference[request.reference] = request.id

    def get(self, request_id: str) -> PrivacyRequest:
        return _opened(self._record(request_id))

    def facts(self, request_id: str) -> PrivacyRequest:
        return _shell(self._record(request_id))

    def is_shredded(self, request_id: str) -> bool:
        return self._record(request_id).shredded_at is not None

    def id_for_reference(self, reference: str) -> str:
        rid = self._s.by_reference.get(reference)
        if rid is None:
            raise NotFound(f"no request {reference}")
        return rid

    def save_state(self, request: PrivacyRequest, at: datetime) -> None:
        rec = self._record(request.id)
        stored = replace(rec.request, status=request.status, on_hold=request.on_hold)
        finished_at = rec.finished_at
        if request.status in DEADLINE_STOPPED and finished_at is None:
            finished_at = at  # the retention period starts when the request is finished
        self._s.requests[request.id] = replace(rec, request=stored, finished_at=finished_at)

    def set_flow_run(self, request_id: str, flow_run_id: str) -> None:
        rec = self._record(request_id)
        self._s.requests[request_id] = replace(rec, flow_run_id=flow_run_id)

    def flow_run_id(self, request_id: str) -> str | None:
        return self._record(request_id).flow_run_id

    def query(self, query: RequestQuery) -> list[PrivacyRequest]:
        recs = [
            rec
            for rec in self._s.requests.values()
            if (query.status is None or rec.request.status is query.status)
            and (query.due_before is None or rec.deadline.due < query.due_before)
            and (query.regime is None or rec.request.regime == query.regime)
            and (query.after is None or (rec.deadline.due, rec.request.reference) > query.after)
            and (query.request_type is None or rec.request.type is query.request_type)
            and (query.reference is None or rec.request.reference == query.reference)
        ]
        recs.sort(key=lambda rec: (rec.deadline.due, rec.request.reference))
        start = max(query.offset, 0)
        return [_shell(rec) for rec in recs[start : start + max(query.limit, 0)]]

    def record_verified_contact(self, request_id: str, contact: str) -> None:
        rec = self._record(request_id)
        self._s.requests[request_id] = replace(rec, verified_token=self._uow.db.index.token("email", contact))

    def verified_with(
        self, contact: str, request_type: RequestType, regime: str, received_from: datetime, received_to: datetime
    ) -> list[PrivacyRequest]:
        token = self._uow.db.index.token("email", contact)
        found = [
            rec
            for rec in self._s.requests.values()
            if rec.verified_token == token
            and rec.request.linked_to is None
            and rec.request.status in ANSWERING
            and rec.request.type is request_type
            and rec.request.regime == regime
            and received_from <= rec.request.received_at <= received_to
        ]
        found.sort(key=lambda rec: (rec.request.received_at, rec.request.reference))
        return [_shell(rec) for rec in found]

    def link(self, request_id: str, to: str) -> None:
        rec = self._record(request_id)
        self._record(to)  # NotFound, as a foreign key would refuse it
        self._s.requests[request_id] = replace(rec, request=replace(rec.request, linked_to=to))

    def references(self, request_ids: set[str]) -> dict[str, str]:
        reqs = self._s.requests
        return {i: reqs[i].request.reference for i in request_ids if i in reqs}

    def shredded(self, request_ids: set[str]) -> set[str]:
        reqs = self._s.requests
        return {i for i in request_ids if i in reqs and reqs[i].shredded_at is not None}

    def count(self) -> int:
        return len(self._s.requests)

    def shred_candidates(self, finished_before: datetime) -> list[tuple[str, str]]:
        due = [
            rec
            for rec in self._s.requests.values()
            if rec.finished_at is not None and rec.finished_at < finished_before and rec.shredded_at is None
        ]
        due.sort(key=lambda rec: rec.finished_at or finished_before)
        return [(rec.request.id, rec.request.reference) for rec in due]

    def shred(self, request_id: str, at: datetime) -> None:
        rec = self._record(request_id)
        self._s.keys.pop(request_id, None)
        # The personal data goes with the key: only the shell is kept.
        rec = replace(rec, shredded_at=at)
        self._s.requests[request_id] = replace(rec, request=_shell(rec))


# --- deadlines ------------------------------------------------------------------------------


class InMemoryDeadlines(_Area):
    def get(self, request_id: str) -> Deadline:
        return self._record(request_id).deadline

    def save(self, request_id: str, deadline: Deadline) -> None:
        rec = self._record(request_id)
        d = deadline
        stored = replace(
            rec.deadline,
            due=d.due,
            acknowledge_by=d.acknowledge_by,
            extension_notice_by=d.extension_notice_by,
            extended_due=d.extended_due,
            extended=d.extended,
            paused_days=d.paused_days,
            clock_stopped=d.clock_stopped,
        )
        self._s.requests[request_id] = replace(rec, deadline=stored)

    def mark_acknowledged(self, request_id: str, at: datetime) -> bool:
        rec = self._record(request_id)
        if rec.deadline.acknowledged_at is not None:
            return False
        self._s.requests[request_id] = replace(rec, deadline=replace(rec.deadline, acknowledged_at=at))
        return True

    def add_pause(self, request_id: str, asked_on: date, reason: str | None, at: datetime) -> int:
        pid = self._s.next_id("pause")
        reason_enc = self._seal(request_id, reason.encode(), f"pause/{request_id}/{pid}") if reason else None
        self._s.pauses[pid] = _PauseRecord(request_id, asked_on, None, reason_enc, at)
        return pid

    def answer_pause(self, pause_id: int, answered_on: date) -> None:
        p = self._s.pauses.get(pause_id)
        if p is None:
            raise NotFound(f"no pause {pause_id}")
        self._s.pauses[pause_id] = replace(p, answered_on=answered_on)

    def pauses(self, request_id: str) -> list[PauseRecord]:
        return [
            PauseRecord(
                pid,
                p.asked_on,
                p.answered_on,
                self._open(request_id, p.reason_enc, f"pause/{request_id}/{pid}").decode() if p.reason_enc else None,
            )
            for pid, p in _by_id(self._s.pauses, lambda p: p.request_id == request_id)
        ]


# --- the audit log --------------------------------------------------------------------------


class InMemoryAuditLog(_Area):
    def append(self, events: Sequence[AuditEvent]) -> int:
        s = self._s
        todo: list[AuditEvent] = []
        keys_in_batch: set[str] = set()
        for e in events:
            k = e.idempotency_key
            if k not in s.chain_keys and k not in keys_in_batch:
                todo.append(e)
                keys_in_batch.add(k)
        if any(e.request_id == STAFF_STREAM for e in todo) and STAFF_STREAM not in s.keys:
            s.keys[STAFF_STREAM] = _KeyRecord(new_data_key(), self._uow.db.key_id)  # the staff stream's key, on first use
        # Built aside first: an unknown or shredded request fails the whole batch (NotFound).
        seq, prev = s.head
        built: list[ChainedEvent] = []
        for e in todo:
            at = e.at.astimezone(UTC)  # stored and hashed in UTC, as SQL does
            seq += 1
            payload = json.dumps(e.payload(), sort_keys=True, default=str).encode()
            sealed = self._seal(e.request_id, payload, associated_data(seq, e.request_id, e.kind).decode())
            digest = chain_hash(prev, leaf_bytes(seq, e.request_id, e.kind, at, e.idempotency_key, sealed))
            built.append(ChainedEvent(seq, e.request_id, e.kind, at, e.idempotency_key, sealed, prev, digest))
            prev = digest
        for ce in built:
            s.chain.append(ce)
            s.chain_keys.add(ce.idempotency_key)
            s.by_request[ce.request_id] = (*s.by_request.get(ce.request_id, ()), ce.seq)
        s.head = (seq, prev)
        return len(built)

    def _event(self, seq: int) -> ChainedEvent:
        return self._s.chain[seq - 1]

    def events(self, request_id: str) -> list[AuditEntry]:
        out = []
        for seq in self._s.by_request.get(request_id, ()):
            e = self._event(seq)
            out.append(AuditEntry(e.seq, e.kind, e.at, self.open_details(e)))
        return out

    def open_details(self, event: ChainedEvent) -> dict[str, Any]:
        if event.request_id not in self._s.keys:
            return {"shredded": True}
        aad = associated_data(event.seq, event.request_id, event.kind).decode()
        return dict(json.loads(self._open(event.request_id, event.details_enc, aad)))

    def request_ids_with(self, kind: str) -> list[str]:
        return sorted({e.request_id for e in self._s.chain if e.kind == kind})

    def head(self) -> tuple[int, str]:
        return self._s.head

    def iter_chain(self, first_seq: int = 1, last_seq: int | None = None) -> Iterator[ChainedEvent]:
        chain = self._s.chain  # this transaction's view, as a snapshot
        last = len(chain) if last_seq is None else min(last_seq, len(chain))
        return iter(chain[max(first_seq, 1) - 1 : max(last, 0)])

    def event_seqs(self, request_ids: Sequence[str] | None, since: datetime | None, until: datetime | None, upto: int) -> list[int]:
        wanted = None if request_ids is None else set(request_ids)
        return [
            e.seq
            for e in self._s.chain[: max(upto, 0)]
            if (wanted is None or e.request_id in wanted) and (since is None or e.at >= since) and (until is None or e.at < until)
        ]

    def add_checkpoint(self, checkpoint: CheckpointRecord) -> None:
        self._s.checkpoints.append(checkpoint)

    def checkpoints(self) -> list[CheckpointRecord]:
        return list(self._s.checkpoints)

    def latest_checkpoint(self) -> CheckpointRecord | None:
        return self._s.checkpoints[-1] if self._s.checkpoints else None


# --- challenges, decisions, plans, letters ---------------------------------------------------


class InMemoryChallenges(_Area):
    def add(self, request_id: str, channel: str, code_digest: str, created_at: datetime, expires_at: datetime) -> Challenge:
        cid = self._s.next_id("challenge")
        c = Challenge(cid, channel, code_digest, created_at, expires_at, 0, None)
        self._s.challenges[cid] = (request_id, c)
        return c

    def latest(self, request_id: str) -> Challenge | None:
        mine = [c for rid, c in self._s.challenges.values() if rid == request_id]
        return max(mine, key=lambda c: c.id) if mine else None

    def count(self, request_id: str) -> int:
        return sum(1 for rid, _ in self._s.challenges.values() if rid == request_id)

    def record_attempt(self, challenge_id: int, *, consumed_at: datetime | None) -> None:
        found = self._s.challenges.get(challenge_id)
        if found is None:
            raise NotFound("no such challenge")
        rid, c = found
        self._s.challenges[challenge_id] = (rid, replace(c, attempts=c.attempts + 1, consumed_at=consumed_at))

    def delete_for(self, request_id: str) -> int:
        mine = [cid for cid, (rid, _) in self._s.challenges.items() if rid == request_id]
        for cid in mine:
            del self._s.challenges[cid]
        return len(mine)

    def of_ended_requests(self, limit: int) -> list[str]:
        rids = {rid for rid, _ in self._s.challenges.values()}
        return sorted(rid for rid in rids if rid in self._s.requests and self._s.requests[rid].request.status.is_final)[:limit]


class InMemoryVerificationCases(_Area):
    def add(self, case: VerificationCase) -> VerificationCase:
        if case.request_id in self._s.cases:
            raise IntegrityError("a verification case exists for this request")
        added = replace(case, id=self._s.next_id("case"))
        self._s.cases[case.request_id] = added
        return added

    def get(self, request_id: str) -> VerificationCase | None:
        return self._s.cases.get(request_id)

    def by_link(self, digest: str) -> VerificationCase | None:
        return next((c for c in self._s.cases.values() if c.link_digest == digest), None)

    def by_session(self, digest: str) -> VerificationCase | None:
        return next((c for c in self._s.cases.values() if c.session_digest == digest), None)

    def open_expiring(self, before: datetime) -> list[VerificationCase]:
        found = [c for c in self._s.cases.values() if c.state is CaseState.OPEN and c.expires_at <= before]
        return sorted(found, key=lambda c: c.expires_at)

    def of_ended_requests(self, limit: int) -> list[str]:
        requests = self._s.requests
        ended = [
            c
            for c in self._s.cases.values()
            if c.state is not CaseState.CLOSED and c.request_id in requests and requests[c.request_id].request.status.is_final
        ]
        return [c.request_id for c in sorted(ended, key=lambda c: c.id)][:limit]

    def save(self, case: VerificationCase) -> None:
        if case.request_id not in self._s.cases:
            raise NotFound("no such verification case")
        self._s.cases[case.request_id] = case


class InMemoryDecisions(_Area):
    def record(self, request_id: str, step: str, decision: str, approver: str, note: str | None, at: datetime) -> None:
        if (request_id, step) in self._s.decisions:
            raise IntegrityError(f"a decision on {step} is already recorded")
        note_enc = self._seal(request_id, note.encode(), f"decision/{request_id}/{step}") if note else None
        self._s.decisions[(request_id, step)] = _DecisionRecord(step, decision, approver, note_enc, at)

    def get(self, request_id: str, step: str) -> Decision | None:
        d = self._s.decisions.get((request_id, step))
        if d is None:
            return None
        note = self._open(request_id, d.note_enc, f"decision/{request_id}/{step}").decode() if d.note_enc else None
        return Decision(d.step, d.decision, d.approver, note, d.at)


class InMemoryPlans(_Area):
    def save(self, request_id: str, steps: Sequence[PlanStep]) -> None:
        have = self._s.plans.get(request_id, ())
        seen = {(p.system, p.operation) for p in have}
        new: list[_PlanRecord] = []
        for st in steps:
            key = (st.system, st.operation.value)
            if key in seen:
                raise IntegrityError(f"the plan already has a step for {st.system} ({st.operation.value})")
            seen.add(key)
            new.append(_PlanRecord(st.system, st.operation.value, st.matches, json.dumps(step_to_json(st))))
        self._s.plans[request_id] = (*have, *new)

    def revise(self, request_id: str, steps: Sequence[PlanStep]) -> None:
        rows = {(p.system, p.operation): p for p in self._s.plans.get(request_id, ())}
        for st in steps:
            key = (st.system, st.operation.value)
            if key not in rows:
                raise NotFound(f"the plan has no step for {st.system} ({st.operation.value})")
            rows[key] = replace(rows[key], matches=st.matches, detail=json.dumps(step_to_json(st)))
        self._s.plans[request_id] = tuple(rows.values())

    def get(self, request_id: str) -> list[PlanStep]:
        rows = sorted(self._s.plans.get(request_id, ()), key=lambda p: p.system)
        return [step_from_json(p.system, p.operation, p.matches, json.loads(p.detail)) for p in rows]

    def add_receipt(self, request_id: str, receipt: Receipt) -> None:
        have = self._s.receipts.get(request_id, ())
        if any(r.system == receipt.system and r.operation == receipt.operation for r in have):
            raise IntegrityError(f"a receipt for {receipt.system} ({receipt.operation}) is already recorded")
        self._s.receipts[request_id] = (*have, receipt)

    def receipts(self, request_id: str) -> list[Receipt]:
        return sorted(self._s.receipts.get(request_id, ()), key=lambda r: r.system)


class InMemoryLetters(_Area):
    def add(self, request_id: str, letter: SentLetter) -> None:
        if (request_id, letter.kind) in self._s.letters:
            raise IntegrityError(f"a {letter.kind} letter is already recorded")
        self._s.letters[(request_id, letter.kind)] = letter

    def get(self, request_id: str, kind: str) -> SentLetter | None:
        return self._s.letters.get((request_id, kind))


class InMemoryTemplateApprovals(_Area):
    def add(self, approval: TemplateApproval) -> None:
        if self.approved(approval.path, approval.version) is not None:
            raise IntegrityError(f"an approval of {approval.path} at version {approval.version[:12]} is already recorded")
        self._s.approvals = (*self._s.approvals, approval)

    def approved(self, path: str, version: str) -> TemplateApproval | None:
        return next((a for a in self._s.approvals if a.path == path and a.version == version), None)

    def latest(self, path: str) -> TemplateApproval | None:
        return next((a for a in reversed(self._s.approvals) if a.path == path), None)

    def all_latest(self) -> dict[str, TemplateApproval]:
        return {a.path: a for a in self._s.approvals}


# --- the deadline watch's alerts --------------------------------------------------------------


class InMemoryAlerts(_Area):
    def _watched(self, horizon: date, column: WatchColumn) -> list[tuple[_RequestRecord, date]]:
        out = []
        for rec in self._s.requests.values():
            d = rec.watched(column)
            if d is not None and d <= horizon:
                out.append((rec, d))
        return out

    def watch_candidates(self, horizon: date, column: WatchColumn = "watch_due") -> list[WatchCandidate]:
        found = sorted(self._watched(horizon, column), key=lambda rd: (rd[1], rd[0].request.reference))
        return [
            WatchCandidate(rec.request.id, rec.request.reference, rec.request.regime, rec.request.status.value, d, rec.deadline.extended)
            for rec, d in found
        ]

    def alerted(self, horizon: date, column: WatchColumn = "watch_due") -> set[tuple[str, date, str]]:
        current = {(rec.request.id, d) for rec, d in self._watched(horizon, column)}
        return {(a.request_id, a.due, a.kind) for a in self._s.alerts.values() if (a.request_id, a.due) in current}

    def add(self, alerts: Sequence[NewAlert], at: datetime) -> None:
        s = self._s
        keys = [(a.request_id, a.due, a.kind) for a in alerts]
        if len(set(keys)) != len(keys) or s.alert_keys.intersection(keys):
            raise IntegrityError("an alert for this request, date and kind is already raised")
        for a in alerts:
            aid = s.next_id("alert")
            s.alerts[aid] = Alert(
                aid,
                a.request_id,
                a.reference,
                a.kind,
                a.due,
                a.days_left,
                at,
                a.notify,
                None if a.notify else at,  # an alert covered by a more urgent one needs no delivery
                0,
                None,
            )
        s.alert_keys.update(keys)

    def undelivered(self, max_attempts: int) -> list[Alert]:
        return [a for _, a in _by_id(self._s.alerts, lambda a: a.delivered_at is None and a.attempts < max_attempts)]

    def record_delivery(self, alert_ids: Sequence[int], at: datetime, error: str | None) -> None:
        for aid in alert_ids:
            a = self._s.alerts.get(aid)
            if a is None:
                continue  # as an UPDATE ... WHERE id IN (...) does
            if error is None:
                a = replace(a, attempts=a.attempts + 1, delivered_at=at, last_error=None)
            else:
                a = replace(a, attempts=a.attempts + 1, last_error=error[:500])
            self._s.alerts[aid] = a

    def supersede(self, alert_ids: Sequence[int], at: datetime) -> None:
        for aid in alert_ids:
            a = self._s.alerts.get(aid)
            if a is not None and a.delivered_at is None:
                self._s.alerts[aid] = replace(a, notify=False, delivered_at=at, last_error=None)

    def recent(self, request_id: str | None = None, limit: int = 500) -> list[Alert]:
        mine = _by_id(self._s.alerts, lambda a: request_id is None or a.request_id == request_id)
        return [a for _, a in reversed(mine)][: max(limit, 0)]


# --- data keys ------------------------------------------------------------------------------


class InMemoryDataKeys(_Area):
    def seal(self, request_id: str, plaintext: bytes, aad: str) -> bytes:
        return self._seal(request_id, plaintext, aad)

    def open(self, request_id: str, sealed: bytes, aad: str) -> bytes:
        return self._open(request_id, sealed, aad)

    def rewrap(self, limit: int = 1000) -> int:
        current = self._uow.db.key_id
        stale = [rid for rid, k in self._s.keys.items() if k.key_id != current][: max(limit, 0)]
        for rid in stale:
            self._s.keys[rid] = replace(self._s.keys[rid], key_id=current)
        return len(stale)

    def key_ids(self) -> set[str]:
        return {k.key_id for k in self._s.keys.values()}


# --- staff accounts and API tokens ----------------------------------------------------------


class InMemoryAccounts(_Area):
    def add(self, name: str, role: Role, at: datetime) -> StaffAccount:
        s = self._s
        if name.casefold() in s.account_names:
            raise IntegrityError("an account of this name exists already")
        aid = s.next_id("account")
        account = StaffAccount(aid, name, role, True, at)
        s.accounts[aid] = account
        s.account_names[name.casefold()] = aid
        return account

    def get(self, account_id: int) -> StaffAccount | None:
        return self._s.accounts.get(account_id)

    def lock(self, account_id: int) -> StaffAccount | None:
        return self.get(account_id)  # units of work are serialised already

    def find(self, name: str) -> StaffAccount | None:
        aid = self._s.account_names.get(name.casefold())
        return None if aid is None else self._s.accounts[aid]

    def all(self) -> list[StaffAccount]:
        return sorted(self._s.accounts.values(), key=lambda a: (a.name.casefold(), a.id))

    def save(self, account: StaffAccount) -> None:
        have = self._s.accounts.get(account.id)
        if have is None:
            raise NotFound(f"no staff account {account.id}")
        self._s.accounts[account.id] = replace(
            have,
            role=account.role,
            active=account.active,
            failed_logins=account.failed_logins,
            locked_until=account.locked_until,
            last_login_at=account.last_login_at,
            trained_on=account.trained_on,
            session_epoch=account.session_epoch,
        )

    def password_hash(self, account_id: int) -> str | None:
        return self._s.passwords.get(account_id)

    def set_password_hash(self, account_id: int, encoded: str) -> None:
        have = self._s.accounts.get(account_id)
        if have is None:
            raise NotFound(f"no staff account {account_id}")
        self._s.passwords[account_id] = encoded
        self._s.accounts[account_id] = replace(have, password_set=True)

    def add_password_token(self, account_id: int, digest: str, created_at: datetime, expires_at: datetime) -> None:
        s = self._s
        if account_id not in s.accounts:
            raise NotFound(f"no staff account {account_id}")
        if digest in s.password_tokens:
            raise IntegrityError("this set-password token exists already")
        s.password_tokens = {d: t for d, t in s.password_tokens.items() if t.account_id != account_id}
        s.password_tokens[digest] = PasswordToken(account_id, created_at, expires_at)

    def password_token(self, digest: str) -> PasswordToken | None:
        return self._s.password_tokens.get(digest)

    def use_password_token(self, digest: str, at: datetime) -> None:
        t = self._s.password_tokens.get(digest)
        if t is None:
            raise NotFound("no such set-password token")
        self._s.password_tokens[digest] = replace(t, used_at=at)

    def totp(self, account_id: int) -> TotpRecord | None:
        return self._s.totps.get(account_id)

    def set_totp(self, account_id: int, sealed_secret: bytes) -> None:
        have = self._s.accounts.get(account_id)
        if have is None:
            raise NotFound(f"no staff account {account_id}")
        self._s.totps[account_id] = TotpRecord(bytes(sealed_secret), None)
        self._s.accounts[account_id] = replace(have, totp_enrolled=True)

    def use_totp_step(self, account_id: int, step: int) -> None:
        if account_id not in self._s.accounts:
            raise NotFound(f"no staff account {account_id}")
        have = self._s.totps.get(account_id)
        if have is None:
            raise InvalidInput("no authenticator is enrolled for this account", ["account: no authenticator"])
        self._s.totps[account_id] = replace(have, last_step=step)

    def set_totp_failures(self, account_id: int, failures: CodeFailures) -> None:
        if account_id not in self._s.accounts:
            raise NotFound(f"no staff account {account_id}")
        have = self._s.totps.get(account_id)
        if have is not None:
            self._s.totps[account_id] = replace(have, failures=failures)


class InMemoryTokens(_Area):
    def add(self, name: str, scopes: frozenset[TokenScope], prefix: str, digest: str, created_at: datetime, created_by: str) -> ApiToken:
        s = self._s
        if any(d == digest for _, d in s.api_tokens.values()):
            raise IntegrityError("this API token exists already")
        tid = s.next_id("api_token")
        token = ApiToken(tid, name, frozenset(scopes), created_at, created_by, prefix=prefix)
        s.api_tokens[tid] = (token, digest)
        return token

    def get(self, token_id: int) -> ApiToken | None:
        found = self._s.api_tokens.get(token_id)
        return None if found is None else found[0]

    def all(self) -> list[ApiToken]:
        return [t for _, (t, _d) in sorted(self._s.api_tokens.items())]

    def with_prefix(self, prefix: str) -> list[tuple[ApiToken, str]]:
        return [(t, d) for _, (t, d) in sorted(self._s.api_tokens.items()) if t.prefix == prefix]

    def _update(self, token_id: int, **changes: Any) -> None:
        found = self._s.api_tokens.get(token_id)
        if found is None:
            raise NotFound(f"no API token {token_id}")
        self._s.api_tokens[token_id] = (replace(found[0], **changes), found[1])

    def revoke(self, token_id: int, at: datetime) -> None:
        self._update(token_id, revoked_at=at)

    def touch(self, token_id: int, at: datetime) -> None:
        self._update(token_id, last_used_at=at)
