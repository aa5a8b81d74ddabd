"""The work on a request, in SQL: verification challenges, people's decisions, the plan and its
receipts, the letters sent.

Plan steps are stored as their typed JSON (:func:`dsar.domain.plan.step_to_json`); rows written
before plans were typed hold text (``manual: …``, ``matched a,b``, ``no match``) or JSON without
a ``step`` key, and read back through :func:`dsar.domain.plan.legacy_step`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete as sa_delete
from sqlmodel import Session, col, func, select

from dsar.domain.decisions import Decision
from dsar.domain.errors import NotFound
from dsar.domain.letters import SentLetter, TemplateApproval
from dsar.domain.plan import PlanStep, Receipt, legacy_step, step_from_json, step_to_json
from dsar.domain.request import FINAL_STATUSES
from dsar.domain.verification import Challenge
from dsar.persistence.damage import intact, request_name
from dsar.persistence.sealing import Sealer
from dsar.persistence.tables import (
    ChallengeRow,
    DecisionRow,
    LetterRow,
    PlanRow,
    ReceiptRow,
    RequestRow,
    TemplateApprovalRow,
    as_utc,
    as_utc_or_none,
    refused_if_exists,
)


class SqlChallenges:
    """:class:`dsar.services.ports.ChallengeRepository` over ``verification_challenge``."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, request_id: str, channel: str, code_digest: str, created_at: datetime, expires_at: datetime) -> Challenge:
        row = ChallengeRow(request_id=request_id, channel=channel, code_digest=code_digest, created_at=created_at, expires_at=expires_at)
        self._s.add(row)
        self._s.flush()
        assert row.id is not None
        return Challenge(row.id, channel, code_digest, created_at, expires_at, 0, None)

    def latest(self, request_id: str) -> Challenge | None:
        row = self._s.exec(select(ChallengeRow).where(ChallengeRow.request_id == request_id).order_by(col(ChallengeRow.id).desc())).first()
        if row is None or row.id is None:
            return None
        created, expires, consumed = as_utc(row.created_at), as_utc(row.expires_at), as_utc_or_none(row.consumed_at)
        return Challenge(row.id, row.channel, row.code_digest, created, expires, row.attempts, consumed)

    def count(self, request_id: str) -> int:
        return int(self._s.exec(select(func.count()).select_from(ChallengeRow).where(ChallengeRow.request_id == request_id)).one())

    def record_attempt(self, challenge_id: int, *, consumed_at: datetime | None) -> None:
        row = self._s.get(ChallengeRow, challenge_id)
        if row is None:
            raise NotFound("no such challenge")
        row.attempts += 1
        row.consumed_at = consumed_at
        self._s.add(row)
        self._s.flush()

    def delete_for(self, request_id: str) -> int:
        n = self.count(request_id)
        if n:
            t = ChallengeRow.__table__.c  # type: ignore[attr-defined]
            self._s.connection().execute(sa_delete(ChallengeRow.__table__).where(t.request_id == request_id))  # type: ignore[attr-defined]
        return n

    def of_ended_requests(self, limit: int) -> list[str]:
        rows = self._s.exec(
            select(ChallengeRow.request_id)
            .join(RequestRow, col(RequestRow.id) == col(ChallengeRow.request_id))
            .where(col(RequestRow.status).in_([s.value for s in FINAL_STATUSES]))
            .distinct()
            .order_by(col(ChallengeRow.request_id))
            .limit(limit)
        ).all()
        return list(rows)


class SqlDecisions:
    """:class:`dsar.services.ports.DecisionRepository` over ``decision``; notes sealed."""

    def __init__(self, session: Session, sealer: Sealer) -> None:
        self._s = session
        self._sealer = sealer

    def record(self, request_id: str, step: str, decision: str, approver: str, note: str | None, at: datetime) -> None:
        note_enc = self._sealer.seal(request_id, note.encode(), f"decision/{request_id}/{step}") if note else None
        self._s.add(DecisionRow(request_id=request_id, step=step, decision=decision, approver=approver, note_enc=note_enc, at=at))
        with refused_if_exists(f"a decision on {step} for request {request_id}"):
            self._s.flush()

    def get(self, request_id: str, step: str) -> Decision | None:
        with intact(lambda: f"the {step} decision of {request_name(self._s, request_id)}"):
            row = self._s.exec(select(DecisionRow).where(DecisionRow.request_id == request_id, DecisionRow.step == step)).first()
            if row is None:
                return None
            note = self._sealer.open(request_id, row.note_enc, f"decision/{request_id}/{step}").decode() if row.note_enc else None
            return Decision(row.step, row.decision, row.approver, note, as_utc(row.at))


class SqlPlans:
    """:class:`dsar.services.ports.PlanRepository` over ``plan_step`` and ``receipt``."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def save(self, request_id: str, steps: Sequence[PlanStep]) -> None:
        for st in steps:
            detail = json.dumps(step_to_json(st), sort_keys=True)
            self._s.add(PlanRow(request_id=request_id, system=st.system, operation=st.operation.value, matches=st.matches, detail=detail))
        with refused_if_exists(f"a plan step for request {request_id}"):
            self._s.flush()

    def revise(self, request_id: str, steps: Sequence[PlanStep]) -> None:
        for st in steps:
            q = select(PlanRow).where(
                PlanRow.request_id == request_id, PlanRow.system == st.system, PlanRow.operation == st.operation.value
            )
            row = self._s.exec(q).first()
            if row is None:
                raise NotFound(f"the plan has no step for {st.system} ({st.operation.value})")
            row.matches = st.matches
            row.detail = json.dumps(step_to_json(st), sort_keys=True)
            self._s.add(row)
        self._s.flush()

    def get(self, request_id: str) -> list[PlanStep]:
        with intact(lambda: f"the plan of {request_name(self._s, request_id)}"):
            rows = self._s.exec(select(PlanRow).where(PlanRow.request_id == request_id).order_by(col(PlanRow.system)))
            return [stored_step(r.system, r.operation, r.matches, r.detail) for r in rows]

    def add_receipt(self, request_id: str, receipt: Receipt) -> None:
        r = receipt
        row = ReceiptRow(request_id=request_id, system=r.system, operation=r.operation, records=r.records, object_key=r.object_key, at=r.at)
        self._s.add(row)
        with refused_if_exists(f"a receipt of {r.system} ({r.operation}) for request {request_id}"):
            self._s.flush()

    def receipts(self, request_id: str) -> list[Receipt]:
        with intact(lambda: f"the receipts of {request_name(self._s, request_id)}"):
            rows = self._s.exec(select(ReceiptRow).where(ReceiptRow.request_id == request_id).order_by(col(ReceiptRow.system)))
            return [Receipt(r.system, r.operation, r.records, r.object_key, as_utc(r.at)) for r in rows]


def stored_step(system: str, operation: str, matches: int, detail: str) -> PlanStep:
    """A plan row as a typed step: the typed JSON, or the form written before plans were typed."""
    if detail.startswith("{"):
        doc = json.loads(detail)
        if isinstance(doc, dict) and "step" in doc:
            return step_from_json(system, operation, matches, doc)
    return legacy_step(system, operation, matches, detail)


class SqlLetters:
    """:class:`dsar.services.ports.LetterRepository` over ``letter`` (one per request and kind)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, request_id: str, letter: SentLetter) -> None:
        lt = letter
        self._s.add(
            LetterRow(
                request_id=request_id,
                kind=lt.kind,
                template=lt.template,
                message_id=lt.message_id,
                at=lt.at,
                version=lt.version,
                language=lt.language,
            )
        )
        with refused_if_exists(f"a {lt.kind} letter for request {request_id}"):
            self._s.flush()

    def get(self, request_id: str, kind: str) -> SentLetter | None:
        row = self._s.exec(select(LetterRow).where(LetterRow.request_id == request_id, LetterRow.kind == kind)).first()
        return None if row is None else SentLetter(row.kind, row.template, row.message_id, as_utc(row.at), row.version, row.language)


class SqlTemplateApprovals:
    """:class:`dsar.services.ports.TemplateApprovalRepository` over ``template_approval``."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, approval: TemplateApproval) -> None:
        a = approval
        self._s.add(
            TemplateApprovalRow(
                path=a.path,
                version=a.version,
                content=a.content,
                approver=a.approver,
                account_id=a.account_id,
                approved_at=a.approved_at,
                totp_step=a.totp_step,
            )
        )
        with refused_if_exists(f"an approval of {a.path} at version {a.version[:12]}"):
            self._s.flush()

    def approved(self, path: str, version: str) -> TemplateApproval | None:
        row = self._s.exec(
            select(TemplateApprovalRow).where(TemplateApprovalRow.path == path, TemplateApprovalRow.version == version)
        ).first()
        return None if row is None else _approval(row)

    def latest(self, path: str) -> TemplateApproval | None:
        rows = self._s.exec(
            select(TemplateApprovalRow).where(TemplateApprovalRow.path == path).order_by(col(TemplateApprovalRow.id).desc()).limit(1)
        ).first()
        return None if rows is None else _approval(rows)

    def all_latest(self) -> dict[str, TemplateApproval]:
        out: dict[str, TemplateApproval] = {}
        for row in self._s.exec(select(TemplateApprovalRow).order_by(col(TemplateApprovalRow.id))):
            out[row.path] = _approval(row)
        return out


def _approval(row: TemplateApprovalRow) -> TemplateApproval:
    return TemplateApproval(row.path, row.version, row.content, row.approver, row.account_id, as_utc(row.approved_at), row.totp_step)
