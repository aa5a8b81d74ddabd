"""Legal's sign-off of a response letter before it goes out (issue 11; the rule in
:mod:`dsar.domain.letter_sign_off`, ``DSAR_LETTER_SIGN_OFF``).

Once a request is answering (RESPONDING, or DENIED for a refusal), its closing letter waits,
when the policy says so, until legal approves it: ``send_response`` sends nothing before
(:func:`dsar.services.pending_letter.letter_due`). The proof is the plan sign-off's: a name on the
legal roster and its authenticator's current code, good once, with the same lock-out
(:func:`dsar.services.accounts.prove_approver`); a refused attempt is recorded
(``SignOffRefused`` at step ``letter``) and the letter keeps waiting. An approval is the
decision step ``letter``; a return to the team holds the request with legal's reason (the
decision step ``letter-return-N``), staff release it as other holds, and the letter then waits
for a new approval. Either is a ``LetterSignOffRecorded`` event (sealed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dsar.domain.decisions import REFUSAL_TEXT, SignOffRefusal
from dsar.domain.errors import InvalidInput
from dsar.domain.events import LetterSignOffRecorded
from dsar.domain.letter_sign_off import (
    LETTER_STEP,
    LetterDecision,
    LetterSignOff,
    letter_approval_step,
    letter_return_step,
    letter_sign_off,
)
from dsar.domain.request import Status
from dsar.services import recording
from dsar.services.accounts import prove_approver
from dsar.services.context import ServiceContext
from dsar.services.pending_letter import PendingLetter, approval_number, letter_due
from dsar.services.ports import UnitOfWork

__all__ = [
    "LetterDecision",
    "LetterSignOff",
    "LetterSignOffResult",
    "LetterState",
    "letter_sign_off",
    "letter_sign_off_attempt",
    "letter_state",
    "letter_summary",
    "record_letter_sign_off",
]

LETTER_TITLE = {
    "access_response": "access response",
    "deletion_response": "deletion response",
    "correction_response": "correction response",
    "denial": "denial (legal's refusal)",
    "could_not_verify": "could-not-verify refusal",
    "partial_refusal": "partial refusal",
}


@dataclass(frozen=True)
class LetterState:
    """Where the request's letter stands (no personal data): ``waiting`` while it waits for
    legal's approval and nothing else holds the request."""

    status: Status
    on_hold: bool
    letter: PendingLetter | None
    refused_attempts: int
    last_refusal: SignOffRefusal | None
    returns: int
    lapsed: int = 0  # approvals that lapsed (the letter's files changed before it went)

    @property
    def waiting(self) -> bool:
        return self.letter is not None and self.letter.waits and not self.on_hold

    @property
    def awaiting_approval(self) -> bool:
        """The letter needs legal's approval and has none (whether or not the request is held)."""
        return self.letter is not None and self.letter.waits


def _letter_refusals(uow: UnitOfWork, request_id: str) -> list[SignOffRefusal]:
    from dsar.services.processing import _refusals

    return _refusals(uow, request_id, LETTER_STEP)


def _returns(uow: UnitOfWork, request_id: str) -> int:
    return sum(
        1
        for e in uow.audit.events(request_id)
        if e.kind == LetterSignOffRecorded.kind and e.details.get("decision") == LetterDecision.RETURN.value
    )


def letter_state(ctx: ServiceContext, request_id: str) -> LetterState:
    """Whether the request's letter waits for legal, how many attempts were refused so far and
    the last one's reason: the flow waits for the next under a key of its own."""
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        pending = letter_due(ctx, uow, r)
        if pending is None or not pending.needs_sign_off:
            return LetterState(r.status, r.on_hold, pending, 0, None, 0)
        refused = _letter_refusals(uow, request_id)
        last, lapsed = (refused[-1] if refused else None), approval_number(uow, request_id) - 1
        return LetterState(r.status, r.on_hold, pending, len(refused), last, _returns(uow, request_id), lapsed)


def letter_title(kind: str) -> str:
    return LETTER_TITLE.get(kind, kind.replace("_", " "))


def letter_summary(ctx: ServiceContext, request_id: str, refused: SignOffRefusal | None = None) -> str:
    """Markdown above the letter sign-off form: reference, type, regime, due date, the letter's
    kind and the link to its preview on the console. No personal data: Prefect shows and
    stores this text."""
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        due = uow.deadlines.get(request_id).due
        pending = letter_due(ctx, uow, r)
        lapsed = approval_number(uow, request_id) > 1
    left = (due - ctx.clock().astimezone(ctx.policy.timezone).date()).days
    when = f"{left} day(s) left" if left >= 0 else f"{-left} day(s) late"
    kind = pending.kind if pending is not None else "-"
    lines = [f"### {r.reference}: the {letter_title(kind)} letter waits for legal's approval", ""]
    if lapsed:
        lines += [
            "**An earlier approval lapsed**: the letter's templates changed after it was approved (a file approved anew), "
            "so it was not sent. Preview it again.",
            "",
        ]
    if refused is not None:
        lines += [f"**The last attempt was refused: {REFUSAL_TEXT[refused]}.** The letter is still waiting.", ""]
    lines += [
        f"- **Request**: {r.type.value} under `{r.regime}`",
        f"- **Due** {due.isoformat()} ({when})",
        f"- **Letter**: `{kind}`" + (f", with the {', '.join(f'`{a}`' for a in pending.also)}" if pending and pending.also else ""),
    ]
    path = f"/console/requests/{r.reference}/letter-preview"
    if ctx.policy.console_url:
        lines += ["", f"[Preview the letter]({ctx.policy.console_url}{path}) (console)"]
    else:
        lines += ["", f"The letter preview is on the console: `{path}`"]
    lines += [
        "",
        "#### Your decision",
        "",
        "- **approve**: the letter goes out as previewed.",
        "- **return**: back to the team with a **reason** (required): the request is held with it until staff "
        "release it, and the letter then waits for your approval again.",
        "- The **note** is internal: kept encrypted for the file and the auditors, never in a letter.",
        "- Pick your name from the legal roster and type the 6-digit code your authenticator app shows now.",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class LetterSignOffResult:
    """What became of an attempt (no personal data): ``recorded`` (approved or ``returned``),
    ``refused`` with why (the letter keeps waiting), or neither when no letter waited."""

    status: Status
    recorded: bool = False
    returned: bool = False
    refused: SignOffRefusal | None = None


def record_letter_sign_off(
    ctx: ServiceContext,
    request_id: str,
    given: LetterSignOff,
    approver: str,
    code: str,
    *,
    via: str,
    flow_run: str | None = None,
    at: datetime | None = None,
) -> LetterSignOffResult:
    """Take legal's decision on the waiting letter when ``approver`` is on the legal roster and
    ``code`` is their authenticator's code at the moment it was given (``at``, as for the
    plan's sign-off), not used before; otherwise record the refused attempt (never the code)
    and leave the letter waiting. An approval lets ``send_response`` send it; a return holds
    the request with the reason. Nothing happens when no letter waits (approved already,
    returned and held, sent)."""
    # processing (its connectors, identity and package modules) is loaded by a decision only, not
    # by reading the letter's state (`dsar request show`)
    from dsar.services.letter_preview import letter_preview
    from dsar.services.processing import SUBMITTED_WITHIN, refuse_attempt

    approver = (approver or "").strip()
    # The letter as legal previews it now: its template and version are recorded with the decision.
    preview = letter_preview(ctx, request_id)
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        pending = letter_due(ctx, uow, r)
        if r.on_hold or pending is None or not pending.waits:
            return LetterSignOffResult(r.status)
        now = ctx.clock()
        given_at = at if at is not None and now - SUBMITTED_WITHIN <= at <= now else now
        proven = prove_approver(uow, approver, code, given_at)
        if isinstance(proven, SignOffRefusal):
            refuse_attempt(ctx, uow, request_id, proven, approver, via, now, LETTER_STEP)
            uow.commit()
            return LetterSignOffResult(r.status, refused=proven)
        step = (
            letter_approval_step(approval_number(uow, request_id)) if given.approved else letter_return_step(_returns(uow, request_id) + 1)
        )
        uow.decisions.record(request_id, step, given.decision.value, proven.name, given.note or None, now)
        same = preview is not None and preview.kind == pending.kind
        uow.audit.append(
            [
                LetterSignOffRecorded(
                    request_id,
                    now,
                    step,
                    given.decision.value,
                    proven.name,
                    pending.kind,
                    pending.also,
                    preview.template if same and preview else "",
                    preview.version if same and preview else "",
                    given.reason,
                    given.note,
                    "totp",
                    via,
                    flow_run,
                    preview.sources_version if same and preview else "",
                )
            ]
        )
        if not given.approved:
            r = recording.hold(uow, r, True, now, f"letter returned by legal: {given.reason}", proven.name)
        uow.commit()
        return LetterSignOffResult(r.status, recorded=True, returned=not given.approved)


def letter_sign_off_attempt(
    ctx: ServiceContext,
    request_id: str,
    *,
    decision: str,
    reason: str | None,
    note: str | None,
    approver: str,
    code: str,
    via: str,
    flow_run: str | None = None,
    at: datetime | None = None,
) -> LetterSignOffResult:
    """A letter sign-off as typed into a form nobody checked before (the Prefect UI's): a
    return without a reason (or an unreadable decision) is a refused attempt, recorded, and the
    letter keeps waiting."""
    try:
        given = letter_sign_off(decision, reason, note)
    except InvalidInput as exc:
        from dsar.services.processing import refuse_attempt

        returning = (decision or "").strip().lower() == LetterDecision.RETURN.value
        why = (
            SignOffRefusal.RETURN_WITHOUT_REASON
            if returning and any("a return needs" in p for p in exc.problems)
            else SignOffRefusal.INCOMPLETE
        )
        with ctx.uow() as uow:
            r = uow.requests.facts(request_id)
            pending = letter_due(ctx, uow, r)
            if r.on_hold or pending is None or not pending.waits:
                return LetterSignOffResult(r.status)
            refuse_attempt(ctx, uow, request_id, why, (approver or "").strip(), via, ctx.clock(), LETTER_STEP)
            uow.commit()
            return LetterSignOffResult(r.status, refused=why)
    return record_letter_sign_off(ctx, request_id, given, approver, code, via=via, flow_run=flow_run, at=at)
