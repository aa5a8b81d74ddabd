"""The use cases that carry a logged request to its closing letter, one per flow task.

Each function is idempotent: it reads where the record stands and does only what is left, so
the flow can be re-run from the top at any time. Each returns the request's status after it
ran, which carries no personal data. A function reads the request once per unit of work, and
only opens its personal data when the step needs it (the subject's address, name, corrections).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

from dsar.connectors.base import Capability, Connector, ExportRecord, SubjectKeys
from dsar.connectors.schema import Retain
from dsar.domain.decisions import (
    DENIAL_STEP,
    REFUSAL_TEXT,
    SIGN_OFF_STEP,
    DenialReason,
    SignOff,
    SignOffDecision,
    SignOffRefusal,
    denial_reason_text,
    manual_step_key,
    sign_off,
)
from dsar.domain.errors import DeliveryFailed, InvalidInput, TransitionNotAllowed
from dsar.domain.events import (
    DuplicateLinked,
    LetterSignOffLapsed,
    LetterSignOffRecorded,
    ManualStepConfirmed,
    PlanMade,
    SignOffRecorded,
    SignOffRefused,
    StatusChanged,
    SystemCorrected,
    SystemErased,
    SystemExported,
)
from dsar.domain.exemptions import GROUND_LABEL, LegalGround, exempt_whole, withheld
from dsar.domain.letter_sign_off import letter_approval_step, letter_lapse_step
from dsar.domain.letters import COULD_NOT_VERIFY_LETTER, DENIAL_LETTER, RESPONSE_LETTER
from dsar.domain.packages import AccessPackage
from dsar.domain.plan import (
    CorrectStep,
    EraseStep,
    ErasureKind,
    ExportStep,
    ManualStep,
    Operation,
    PlanStep,
    Receipt,
    counted_after_the_fact,
)
from dsar.domain.regimes import RequestType
from dsar.domain.request import Correction, Move, PrivacyRequest, Status, duplicate_reason
from dsar.domain.verification import (
    VerificationOutcome,
    correction_disputes_proof,
)
from dsar.services import exemptions, identity, notices, recording
from dsar.services.accounts import approver_digest, prove_approver
from dsar.services.appeals import appeal_link
from dsar.services.context import ServiceContext
from dsar.services.correspondence import hold_for_failed_delivery, letter_language, letter_request, send_letter
from dsar.services.package import ensure_package, legacy_summary, link_for, spool_export, wants_package
from dsar.services.pending_letter import PendingLetter, approval_number, letter_due, unverified
from dsar.services.ports import Attachment, UnitOfWork

__all__ = [
    "DenialReason",  # re-exported from the domain, as the flows name it
    "PendingLetter",
    "PendingManualStep",
    "SignOff",  # likewise
    "SignOffDecision",  # likewise
    "SignOffRefusal",  # likewise
    "SignOffResult",
    "SignOffState",
    "VerificationOutcome",  # likewise
    "VerificationState",
    "confirm_code",
    "confirm_manual_step",
    "describe_step",
    "dry_run_plan",
    "execute_plan",
    "exemptable",
    "is_manual",
    "letter_due",
    "manual_step_form",
    "pending_manual_steps",
    "plan_request",
    "plan_summary",
    "record_sign_off",
    "sign_off",
    "sign_off_attempt",
    "sign_off_state",
    "due_date",
    "reference_of",
    "send_response",
    "start_verification",
    "status_of",
    "verification_state",
]

OPERATION = {RequestType.ACCESS: Operation.EXPORT, RequestType.DELETION: Operation.ERASE, RequestType.CORRECTION: Operation.CORRECT}


@dataclass(frozen=True)
class VerificationState:
    """What the flow needs to wait for a code: no code, no personal data."""

    status: Status
    challenge_id: int | None
    attempts: int
    attempts_left: int


def status_of(ctx: ServiceContext, request_id: str) -> Status:
    with ctx.uow() as uow:
        return uow.requests.facts(request_id).status


def reference_of(ctx: ServiceContext, request_id: str) -> str:
    with ctx.uow() as uow:
        return uow.requests.facts(request_id).reference


# --- identity verification ------------------------------------------------------------------


def start_verification(ctx: ServiceContext, request_id: str) -> Status:
    """Open the request's identity verification (dsar.services.identity): the subject is looked
    up in the system of record and a single-use link and code go to the contact on file;
    nothing is sent for a subject not on file. The request then waits for the proofs."""
    return identity.start(ctx, request_id)


def verification_state(ctx: ServiceContext, request_id: str) -> VerificationState:
    with ctx.uow() as uow:
        status = uow.requests.facts(request_id).status
        case = uow.cases.get(request_id)
    attempts = case.attempts if case else 0
    return VerificationState(status, case.id if case else None, attempts, ctx.policy.verification.attempts_left(attempts))


@dataclass(frozen=True)
class AttemptResult:
    """How one code was judged: verified, more proof needed on the web pages, wrong (with the
    tries left), expired, or refused after too many tries. Nothing here is more than the subject
    may know."""

    outcome: VerificationOutcome | None
    attempts_left: int
    expired: bool


_OUTCOMES = {
    identity.StepOutcome.VERIFIED: VerificationOutcome.VERIFIED,
    identity.StepOutcome.MORE: VerificationOutcome.MORE_PROOF,
    identity.StepOutcome.WRONG: VerificationOutcome.WRONG_CODE,
    identity.StepOutcome.EXHAUSTED: VerificationOutcome.EXHAUSTED,
    identity.StepOutcome.INVALID: VerificationOutcome.NOT_WAITING,
}


def confirm_code(ctx: ServiceContext, request_id: str, code: str, *, via: str = "cli") -> VerificationOutcome:
    """Judge a one-time code (the proof of the contact on file, like the link). After the last
    allowed wrong code, or a code given after expiry, the request is denied as unverifiable."""
    return _OUTCOMES[identity.use_code(ctx, request_id, code, via=via).outcome]


def link_duplicate(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, now: datetime, contact: str | None) -> PrivacyRequest:
    return _link_duplicate(ctx, uow, r, now, contact)


def deny(uow: UnitOfWork, r: PrivacyRequest, at: datetime, *, by: str, reason: str) -> PrivacyRequest:
    return _deny(uow, r, at, by=by, reason=reason)


def _link_duplicate(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, now: datetime, verified: str | None) -> PrivacyRequest:
    """Link a request just verified to an earlier one it repeats, and end it (security probe,
    item 4: linking happens only here, after verification, never at intake).

    A duplicate is a request of the same type and regime, verified with the same contact (the
    address its code went to, compared by blind index), received within the duplicate window
    before this one, and answered or on its way to an answer. Its letters answer both: the
    later request is withdrawn as a duplicate, its clock stops, and it gets no second letter of
    the same content. Both requests were verified by the same person, so telling that person
    both references discloses nothing. A correction asking for something else is never a
    duplicate.
    """
    if verified is None:
        return r
    opened = uow.requests.get(r.id)
    contact = (verified,)
    uow.requests.record_verified_contact(r.id, contact[0])
    window = timedelta(hours=ctx.policy.duplicate_window_hours)
    received = r.received_at
    for first in uow.requests.verified_with(contact[0], r.type, r.regime, received - window, received):
        if first.id == r.id or (first.received_at, first.reference) > (received, r.reference):
            continue
        if r.type is RequestType.CORRECTION and uow.requests.get(first.id).corrections != opened.corrections:
            continue
        uow.requests.link(r.id, first.id)
        uow.audit.append(
            [
                DuplicateLinked(r.id, now, other=first.id, other_reference=first.reference, role="duplicate"),
                DuplicateLinked(first.id, now, other=r.id, other_reference=r.reference, role="original"),
            ]
        )
        return recording.move(uow, replace(r, linked_to=first.id), Move.WITHDRAW, now, duplicate_reason(first.reference))
    return r


def _deny(uow: UnitOfWork, r: PrivacyRequest, at: datetime, *, by: str, reason: str) -> PrivacyRequest:
    """Deny and keep the reason the denial letter gives (the subject's, never an internal note)
    beside the decision (sealed at rest)."""
    reason = str(reason)  # recorded in English (a letter gives it in its own language)
    denied = recording.move(uow, r, Move.DENY, at, reason)
    uow.decisions.record(r.id, DENIAL_STEP, "deny", by, reason, at)
    return denied


# --- planning and sign-off ------------------------------------------------------------------


def _verified_keys(ctx: ServiceContext, r: PrivacyRequest) -> SubjectKeys:
    # The identifiers the system of record links to the verified subject; nothing typed only.
    with ctx.uow() as uow:
        return identity.verified_keys(ctx, uow, r)


def _kept(ctx: ServiceContext, system: str, operation: Operation) -> str | None:
    """The data map's reason to keep a manual system's records when a deletion asks to erase."""
    m = next((x for x in ctx.data_map if x.system == system), None)
    rule = getattr(m, "erase", None)
    return rule.retain if operation is Operation.ERASE and isinstance(rule, Retain) else None


def _plan_system(connector: Connector, keys: SubjectKeys, operation: Operation, corrections: tuple[Correction, ...]) -> PlanStep:
    located = connector.locate(keys)
    n = len(located.matches)
    able = Capability(operation.value) in connector.capabilities and n > 0
    if operation is Operation.ERASE:
        return EraseStep(connector.system, n, tuple(connector.plan_erasure(located)) if able else ())
    if operation is Operation.CORRECT:
        return CorrectStep(connector.system, n, tuple(connector.plan_correction(located, corrections)) if able else ())
    return ExportStep(connector.system, n, tuple(sorted({m.entity for m in located.matches})))


@dataclass(frozen=True)
class _Plan:
    steps: list[PlanStep]
    unsupported: list[str]  # systems with matches that cannot do what the request needs
    unmapped: list[str]  # systems whose data map has no erasure rule for some matched entity


def _compute_plan(ctx: ServiceContext, r: PrivacyRequest) -> _Plan:
    """Locate the subject everywhere and say, per system, what the request needs done there.
    Each system's connector is built when its turn comes and closed after."""
    operation = OPERATION[r.type]
    keys = _verified_keys(ctx, r)
    plan = _Plan([], [], [])
    for system in ctx.connectors.systems():
        if ctx.connectors.is_manual(system):
            plan.steps.append(ManualStep(system, operation, _kept(ctx, system, operation)))
            continue
        with ctx.connectors.open(system) as connector:
            step = _plan_system(connector, keys, operation, r.corrections)
            if step.matches and Capability(operation.value) not in connector.capabilities:
                plan.unsupported.append(system)
        if isinstance(step, EraseStep) and step.unmapped:
            plan.unmapped.append(system)
        plan.steps.append(step)
    return plan


def dry_run_plan(ctx: ServiceContext, request_id: str) -> list[PlanStep]:
    """The plan the request would get now, computed without storing or changing anything."""
    with ctx.uow() as uow:
        r = uow.requests.get(request_id)
    if r.type is RequestType.APPEAL:
        return []  # an appeal is decided by legal: nothing is searched or changed
    return _compute_plan(ctx, r).steps


def _hold_reason(operation: Operation, plan: _Plan, disputed_proof: bool) -> str | None:
    if plan.unsupported:
        return f"{operation.value} not supported by: {', '.join(plan.unsupported)}"
    if disputed_proof:
        # 11 CCR 7060: verify a correction with data other than the data disputed. The code
        # went to an email, the very data in dispute: a person verifies by other means.
        return "a correction of the email address: verify the subject by other means than that email (11 CCR 7060), then release"
    if plan.unmapped:
        return f"no erasure rule in the data map for some entities of: {', '.join(plan.unmapped)}"
    return None


def plan_request(ctx: ServiceContext, request_id: str) -> Status:
    """Locate the subject in every system of the data map and record what will be done.

    A system that cannot do what the request needs is recorded as such and the request goes on
    hold for a person: the engine never reports work it did not do.
    """
    with ctx.uow() as uow:
        r = uow.requests.get(request_id)
        if r.status is Status.VERIFIED and not r.on_hold:
            r = recording.move(uow, r, Move.START_PLANNING, ctx.clock())
            uow.commit()
        if r.status is not Status.PLANNING or r.on_hold:
            return r.status
    # Connectors are slow and remote: no transaction is held open while they answer.
    plan = _compute_plan(ctx, r)
    operation = OPERATION[r.type]
    with ctx.uow() as uow:
        now_r = uow.requests.facts(request_id)  # a concurrent run may have moved it meanwhile
        if now_r.status is not Status.PLANNING:
            return now_r.status
        if not uow.plans.get(request_id):
            uow.plans.save(request_id, plan.steps)
        now = ctx.clock()
        uow.audit.append([PlanMade(request_id, now, tuple((s.system, s.operation.value, s.matches) for s in plan.steps))])
        # A request verified through its verification case never proved the email it corrects
        # (the link never goes to an address being corrected); one verified by the old code did.
        disputed = uow.cases.get(request_id) is None and correction_disputes_proof(r)
        reason = _hold_reason(operation, plan, operation is Operation.CORRECT and disputed)
        if reason is not None:
            changed = recording.hold(uow, now_r, True, now, reason)
        else:
            changed = recording.move(uow, now_r, Move.SUBMIT_PLAN, now)
        uow.commit()
        return changed.status


def describe_step(step: PlanStep) -> str:
    """A plan step for people: erasure and correction actions spelled out, entity by entity."""
    return step.describe()


def is_manual(step: PlanStep) -> bool:
    return isinstance(step, ManualStep)


def _days_left(ctx: ServiceContext, due: date) -> int:
    return (due - ctx.clock().astimezone(ctx.policy.timezone).date()).days


def due_date(ctx: ServiceContext, request_id: str) -> date:
    """The request's current due date (no personal data): for the run's ``due:`` tag."""
    with ctx.uow() as uow:
        return uow.deadlines.get(request_id).due


def plan_summary(ctx: ServiceContext, request_id: str, refused: SignOffRefusal | None = None) -> str:
    """Markdown for the sign-off form: reference, type, regime, due date and days left, and per
    system what is found and done and what stays and why, as a list (a narrow dialog shows it
    whole). No personal data: Prefect shows and stores this text."""
    with ctx.uow() as uow:
        r = uow.requests.get(request_id)  # a correction lists the attributes asked for
        d = uow.deadlines.get(request_id)
        plan = uow.plans.get(request_id)
    left = _days_left(ctx, d.due)
    when = f"{left} day(s) left" if left >= 0 else f"{-left} day(s) late"
    lines = [f"### {r.reference}: {r.type.value} request under `{r.regime}`", ""]
    if refused is not None:
        lines += [f"**The last attempt was refused: {REFUSAL_TEXT[refused]}.** The request is still waiting.", ""]
    lines += [
        f"- **Due** {d.due.isoformat()} ({when})",
        "- **Verification**: identity verified by one-time code to the subject's email",
        f"- **Systems**: {len(plan)}",
        "",
        "#### Plan, system by system",
        "",
    ]
    fields = exemptions.plan_fields(ctx, plan)
    for s in plan:
        found = "done by hand (a person confirms)" if is_manual(s) else f"{s.matches} record(s) found"
        lines.append(f"- **{s.system}**: {s.operation.value}; {found}")
        lines += [f"    - {part.strip()}" for part in s.describe().split(";") if part.strip()]
        lines += [f"    - fields of `{e}`: {', '.join(names)}" for (sys, e), names in fields.items() if sys == s.system and names]
    if r.type in (RequestType.CORRECTION, RequestType.DELETION):
        recipients = _recipients_to_inform(ctx, plan)
        mailed = notices.recipients_to_notify(ctx, plan)
        if mailed:
            lines += ["", "GDPR Art. 19 / CCPA: dsar mails these recipients a notice of the change: " + "; ".join(sorted(mailed))]
        by_hand = [x for x in recipients if x not in mailed]
        if by_hand:
            lines += ["", "GDPR Art. 19 / CCPA: tell these recipients of the change (no address in the data map): " + "; ".join(by_hand)]
    if r.type is RequestType.CORRECTION:
        held = {a.attribute for st in plan if isinstance(st, CorrectStep) for a in st.actions}
        asked = [c.attribute for c in r.corrections]
        lines += [
            "",
            "Attributes to correct: " + ", ".join(f"`{a}`" + ("" if a in held else " (held in no mapped system)") for a in asked),
        ]
    if ctx.policy.console_url:
        lines += ["", f"[Preview the letter]({ctx.policy.console_url}/console/requests/{r.reference}/letter-preview) (console)"]
    lines += [
        "",
        "#### Your decision",
        "",
        "- **approve** releases the response; **deny** refuses the request and needs a **reason** for the subject "
        "(`other` needs the reason in words).",
        "- **Exemptions** (approve only): tick what to keep out of the answer and pick its **ground**; the letter follows. Grounds:",
        *(f"    - `{g.value}`: {GROUND_LABEL[g]}" for g in LegalGround),
        "- The **note** is internal: kept encrypted for the file and the auditors, never in a letter.",
        "- Pick your name from the legal roster and type the 6-digit code your authenticator app shows now.",
    ]
    return "\n".join(lines)


def exemptable(ctx: ServiceContext, request_id: str) -> list[str]:
    """What legal may exempt in the request's stored plan (names only, no personal data)."""
    with ctx.uow() as uow:
        plan = uow.plans.get(request_id)
    return exemptions.exemption_targets(ctx, plan)


# How long a sign-off submitted while no worker ran is checked against the moment it was given.
SUBMITTED_WITHIN = timedelta(days=7)


@dataclass(frozen=True)
class SignOffResult:
    """What became of a sign-off attempt (no personal data): ``recorded`` when the decision was
    taken; ``refused`` says why not (the request keeps waiting); neither when the request no
    longer waited for one."""

    status: Status
    recorded: bool = False
    refused: SignOffRefusal | None = None


@dataclass(frozen=True)
class SignOffState:
    status: Status
    refused_attempts: int
    last_refusal: SignOffRefusal | None


def _refusals(uow: UnitOfWork, request_id: str, step: str | None = None) -> list[SignOffRefusal]:
    """The refused sign-off attempts recorded for the request (of one ``step`` when given)."""
    out = []
    for e in uow.audit.events(request_id):
        if e.kind == SignOffRefused.kind and (step is None or e.details.get("step") == step):
            try:
                out.append(SignOffRefusal(str(e.details.get("reason"))))
            except ValueError:
                out.append(SignOffRefusal.WRONG_CODE)
    return out


def sign_off_state(ctx: ServiceContext, request_id: str) -> SignOffState:
    """How many sign-off attempts were refused so far, and the last one's reason: the flow waits
    for the next under a key of its own and says why the last was refused."""
    with ctx.uow() as uow:
        status = uow.requests.facts(request_id).status
        refused = _refusals(uow, request_id)
    return SignOffState(status, len(refused), refused[-1] if refused else None)


def _refuse(
    ctx: ServiceContext,
    uow: UnitOfWork,
    request_id: str,
    why: SignOffRefusal,
    approver: str,
    via: str,
    now: datetime,
    step: str = SIGN_OFF_STEP,
) -> None:
    """Record a refused attempt at ``step`` (the plan's sign-off, the letter's): the approver's
    name when it is a staff account's, else only a keyed digest of what was typed; never the code."""
    attempt = len(_refusals(uow, request_id)) + 1
    staff = uow.accounts.find(approver) if approver and len(approver) <= 64 else None
    name, digest = (staff.name, None) if staff is not None else (None, approver_digest(ctx, approver))
    uow.audit.append([SignOffRefused(request_id, now, step, attempt, why.value, name, digest, via)])


def refuse_attempt(
    ctx: ServiceContext, uow: UnitOfWork, request_id: str, why: SignOffRefusal, approver: str, via: str, now: datetime, step: str
) -> None:
    _refuse(ctx, uow, request_id, why, approver, via, now, step)


def record_sign_off(
    ctx: ServiceContext,
    request_id: str,
    given: SignOff,
    approver: str,
    code: str,
    *,
    via: str,
    flow_run: str | None = None,
    at: datetime | None = None,
) -> SignOffResult:
    """Take legal's decision when ``approver`` is on the legal roster and ``code`` is their
    authenticator's code at the moment it was given (``at``: when the form was submitted, if
    that was earlier and within :data:`SUBMITTED_WITHIN`; else now), not used before.
    Otherwise record the refused attempt (never the code) and leave the request waiting. The
    decision, its reason for the subject and the internal note (sealed) go into the audit
    trail; the note never reaches a letter."""
    approver = (approver or "").strip()
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        if uow.decisions.get(request_id, SIGN_OFF_STEP) is not None or r.status is not Status.AWAITING_SIGN_OFF:
            return SignOffResult(r.status)
        now = ctx.clock()
        given_at = at if at is not None and now - SUBMITTED_WITHIN <= at <= now else now
        plan = uow.plans.get(request_id)
        # An exemption of something the plan does not hold is refused before the code is spent.
        refusal = SignOffRefusal.EXEMPTION_NOT_IN_PLAN if exemptions.outside_plan(ctx, plan, given.exemptions) else None
        proven = refusal or prove_approver(uow, approver, code, given_at)
        if isinstance(proven, SignOffRefusal):
            _refuse(ctx, uow, request_id, proven, approver, via, now)
            uow.commit()
            return SignOffResult(r.status, refused=proven)
        name = proven.name
        if given.approved and given.exemptions:
            # The stored plan becomes the approved one: execution and the letter follow it.
            uow.plans.revise(request_id, exemptions.revised(ctx, plan, given.exemptions))
        uow.decisions.record(request_id, SIGN_OFF_STEP, given.decision.value, name, given.note or None, now)
        uow.audit.append(
            [
                SignOffRecorded(
                    request_id,
                    now,
                    SIGN_OFF_STEP,
                    given.decision.value,
                    name,
                    given.reason.value if given.reason is not None else None,
                    given.reason_text,
                    given.note,
                    "totp",
                    via,
                    flow_run,
                    tuple((e.target, e.ground.value) for e in given.exemptions),
                )
            ]
        )
        if given.approved:
            r = recording.move(uow, r, Move.APPROVE_PLAN, now, f"approved by {name}")
        else:
            r = _deny(uow, r, now, by=name, reason=given.subject_reason())
        uow.commit()
        return SignOffResult(r.status, recorded=True)


def sign_off_attempt(
    ctx: ServiceContext,
    request_id: str,
    *,
    decision: str,
    reason: str | None,
    reason_text: str | None,
    note: str | None,
    approver: str,
    code: str,
    via: str,
    flow_run: str | None = None,
    at: datetime | None = None,
    exempt: Sequence[tuple[str, str | None]] = (),
) -> SignOffResult:
    """A sign-off as typed into a form nobody checked before (the Prefect UI's): an incomplete
    decision (a denial without a reason for the subject) is a refused attempt like a wrong code,
    recorded, and the request keeps waiting; so is an exemption without its legal ground."""
    try:
        given = sign_off(decision, reason, reason_text, note, exempt)
    except InvalidInput as exc:
        grounds = any(p.startswith(("exempt", "ground")) for p in exc.problems)
        why = SignOffRefusal.EXEMPTION_WITHOUT_GROUND if grounds else SignOffRefusal.INCOMPLETE
        with ctx.uow() as uow:
            r = uow.requests.facts(request_id)
            if uow.decisions.get(request_id, SIGN_OFF_STEP) is not None or r.status is not Status.AWAITING_SIGN_OFF:
                return SignOffResult(r.status)
            _refuse(ctx, uow, request_id, why, (approver or "").strip(), via, ctx.clock())
            uow.commit()
            return SignOffResult(r.status, refused=why)
    return record_sign_off(ctx, request_id, given, approver, code, via=via, flow_run=flow_run, at=at)


# --- manual systems -------------------------------------------------------------------------

ManualOutcome = Literal["done", "nothing found", "cannot do it"]


@dataclass(frozen=True)
class PendingManualStep:
    """A manual system waiting for a person (no personal data)."""

    system: str
    title: str
    operation: str
    instructions: str


def _pending(ctx: ServiceContext, uow: UnitOfWork, request_id: str) -> list[PendingManualStep]:
    done = {(x.system, x.operation) for x in uow.plans.receipts(request_id)}
    maps = {m.system: m for m in ctx.data_map}
    out = []
    for st in uow.plans.get(request_id):
        if not isinstance(st, ManualStep) or not st.needs_person or (st.system, st.operation.value) in done:
            continue
        m = maps.get(st.system)
        out.append(
            PendingManualStep(st.system, m.title if m else st.system, st.operation.value, getattr(m, "instructions", "") if m else "")
        )
    return out


def pending_manual_steps(ctx: ServiceContext, request_id: str) -> list[PendingManualStep]:
    """Manual systems of the approved plan that no one has confirmed yet (no personal data)."""
    with ctx.uow() as uow:
        return _pending(ctx, uow, request_id)


def manual_step_form(ctx: ServiceContext, request_id: str, step: PendingManualStep) -> str:
    """Markdown above the confirmation form: what to do, for which request (no personal data:
    the person looks the subject up with `dsar request show REF --reveal`)."""
    ref = reference_of(ctx, request_id)
    return "\n".join(
        [
            f"### {ref}: {step.operation} in **{step.title}** (by hand)",
            "",
            step.instructions,
            "",
            f"The subject's details: `dsar request show {ref} --reveal` (the look-up is audited).",
            "",
            "Say what you did: **done** (with the number of records), **nothing found**, or **cannot do it** (the request is held).",
        ]
    )


def confirm_manual_step(
    ctx: ServiceContext, request_id: str, system: str, outcome: str, records: int, person: str, note: str | None
) -> Status:
    """Record what a person did in a manual system; when none is left, execution finishes."""
    person = person.strip()
    if outcome not in ("done", "nothing found", "cannot do it"):
        raise InvalidInput("outcome must be done, nothing found or cannot do it", ["outcome: unknown"])
    if not person:
        raise InvalidInput("say who did it", ["person: required"])
    if records < 0:
        raise InvalidInput("records cannot be negative", ["records: negative"])
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        pending = {m.system: m for m in _pending(ctx, uow, request_id)}
        if r.status is not Status.EXECUTING or system not in pending:
            return r.status
        now = ctx.clock()
        step = pending[system]
        uow.decisions.record(request_id, manual_step_key(system), outcome, person, note or None, now)
        uow.plans.add_receipt(request_id, Receipt(system, step.operation, records if outcome == "done" else 0, None, now))
        uow.audit.append([ManualStepConfirmed(request_id, now, system, step.operation, outcome, records, person)])
        if outcome == "cannot do it":
            recording.hold(uow, r, True, now, f"{system}: the manual step could not be done")
        uow.commit()
    return execute_plan(ctx, request_id)


# --- execution and response -----------------------------------------------------------------


def _export_key(request_id: str, system: str) -> str:
    return f"exports/{request_id}/{system}.json.enc"


def _export_aad(request_id: str, system: str) -> str:
    return f"export/{request_id}/{system}"


def _export(ctx: ServiceContext, r: PrivacyRequest, keys: SubjectKeys, step: ExportStep) -> None:
    """Stream the subject's records from one system, without what legal exempted and redacted
    (dsar.services.package.spool_export), into sealed spools; keep the summary (counts,
    columns, no values) sealed under the request's key beside one receipt."""
    with ctx.connectors.open(step.system) as connector:
        located = connector.locate(keys)
        exported = connector.export(located)
        if step.exemptions:
            exported = (kept for rec in exported if (kept := _exempted(step, rec)) is not None)
        # Legal's exemptions left out (none: the records as they come), then redacted and
        # spooled as they stream (constant memory).
        summary = spool_export(ctx, r.id, step.system, exported, keep=wants_package(r))
    payload = json.dumps(summary, default=str, sort_keys=True).encode()
    with ctx.uow() as uow:
        key = _export_key(r.id, step.system)
        ctx.objects.put(key, uow.keys.seal(r.id, payload, _export_aad(r.id, step.system)))
        now = ctx.clock()
        uow.plans.add_receipt(r.id, Receipt(step.system, Operation.EXPORT.value, summary["records"], key, now))
        uow.audit.append([SystemExported(r.id, now, step.system, summary["records"])])
        uow.commit()


def _exempted(step: ExportStep, rec: ExportRecord) -> ExportRecord | None:
    """The record as legal approved it (:func:`withheld`): None when its entity is exempt; a
    document's content goes only while its field (``content_base64``, its name in earlier
    builds) is not exempt."""
    fields = dict(rec.fields)
    if rec.content is not None:
        fields[_CONTENT] = True
    c = withheld(step, {"entity": rec.entity, "key": rec.key, "fields": fields, "categories": dict(rec.categories)})
    if c is None:
        return None
    kept = c["fields"].pop(_CONTENT, None) is not None and rec.content is not None
    return ExportRecord(c["entity"], c["key"], c["fields"], c["categories"], rec.content if kept else None)


_CONTENT = "content_base64"


def _erase(ctx: ServiceContext, r: PrivacyRequest, keys: SubjectKeys, step: EraseStep) -> None:
    """Carry out exactly the approved erasure actions in one system; one receipt."""
    with ctx.connectors.open(step.system) as connector:
        receipt = connector.erase(connector.locate(keys), list(step.actions))
        # What is left is counted afterwards, so an erasure done by a run that died before its
        # receipt was kept is still counted (security probe, item 6).
        left = Counter(m.entity for m in connector.locate(keys).matches)
    counts, recounted = counted_after_the_fact(step.actions, receipt.counts, left, _root_entities(ctx, step))
    # Under legal's field exemptions: which fields were erased and which kept (names only).
    fields = {a.entity: {"anonymised": list(a.fields), "kept": list(a.keep)} for a in step.actions if a.keep and a.entity in counts}
    with ctx.uow() as uow:
        now = ctx.clock()
        total = sum(n for per in counts.values() for n in per.values())
        uow.plans.add_receipt(r.id, Receipt(step.system, Operation.ERASE.value, total, None, now))
        uow.audit.append([SystemErased(r.id, now, step.system, counts, recounted, fields)])
        uow.commit()


def _root_entities(ctx: ServiceContext, step: EraseStep) -> set[str]:
    """The entities the system locates the subject by: an SQL system's roots (the others are
    reached through them); every entity of the other connector types."""
    system = next((m for m in ctx.data_map if m.system == step.system), None)
    roots = getattr(system, "roots", None)
    return set(roots()) if callable(roots) else {a.entity for a in step.actions}


def _correct(ctx: ServiceContext, r: PrivacyRequest, keys: SubjectKeys, step: CorrectStep) -> None:
    """Carry out the approved corrections in one system; one receipt. The receipt's old and new
    values are keyed hashes: the audit proves what changed, not what was."""
    changes: list[dict[str, str]] = []
    unchanged, counts = 0, {}
    if step.actions:
        with ctx.connectors.open(step.system) as connector:
            receipt = connector.correct(connector.locate(keys), step.actions, r.corrections)
        changes, unchanged, counts = [c.as_json() for c in receipt.changes], receipt.unchanged, receipt.counts()
    with ctx.uow() as uow:
        now = ctx.clock()
        uow.plans.add_receipt(r.id, Receipt(step.system, Operation.CORRECT.value, len(changes), None, now))
        uow.audit.append([SystemCorrected(r.id, now, step.system, counts, unchanged, changes)])
        uow.commit()


def execute_plan(ctx: ServiceContext, request_id: str) -> Status:
    """Carry out the approved plan, system by system: each system's work is committed with its
    receipt on its own, so a re-run after a failure does only what is left."""
    with ctx.uow() as uow:
        r = uow.requests.get(request_id)
        if r.status is not Status.EXECUTING or r.on_hold:
            return r.status
        done = {(x.system, x.operation) for x in uow.plans.receipts(request_id)}
        todo = [
            s
            for s in uow.plans.get(request_id)
            if s.matches and not is_manual(s) and not exempt_whole(s) and (s.system, s.operation.value) not in done
        ]
    keys = _verified_keys(ctx, r)
    for step in todo:
        if isinstance(step, EraseStep):
            _erase(ctx, r, keys, step)
        elif isinstance(step, CorrectStep):
            _correct(ctx, r, keys, step)
        elif isinstance(step, ExportStep):
            _export(ctx, r, keys, step)
    if r.type is RequestType.ACCESS:
        _package_after_export(ctx, r)
    with ctx.uow() as uow:
        if _pending(ctx, uow, request_id):
            return Status.EXECUTING  # the flow waits for a person to confirm each manual system
        now_r = uow.requests.facts(request_id)
        if now_r.status is Status.EXECUTING and not now_r.on_hold:
            now_r = recording.move(uow, now_r, Move.FINISH_EXECUTION, ctx.clock())
            uow.commit()
        return now_r.status


def _corrections_outcome(plan: list[PlanStep], r: PrivacyRequest, systems: dict[str, Any]) -> list[dict[str, Any]]:
    """Per requested attribute: the systems that now hold the corrected value, for the letter."""
    where: dict[str, list[str]] = {c.attribute: [] for c in r.corrections}
    for st in plan:
        if not isinstance(st, CorrectStep):
            continue
        for a in st.actions:
            title = systems[st.system].title if st.system in systems else st.system
            if a.attribute in where and title not in where[a.attribute]:
                where[a.attribute].append(title)
    return [{"attribute": a, "systems": titles} for a, titles in where.items()]


def _recipients_to_inform(ctx: ServiceContext, plan: list[PlanStep]) -> list[str]:
    """Recipients named in the data map for the systems a correction or erasure changes."""
    systems = {m.system: m for m in ctx.data_map}
    changed = [st.system for st in plan if isinstance(st, EraseStep | CorrectStep) and st.changes_data]
    return sorted({x for name in changed if name in systems for x in systems[name].recipients})


def _denial_reason(uow: UnitOfWork, request_id: str) -> str:
    """Why the request was denied, as the subject is told: kept beside the denial decision
    (legal's reason code in plain words, or the verification outcome). Never legal's internal
    note. Requests denied before it was kept there have it only in the audit trail's status
    change; one denied at an old sign-off gets the letter's generic sentence (its status change
    said only who denied it)."""
    denial = uow.decisions.get(request_id, DENIAL_STEP)
    if denial is not None:
        return _reason_in_words(uow, request_id, denial.note or "")
    if uow.decisions.get(request_id, SIGN_OFF_STEP) is not None:
        return ""
    for e in reversed(uow.audit.events(request_id)):
        if e.kind == StatusChanged.kind and e.details.get("to") == Status.DENIED.value:
            return str(e.details.get("reason", ""))
    return ""


def _reason_in_words(uow: UnitOfWork, request_id: str, recorded: str) -> str:
    """The recorded reason (English), able to be printed in the letter's language: when it is
    still what legal's reason code at sign-off says (the code and legal's words are in the
    SignOffRecorded event), the code's sentence from the approved vocabulary, legal's words as
    typed. Nothing new is recorded; legal's own text for ``other`` stays as typed."""
    if not recorded:
        return recorded
    for e in reversed(uow.audit.events(request_id)):
        if e.kind == SignOffRecorded.kind and e.details.get("step") == SIGN_OFF_STEP and e.details.get("decision") == "deny":
            try:
                code = DenialReason(str(e.details.get("reason")))
            except ValueError:
                return recorded
            words = denial_reason_text(code, str(e.details.get("reason_text") or ""))
            return words if words == recorded else recorded
    return recorded


def send_response(ctx: ServiceContext, request_id: str) -> Status:
    """Render and send the closing letter once, then close (or stay denied). A letter that
    cannot be sent holds the request with the reason (nothing else is recorded)."""
    try:
        return _send_response(ctx, request_id)
    except DeliveryFailed as failed:
        return hold_for_failed_delivery(ctx, request_id, failed)


def refusal_letters_owed(ctx: ServiceContext, request_ids: Sequence[str]) -> set[str]:
    """Of these requests, the refused ones (DENIED) whose refusal letter has not gone yet (it
    waits for legal's approval, was returned, or could not be delivered): the subject is not
    answered, whatever the stopped clock says. Reads only the DENIED ones."""
    owed: set[str] = set()
    with ctx.uow() as uow:
        for request_id in request_ids:
            r = uow.requests.facts(request_id)
            if r.status is Status.DENIED and letter_due(ctx, uow, r) is not None:
                owed.add(request_id)
    return owed


def lapse_changed_approval(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, pending: PendingLetter) -> bool:
    """Legal approved the letter as it was previewed; if the files it is made of changed since
    (a template, a partial, the layout or the vocabulary approved anew), what would go is not
    what legal read: the approval lapses (``LetterSignOffLapsed`` and a decision step
    ``letter-lapsed-N`` that :func:`letter_due` reads, in ``uow``, for the caller to commit)
    and the letter waits for a new one. True when it lapsed. An approval recorded without its
    versions (an earlier build) stands."""
    from dsar.services.letter_preview import preview_in

    if not (pending.needs_sign_off and pending.approved):
        return False
    n = approval_number(uow, r.id)
    step = letter_approval_step(n)
    events = uow.audit.events(r.id)
    approved = next((e.details for e in reversed(events) if e.kind == LetterSignOffRecorded.kind and e.details.get("step") == step), None)
    if approved is None or not approved.get("template_version"):
        return False
    preview = preview_in(ctx, uow, r)
    if preview is None or preview.kind != approved.get("letter"):
        return False
    was = str(approved.get("sources_version") or "")
    same = preview.template == approved.get("template") and preview.version == approved.get("template_version")
    if same and (not was or was == preview.sources_version):
        return False
    now = ctx.clock()
    uow.decisions.record(r.id, letter_lapse_step(n), "lapsed", "dsar", None, now)
    before, after = (str(approved.get("template_version")), preview.version) if not same else (was, preview.sources_version)
    uow.audit.append([LetterSignOffLapsed(r.id, now, step, pending.kind, preview.template, before, after)])
    return True


def _send_response(ctx: ServiceContext, request_id: str) -> Status:
    with ctx.uow() as uow:
        r = uow.requests.get(request_id)
        if r.on_hold:
            return r.status
        pending = letter_due(ctx, uow, r)
        if pending is not None and pending.waits:
            return r.status  # legal approves the letter first (dsar.services.letter_sign_off)
        if pending is not None and lapse_changed_approval(ctx, uow, r, pending):
            uow.commit()  # the letter legal approved must be the letter that goes: it waits again
            return r.status
        kind = {Status.RESPONDING: RESPONSE_LETTER.get(r.type), Status.DENIED: DENIAL_LETTER}.get(r.status)
        if r.status is Status.DENIED and unverified(uow, request_id):
            return _could_not_verify(ctx, uow, r)
        if r.status is Status.RESPONDING and kind is None:
            raise TransitionNotAllowed(f"{r.reference}: this build writes no response letter for {r.type.value} requests")
        if kind is None or uow.letters.get(request_id, kind) is not None:
            return r.status
        exports = _summaries(ctx, uow, request_id)
        packaged = kind == RESPONSE_LETTER[RequestType.ACCESS] and wants_package(r)
        package = uow.packages.for_request(request_id) if packaged else None
        if not packaged or package is not None or not any(e["records"] for e in exports):
            return _respond(ctx, uow, r, kind, package)
    # Exported by a run of an earlier build (the package is normally made at the end of
    # execution): spooled and packaged now, then the letter in a unit of work of its own.
    ensure_package(ctx, r, [legacy_summary(ctx, request_id, e) if isinstance(e.get("records"), list) else e for e in exports])
    with ctx.uow() as uow:
        current = uow.requests.facts(request_id)
        if current.on_hold or current.status is not r.status:
            return current.status
        return _respond(ctx, uow, r, kind, uow.packages.for_request(request_id))


def _could_not_verify(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest) -> Status:
    """The could-not-verify letter, once. It goes to the address the request gave, whether or
    not the subject was found on file, so the requester gets the same answer either way
    (THREATS 9); it discloses nothing. A request that gave no address (phone, post) gets it at
    the email on file of a subject found there; else no letter goes (recorded as channel none)."""
    if uow.letters.get(r.id, COULD_NOT_VERIFY_LETTER) is not None:
        return r.status
    full = uow.requests.get(r.id)
    context = could_not_verify_context(ctx, uow, full)
    send_letter(ctx, uow, full, COULD_NOT_VERIFY_LETTER, context, to=full.subject.primary_email or identity.letter_address(uow, full))
    uow.commit()
    return r.status


def could_not_verify_context(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest) -> dict[str, Any]:
    """What the could-not-verify letter is rendered from (the letter preview renders the same)."""
    return {
        "request": letter_request(r),
        "organisation": ctx.policy.organisation_name,
        "contact": ctx.policy.privacy_contact,
        "due": uow.deadlines.get(r.id).due,
        "sent_on": ctx.clock().date(),
        # A refusal like any other: where the regime gives an appeal, its page for this request.
        "appeal_url": appeal_link(ctx, r),
    }


def _respond(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, kind: str, package: AccessPackage | None) -> Status:
    context, _ = response_context(ctx, uow, r, kind, package)
    send_letter(ctx, uow, r, kind, context)  # never an attachment: the access copy is behind the package's link
    if r.status is Status.RESPONDING:
        # The part of the request the approved plan keeps, with its grounds; the recipients of
        # erased or corrected data, told at the addresses the data map gives (GDPR Art. 19).
        plan = uow.plans.get(r.id)
        notices.send_partial_refusal(ctx, uow, r, plan)
        notices.send_recipient_notices(ctx, uow, r, plan)
        r = recording.move(uow, r, Move.CLOSE, ctx.clock())
    uow.commit()
    return r.status


def _summaries(ctx: ServiceContext, uow: UnitOfWork, request_id: str) -> list[dict[str, Any]]:
    """What each export step kept: a summary (counts, categories, columns; the records wait in
    sealed spools), or, for a step of an earlier build, the records themselves."""
    return [
        json.loads(uow.keys.open(request_id, ctx.objects.get(rc.object_key), _export_aad(request_id, rc.system)))
        for rc in uow.plans.receipts(request_id)
        if rc.object_key
    ]


def _package_after_export(ctx: ServiceContext, r: PrivacyRequest) -> None:
    """Build the access package once every system's export is spooled (the letter carries
    its link); nothing when the request gets none or nothing was found."""
    if not wants_package(r):
        return
    with ctx.uow() as uow:
        if uow.packages.for_request(r.id) is not None:
            return
        exports = _summaries(ctx, uow, r.id)
    if any(isinstance(e.get("records"), list) for e in exports):
        return  # exported by an earlier build: packaged when the letter is sent
    ensure_package(ctx, r, exports)


def _records_of(export: dict[str, Any]) -> int:
    return len(export["records"]) if isinstance(export["records"], list) else int(export["records"])


def _categories(export: dict[str, Any]) -> set[str]:
    if isinstance(export["records"], list):  # an earlier build's export: the records themselves
        return {c for rec in export["records"] for c in rec["categories"].values()}
    return set(export.get("categories", []))


def response_context(
    ctx: ServiceContext,
    uow: UnitOfWork,
    r: PrivacyRequest,
    kind: str,
    package: AccessPackage | None = None,
    *,
    placeholder_link: bool = False,
) -> tuple[dict[str, Any], list[Attachment]]:
    """What the closing letter of ``kind`` is rendered from, as things stand: the receipts and
    export summaries so far, the stored plan with legal's exemptions, and the access package's
    link (``placeholder_link``: a stand-in where a package will be, for the letter preview,
    which never shows a real link). The attachments are always none: the access copy is
    behind the link. The letter preview renders the same before anything was done."""
    request_id = r.id
    receipts = uow.plans.receipts(request_id)
    exports = _summaries(ctx, uow, request_id)
    plan = uow.plans.get(request_id)
    systems = {m.system: m for m in ctx.data_map}
    used = [systems[e["system"]] for e in exports if e["system"] in systems and e["records"]]
    by_hand = [rc for rc in receipts if rc.system in systems and systems[rc.system].type == "manual" and rc.records]
    used += [systems[rc.system] for rc in by_hand]
    records = [_records_of(e) for e in exports]
    link: dict[str, Any] | None = link_for(ctx, package, letter_language(r)).__dict__ if package is not None else None
    if link is None and placeholder_link and kind == RESPONSE_LETTER[RequestType.ACCESS] and wants_package(r):
        link = {"url": "[the single-use download link]", "expires_at": ctx.clock() + timedelta(days=ctx.policy.package_link_days)}
    context = {
        "request": letter_request(r),
        "organisation": ctx.policy.organisation_name,
        "contact": ctx.policy.privacy_contact,
        "due": uow.deadlines.get(request_id).due,
        "sent_on": ctx.clock().date(),
        "systems": [m.model_dump() for m in used],
        "erasure": [
            {
                "system": systems[st.system].title if st.system in systems else st.system,
                **a.as_json(),
                **({"reason": exemptions.kept_reason(ctx, st, a)} if a.action is ErasureKind.RETAIN or a.keep else {}),
                # legal's exempt fields of an entity otherwise anonymised, each with its ground
                **({"kept": exemptions.kept_fields(st, a)} if a.keep else {}),
            }
            for st in plan
            if isinstance(st, EraseStep)
            for a in st.actions
        ],
        "categories": sorted({c for e in exports for c in _categories(e)}),
        "record_count": sum(records),
        "found": any(records) or bool(by_hand),
        # The access package's single-use download link (no attachment is ever mailed).
        "package": link,
        "manual": [{"title": systems[rc.system].title, "records": rc.records} for rc in by_hand],
        "corrections": _corrections_outcome(plan, r, systems),
        # GDPR Art. 19: the subject may ask who received the corrected data.
        "recipients": _recipients_to_inform(ctx, plan) if r.type is RequestType.CORRECTION else [],
        # the recipients told of an erasure or correction by their own notice (Art. 19)
        "notified": sorted(notices.recipients_to_notify(ctx, plan)) if r.type in (RequestType.DELETION, RequestType.CORRECTION) else [],
        "denial_reason": _denial_reason(uow, request_id) if kind == DENIAL_LETTER else "",
        # What legal kept out of the answer at sign-off, and on which ground.
        "exemptions": exemptions.for_letter(ctx, plan),
        # Where the regime gives an appeal: the public form's appeal page for this refusal.
        "appeal_url": appeal_link(ctx, r) if kind == DENIAL_LETTER else None,
    }
    return context, []
