"""TRANSITIONAL: the old one-class ``Repository`` (``uow.repo``), removed when the services use
the ports (issue 9).

Every method delegates to the repositories of :class:`dsar.persistence.uow.SqlUnitOfWork`,
converting where the old signatures differ: audit events as raw kind and details, plan steps
as text details (:class:`PlanStep`), receipts and letters as loose arguments. Nothing here
touches SQL or keys itself. Do not add callers: use ``uow.requests``, ``uow.audit``, ... .
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from dsar.audit.chain import ChainedEvent
from dsar.crypto import BlindIndex
from dsar.domain import plan as plans
from dsar.domain.alerts import Alert, NewAlert, WatchCandidate, WatchColumn
from dsar.domain.deadlines import Deadline, PauseRecord
from dsar.domain.decisions import Decision
from dsar.domain.events import AuditEntry, CheckpointRecord
from dsar.domain.letters import SentLetter
from dsar.domain.regimes import RequestType
from dsar.domain.request import PrivacyRequest
from dsar.domain.verification import Challenge
from dsar.persistence.audit_log import RawAuditRecord
from dsar.services.ports import RequestQuery

if TYPE_CHECKING:
    from dsar.persistence.uow import SqlUnitOfWork

# The old name of an audit record with raw kind and details.
AuditAppend = RawAuditRecord


@dataclass(frozen=True)
class PlanStep:
    """A plan step as the old services read it: ``detail`` is text (``manual: …``,
    ``matched a,b``, ``no match``) or the JSON of erasure or correction actions."""

    system: str
    operation: str
    matches: int
    detail: str

    def as_typed(self) -> plans.PlanStep:
        return plans.legacy_step(self.system, self.operation, self.matches, self.detail)

    @classmethod
    def of(cls, step: plans.PlanStep) -> PlanStep:
        return cls(step.system, step.operation.value, step.matches, _legacy_detail(step))


def _legacy_detail(step: plans.PlanStep) -> str:
    if isinstance(step, plans.EraseStep) and step.actions:
        return json.dumps({"actions": [a.as_json() for a in step.actions]}, sort_keys=True)
    if isinstance(step, plans.CorrectStep) and step.matches:
        return json.dumps({"corrections": [a.as_json() for a in step.actions]}, sort_keys=True)
    return step.describe()


class LegacyRepository:
    """TRANSITIONAL facade with the old ``Repository`` method names (see the module docstring)."""

    def __init__(self, uow: SqlUnitOfWork, index: BlindIndex) -> None:
        self._u = uow
        self.index = index

    # --- keys ---------------------------------------------------------------------------
    def seal_for(self, request_id: str, plaintext: bytes, aad: str) -> bytes:
        return self._u.keys.seal(request_id, plaintext, aad)

    def open_for(self, request_id: str, sealed: bytes, aad: str) -> bytes:
        return self._u.keys.open(request_id, sealed, aad)

    def rewrap_data_keys(self, limit: int = 1000) -> int:
        return self._u.keys.rewrap(limit)

    def data_key_ids(self) -> set[str]:
        return self._u.keys.key_ids()

    # --- requests -----------------------------------------------------------------------
    def next_reference_number(self, year: int) -> int:
        return self._u.requests.next_reference_number(year)

    def add_request(self, r: PrivacyRequest, deadline: Deadline, at: datetime) -> None:
        self._u.requests.add(r, deadline, at)

    def get(self, request_id: str) -> PrivacyRequest:
        return self._u.requests.get(request_id)

    def facts(self, request_id: str) -> tuple[PrivacyRequest, bool]:
        return self._u.requests.facts(request_id), self._u.requests.is_shredded(request_id)

    def get_by_reference(self, reference: str) -> PrivacyRequest:
        return self._u.requests.get(self._u.requests.id_for_reference(reference))

    def save_state(self, r: PrivacyRequest, at: datetime) -> None:
        self._u.requests.save_state(r, at)

    def set_flow_run(self, request_id: str, flow_run_id: str) -> None:
        self._u.requests.set_flow_run(request_id, flow_run_id)

    def flow_run_id(self, request_id: str) -> str | None:
        return self._u.requests.flow_run_id(request_id)

    def list_requests(self, q: RequestQuery) -> list[PrivacyRequest]:
        return self._u.requests.query(q)

    def find_linkable(
        self, tokens: Sequence[tuple[str, str]], request_type: RequestType, regime: str, since: datetime
    ) -> PrivacyRequest | None:
        return self._u.requests.find_linkable_by_tokens(tokens, request_type, regime, since)

    def references(self, request_ids: set[str]) -> dict[str, str]:
        return self._u.requests.references(request_ids)

    def shredded(self, request_ids: set[str]) -> set[str]:
        return self._u.requests.shredded(request_ids)

    def count_requests(self) -> int:
        return self._u.requests.count()

    def shred_candidates(self, finished_before: datetime) -> list[tuple[str, str]]:
        return self._u.requests.shred_candidates(finished_before)

    def shred(self, request_id: str, at: datetime) -> None:
        self._u.requests.shred(request_id, at)

    # --- deadlines and pauses -----------------------------------------------------------
    def deadline(self, request_id: str) -> Deadline:
        return self._u.deadlines.get(request_id)

    def save_deadline(self, request_id: str, d: Deadline) -> None:
        self._u.deadlines.save(request_id, d)

    def mark_acknowledged(self, request_id: str, at: datetime) -> bool:
        return self._u.deadlines.mark_acknowledged(request_id, at)

    def add_pause(self, request_id: str, asked_on: date, reason: str | None, at: datetime) -> int:
        return self._u.deadlines.add_pause(request_id, asked_on, reason, at)

    def answer_pause(self, pause_id: int, answered_on: date) -> None:
        self._u.deadlines.answer_pause(pause_id, answered_on)

    def pauses(self, request_id: str) -> list[PauseRecord]:
        return self._u.deadlines.pauses(request_id)

    # --- deadline watch -----------------------------------------------------------------
    def watch_candidates(self, horizon: date, column: WatchColumn = "watch_due") -> list[WatchCandidate]:
        return self._u.alerts.watch_candidates(horizon, column)

    def alerted(self, horizon: date, column: WatchColumn = "watch_due") -> set[tuple[str, date, str]]:
        return self._u.alerts.alerted(horizon, column)

    def add_alerts(self, alerts: Sequence[NewAlert], at: datetime) -> None:
        self._u.alerts.add(alerts, at)

    def undelivered_alerts(self, max_attempts: int) -> list[Alert]:
        return self._u.alerts.undelivered(max_attempts)

    def record_delivery(self, alert_ids: Sequence[int], at: datetime, error: str | None) -> None:
        self._u.alerts.record_delivery(alert_ids, at, error)

    def alerts(self, request_id: str | None = None, limit: int = 500) -> list[Alert]:
        return self._u.alerts.recent(request_id, limit)

    # --- audit --------------------------------------------------------------------------
    def append_audit(self, request_id: str, kind: str, at: datetime, details: dict[str, Any], idempotency_key: str) -> bool:
        return self._u.audit.append_records([RawAuditRecord(request_id, kind, at, details, idempotency_key)]) == 1

    def append_audit_many(self, events: Sequence[RawAuditRecord]) -> int:
        return self._u.audit.append_records(events)

    def audit_events(self, request_id: str) -> list[AuditEntry]:
        return self._u.audit.events(request_id)

    def event_details(self, seq: int, request_id: str, kind: str, sealed: bytes) -> dict[str, Any]:
        return self._u.audit.open_details(ChainedEvent(seq, request_id, kind, datetime.min, "", sealed, "", ""))

    def audit_head(self) -> tuple[int, str]:
        return self._u.audit.head()

    def iter_chain(self, first_seq: int = 1, last_seq: int | None = None, batch: int = 20_000) -> Iterator[ChainedEvent]:
        return self._u.audit.iter_chain(first_seq, last_seq, batch)

    def chain(self, after_seq: int = 0, limit: int = 100_000) -> list[ChainedEvent]:
        return list(self._u.audit.iter_chain(after_seq + 1, after_seq + limit))

    def event_seqs(self, request_ids: Sequence[str] | None, since: datetime | None, until: datetime | None, upto: int) -> list[int]:
        return self._u.audit.event_seqs(request_ids, since, until, upto)

    def add_checkpoint(self, c: CheckpointRecord) -> None:
        self._u.audit.add_checkpoint(c)

    def checkpoints(self) -> list[CheckpointRecord]:
        return self._u.audit.checkpoints()

    def latest_checkpoint(self) -> CheckpointRecord | None:
        return self._u.audit.latest_checkpoint()

    # --- verification, decisions, plan, receipts, letters -------------------------------
    def add_challenge(self, request_id: str, channel: str, code_digest: str, created_at: datetime, expires_at: datetime) -> None:
        self._u.challenges.add(request_id, channel, code_digest, created_at, expires_at)

    def latest_challenge(self, request_id: str) -> Challenge | None:
        return self._u.challenges.latest(request_id)

    def record_attempt(self, challenge_id: int, *, consumed_at: datetime | None) -> None:
        self._u.challenges.record_attempt(challenge_id, consumed_at=consumed_at)

    def record_decision(self, request_id: str, step: str, decision: str, approver: str, note: str | None, at: datetime) -> None:
        self._u.decisions.record(request_id, step, decision, approver, note, at)

    def decision(self, request_id: str, step: str) -> Decision | None:
        return self._u.decisions.get(request_id, step)

    def save_plan(self, request_id: str, steps: Sequence[PlanStep]) -> None:
        self._u.plans.save(request_id, [s.as_typed() for s in steps])

    def plan(self, request_id: str) -> list[PlanStep]:
        return [PlanStep.of(s) for s in self._u.plans.get(request_id)]

    def add_receipt(self, request_id: str, system: str, operation: str, records: int, object_key: str | None, at: datetime) -> None:
        self._u.plans.add_receipt(request_id, plans.Receipt(system, operation, records, object_key, at))

    def receipts(self, request_id: str) -> list[plans.Receipt]:
        return self._u.plans.receipts(request_id)

    def add_letter(self, request_id: str, kind: str, template: str, message_id: str, at: datetime) -> None:
        self._u.letters.add(request_id, SentLetter(kind, template, message_id, at))

    def letter(self, request_id: str, kind: str) -> SentLetter | None:
        return self._u.letters.get(request_id, kind)


__all__ = ["AuditAppend", "LegacyRepository", "PlanStep"]
