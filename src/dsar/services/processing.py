"""The use cases that carry a logged request to its closing letter, one per flow task.

Each function is idempotent: it reads where the record stands and does only what is left, so
the flow can be re-run from the top at any time. Each returns the request's status after it
ran, which carries no personal data.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Literal

from dsar.connectors.base import Capability, CorrectionAction, ErasureAction, LocateResult, SubjectKeys
from dsar.connectors.datamap import Retain
from dsar.crypto import digests_equal, keyed_digest
from dsar.domain.errors import InvalidInput, TransitionNotAllowed, VerificationFailed
from dsar.domain.regimes import AccessScope, RequestType
from dsar.domain.request import Correction, Move, PrivacyRequest, Status, apply_move, set_hold
from dsar.persistence.repository import PlanStep, Repository
from dsar.services.context import ServiceContext
from dsar.services.deadlines import record_receipt_confirmation
from dsar.services.ports import Attachment, OutgoingMail
from dsar.services.recording import record_events

SIGN_OFF_STEP = "release"
RESPONSE_LETTER = {
    RequestType.ACCESS: "access_response",
    RequestType.DELETION: "deletion_response",
    RequestType.CORRECTION: "correction_response",
}


class SignOffDecision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


class VerificationOutcome(StrEnum):
    VERIFIED = "verified"
    WRONG_CODE = "wrong_code"
    EXHAUSTED = "exhausted"
    NOT_WAITING = "not_waiting"


@dataclass(frozen=True)
class VerificationState:
    """What the flow needs to wait for a code: no code, no personal data."""

    status: Status
    challenge_id: int | None
    attempts: int
    attempts_left: int


def _move(repo: Repository, r: PrivacyRequest, move: Move, ctx: ServiceContext, reason: str = "") -> PrivacyRequest:
    changed, events = apply_move(r, move, at=ctx.clock(), reason=reason)
    repo.save_state(changed, events[0].at)
    record_events(repo, events)
    return changed


def status_of(ctx: ServiceContext, request_id: str) -> Status:
    with ctx.uow() as uow:
        return uow.repo.get(request_id).status


def reference_of(ctx: ServiceContext, request_id: str) -> str:
    with ctx.uow() as uow:
        return uow.repo.get(request_id).reference


# --- identity verification ------------------------------------------------------------------


def _code_digest(ctx: ServiceContext, request_id: str, code: str) -> str:
    return keyed_digest(ctx.code_key, f"{request_id}:{code}")


def start_verification(ctx: ServiceContext, request_id: str) -> Status:
    """Send a one-time code to the request's first email and wait for it.

    The code is the only proof this build asks for: possession of the address the data will be
    searched by and sent to. Only that verified address is used to search (never the other
    identifiers given), so a request naming someone else's address finds nothing unless the
    requester can read that mailbox (docs/threats.md, scenarios 1, 2, 9). A request with no email cannot get a
    code and is put on hold for a person to verify it.
    """
    now = ctx.clock()
    with ctx.uow() as uow:
        repo = uow.repo
        r = repo.get(request_id)
        if r.status is not Status.RECEIVED or r.on_hold:
            return r.status
        email = r.subject.primary_email
        if email is None:
            held, events = set_hold(r, True, at=now, reason="no email for a one-time code: verify by hand")
            repo.save_state(held, events[0].at)
            record_events(repo, events)
            uow.commit()
            return held.status
        code = f"{secrets.randbelow(10**8):08d}"
        expires = now + timedelta(hours=ctx.policy.verification_code_ttl_hours)
        repo.add_challenge(request_id, "email", _code_digest(ctx, request_id, code), now, expires)
        challenge = repo.latest_challenge(request_id)
        assert challenge is not None
        deadline = repo.deadline(request_id)
        letter = ctx.letters.render(
            "verification_code",
            r.regime,
            {
                "request": _letter_request(r),
                "code": code,
                "expires_at": expires,
                "due": deadline.due,
                "organisation": ctx.policy.organisation_name,
                "contact": ctx.policy.privacy_contact,
            },
        )
        ctx.mailer.send(
            OutgoingMail(
                message_id=f"{r.reference}.verify-{challenge.id}@dsar",
                to=email,
                sender=ctx.policy.privacy_contact,
                subject=letter.subject,
                body=letter.body,
            )
        )
        changed = _move(repo, r, Move.REQUEST_VERIFICATION, ctx)
        repo.append_audit(
            request_id,
            "VerificationCodeSent",
            now,
            {"channel": "email", "challenge": challenge.id, "expires_at": expires.isoformat(), "template": letter.template},
            idempotency_key=f"{request_id}:challenge:{challenge.id}",
        )
        # The code letter says the request was received, how it will be verified and when the
        # answer is due: it confirms receipt (11 CCR 7021(a)) the moment it goes out.
        record_receipt_confirmation(repo, request_id, now, "email", "dsar")
        uow.commit()
        return changed.status


def verification_state(ctx: ServiceContext, request_id: str) -> VerificationState:
    with ctx.uow() as uow:
        r = uow.repo.get(request_id)
        ch = uow.repo.latest_challenge(request_id)
        attempts = ch.attempts if ch else 0
        return VerificationState(r.status, ch.id if ch else None, attempts, max(0, ctx.policy.verification_max_attempts - attempts))


def confirm_code(ctx: ServiceContext, request_id: str, code: str) -> VerificationOutcome:
    """Check a one-time code. Three outcomes; after the last allowed wrong code the request is
    denied as unverifiable (CCPA 11 CCR 7024(b)-style: say identity could not be verified)."""
    now = ctx.clock()
    with ctx.uow() as uow:
        repo = uow.repo
        r = repo.get(request_id)
        if r.status is not Status.AWAITING_VERIFICATION:
            return VerificationOutcome.NOT_WAITING
        ch = repo.latest_challenge(request_id)
        if ch is None:
            raise VerificationFailed(f"{r.reference}: no code was issued")
        usable = ch.consumed_at is None and now <= ch.expires_at and ch.attempts < ctx.policy.verification_max_attempts
        matches = usable and digests_equal(ch.code_digest, _code_digest(ctx, request_id, code.strip()))
        repo.record_attempt(ch.id, consumed_at=now if matches else None)
        if matches:
            _move(repo, r, Move.CONFIRM_IDENTITY, ctx, reason="one-time code to the email given")
            uow.commit()
            return VerificationOutcome.VERIFIED
        attempt = ch.attempts + 1
        repo.append_audit(
            request_id,
            "VerificationAttemptFailed",
            now,
            {"challenge": ch.id, "attempt": attempt, "expired": now > ch.expires_at},
            idempotency_key=f"{request_id}:challenge:{ch.id}:attempt:{attempt}",
        )
        if attempt >= ctx.policy.verification_max_attempts or now > ch.expires_at:
            _move(repo, r, Move.DENY, ctx, reason="identity could not be verified")
            uow.commit()
            return VerificationOutcome.EXHAUSTED
        uow.commit()
        return VerificationOutcome.WRONG_CODE


# --- planning and sign-off ------------------------------------------------------------------


def _verified_keys(r: PrivacyRequest) -> SubjectKeys:
    # Only the address that received the code is verified; nothing else is searched.
    return SubjectKeys(emails=(r.subject.primary_email,) if r.subject.primary_email else ())


def _required_capability(r: PrivacyRequest) -> Capability:
    return {RequestType.ACCESS: Capability.EXPORT, RequestType.DELETION: Capability.ERASE, RequestType.CORRECTION: Capability.CORRECT}[
        r.type
    ]


def _compute_plan(
    ctx: ServiceContext, keys: SubjectKeys, need: Capability, corrections: tuple[Correction, ...] = ()
) -> tuple[list[PlanStep], list[str], list[str]]:
    """Locate the subject everywhere and say, per system, what the request needs done there."""
    steps: list[PlanStep] = []
    unsupported: list[str] = []
    unmapped: list[str] = []
    for connector in ctx.connectors.connectors():
        if connector.manual:
            steps.append(PlanStep(connector.system, need.value, 0, _manual_detail(ctx, connector.system, need)))
            connector.close()
            continue
        try:
            located = connector.locate(keys)
            n = len(located.matches)
            if need not in connector.capabilities and n:
                unsupported.append(connector.system)
            entities = sorted({m.entity for m in located.matches})
            detail = "matched " + ",".join(entities) if n else "no match"
            if need is Capability.ERASE and need in connector.capabilities and n:
                actions = connector.plan_erasure(located)
                if any(a.action == "unmapped" for a in actions):
                    unmapped.append(connector.system)
                detail = json.dumps({"actions": [a.as_json() for a in actions]}, sort_keys=True)
            if need is Capability.CORRECT and need in connector.capabilities and n:
                fixes = connector.plan_correction(located, corrections)
                detail = json.dumps({"corrections": [a.as_json() for a in fixes]}, sort_keys=True)
        finally:
            connector.close()
        steps.append(PlanStep(connector.system, need.value, n, detail))
    return steps, unsupported, unmapped


def dry_run_plan(ctx: ServiceContext, request_id: str) -> list[PlanStep]:
    """The plan the request would get now, computed without storing or changing anything."""
    with ctx.uow() as uow:
        r = uow.repo.get(request_id)
    steps, _, _ = _compute_plan(ctx, _verified_keys(r), _required_capability(r), r.corrections)
    return steps


def plan_request(ctx: ServiceContext, request_id: str) -> Status:
    """Locate the subject in every system of the data map and record what will be done.

    A system that cannot do what the request needs (no connector in this build erases or
    corrects yet) is recorded as such and the request goes on hold for a person: the engine
    never reports work it did not do.
    """
    with ctx.uow() as uow:
        repo = uow.repo
        r = repo.get(request_id)
        if r.status is Status.VERIFIED and not r.on_hold:
            r = _move(repo, r, Move.START_PLANNING, ctx)
            uow.commit()
        if r.status is not Status.PLANNING or r.on_hold:
            return r.status
        keys = _verified_keys(r)
        need = _required_capability(r)
        corrections = r.corrections
    steps, unsupported, unmapped = _compute_plan(ctx, keys, need, corrections)
    with ctx.uow() as uow:
        repo = uow.repo
        r = repo.get(request_id)
        if r.status is not Status.PLANNING:
            return r.status
        if not repo.plan(request_id):
            repo.save_plan(request_id, steps)
        repo.append_audit(
            request_id,
            "PlanMade",
            ctx.clock(),
            {"steps": [{"system": s.system, "operation": s.operation, "matches": s.matches} for s in steps]},
            idempotency_key=f"{request_id}:plan",
        )
        if need is Capability.CORRECT and any(c.attribute == "email" for c in r.corrections):
            # 11 CCR 7060: verify a correction with data other than the data disputed. The code
            # went to an email, the very data in dispute: a person verifies by other means.
            unmapped.append("email")
        if unsupported or unmapped:
            reason = (
                f"{need.value} not supported by: {', '.join(unsupported)}"
                if unsupported
                else "a correction of the email address: verify the subject by other means than that email (11 CCR 7060), then release"
                if "email" in unmapped
                else f"no erasure rule in the data map for some entities of: {', '.join(unmapped)}"
            )
            held, events = set_hold(r, True, at=ctx.clock(), reason=reason)
            repo.save_state(held, events[0].at)
            record_events(repo, events)
            uow.commit()
            return held.status
        r = _move(repo, r, Move.SUBMIT_PLAN, ctx)
        uow.commit()
        return r.status


def plan_summary(ctx: ServiceContext, request_id: str) -> str:
    """Markdown for the sign-off form: reference, type, regime, due date and per-system counts.
    No personal data (Prefect shows and stores this text)."""
    with ctx.uow() as uow:
        r = uow.repo.get(request_id)
        d = uow.repo.deadline(request_id)
        plan = uow.repo.plan(request_id)
        lines = [
            f"### {r.reference}: {r.type.value} request under `{r.regime}`",
            "",
            f"Due **{d.due.isoformat()}**. Identity verified by one-time code.",
            "",
            "| system | operation | records matched | detail |",
            "|---|---|---|---|",
        ]
        lines += [f"| {s.system} | {s.operation} | {'by hand' if is_manual(s) else s.matches} | {describe_step(s)} |" for s in plan]
        if r.type in (RequestType.CORRECTION, RequestType.DELETION):
            recipients = _recipients_to_inform(ctx, plan)
            if recipients:
                lines += ["", "GDPR Art. 19 / CCPA: tell these recipients of the change (dsar does not): " + "; ".join(recipients)]
        if r.type is RequestType.CORRECTION:
            held = {a.attribute for st in plan for a in correction_actions(st)}
            asked = [c.attribute for c in r.corrections]
            lines += [
                "",
                "Attributes to correct: " + ", ".join(f"`{a}`" + ("" if a in held else " (held in no mapped system)") for a in asked),
            ]
    lines += ["", "Choose **approve** to release the response, or **deny** with a reason in the note."]
    return "\n".join(lines)


MANUAL = "manual: "
ManualOutcome = Literal["done", "nothing found", "cannot do it"]


def _manual_detail(ctx: ServiceContext, system: str, need: Capability) -> str:
    m = next((x for x in ctx.data_map if x.system == system), None)
    rule = getattr(m, "erase", None)
    if need is Capability.ERASE and isinstance(rule, Retain):
        return f"{MANUAL}kept: {rule.retain}"
    verb = {
        Capability.EXPORT: "a person looks the subject up and exports",
        Capability.ERASE: "a person erases",
        Capability.CORRECT: "a person corrects",
    }
    return f"{MANUAL}{verb.get(need, need.value)}, then confirms"


def is_manual(step: PlanStep) -> bool:
    return step.detail.startswith(MANUAL)


@dataclass(frozen=True)
class ManualStep:
    system: str
    title: str
    operation: str
    instructions: str


def pending_manual_steps(ctx: ServiceContext, request_id: str) -> list[ManualStep]:
    """Manual systems of the approved plan that no one has confirmed yet (no personal data)."""
    with ctx.uow() as uow:
        done = {(x.system, x.operation) for x in uow.repo.receipts(request_id)}
        plan = uow.repo.plan(request_id)
    maps = {m.system: m for m in ctx.data_map}
    out = []
    for st in plan:
        if not is_manual(st) or (st.system, st.operation) in done or st.detail.startswith(f"{MANUAL}kept"):
            continue
        m = maps.get(st.system)
        out.append(ManualStep(st.system, m.title if m else st.system, st.operation, getattr(m, "instructions", "") if m else ""))
    return out


def manual_step_form(ctx: ServiceContext, request_id: str, step: ManualStep) -> str:
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
    pending = {m.system: m for m in pending_manual_steps(ctx, request_id)}
    with ctx.uow() as uow:
        repo = uow.repo
        r = repo.get(request_id)
        if r.status is not Status.EXECUTING or system not in pending:
            return r.status
        now = ctx.clock()
        step = pending[system]
        repo.record_decision(request_id, f"manual:{system}", outcome, person, note or None, now)
        repo.add_receipt(request_id, system, step.operation, records if outcome == "done" else 0, None, now)
        repo.append_audit(
            request_id,
            "ManualStepConfirmed",
            now,
            {"system": system, "operation": step.operation, "outcome": outcome, "records": records, "person": person},
            idempotency_key=f"{request_id}:receipt:{system}:{step.operation}",
        )
        if outcome == "cannot do it":
            held, events = set_hold(r, True, at=now, reason=f"{system}: the manual step could not be done")
            repo.save_state(held, events[0].at)
            record_events(repo, events)
        uow.commit()
    return execute_plan(ctx, request_id)


def erasure_actions(step: PlanStep) -> list[ErasureAction]:
    """The approved erasure actions of a plan step (empty for other operations)."""
    if step.operation != Capability.ERASE.value or not step.detail.startswith("{"):
        return []
    return [ErasureAction.from_json(a) for a in json.loads(step.detail)["actions"]]


def correction_actions(step: PlanStep) -> list[CorrectionAction]:
    """The approved correction actions of a plan step (empty for other operations)."""
    if step.operation != Capability.CORRECT.value or not step.detail.startswith("{"):
        return []
    return [CorrectionAction.from_json(a) for a in json.loads(step.detail)["corrections"]]


def describe_step(step: PlanStep) -> str:
    """A plan step for people: erasure and correction actions spelled out, entity by entity."""
    if step.operation == Capability.CORRECT.value and step.detail.startswith("{"):
        fixes = correction_actions(step)
        if not fixes:
            return "holds none of the attributes to correct"
        return "; ".join(f"{a.entity}.{a.field}: set {a.attribute} in {a.rows}" for a in fixes)
    actions = erasure_actions(step)
    if not actions:
        return step.detail
    return "; ".join(f"{a.entity}: {a.action} {a.rows}" + (f" ({a.reason})" if a.reason else "") for a in actions)


def record_sign_off(ctx: ServiceContext, request_id: str, decision: SignOffDecision, approver: str, note: str | None) -> Status:
    approver = approver.strip()
    with ctx.uow() as uow:
        repo = uow.repo
        r = repo.get(request_id)
        if repo.decision(request_id, SIGN_OFF_STEP) is not None or r.status is not Status.AWAITING_SIGN_OFF:
            return r.status
        if not approver:
            raise TransitionNotAllowed(f"{r.reference}: a sign-off needs the approver's name")
        now = ctx.clock()
        repo.record_decision(request_id, SIGN_OFF_STEP, decision.value, approver, note or None, now)
        repo.append_audit(
            request_id,
            "SignOffRecorded",
            now,
            {"step": SIGN_OFF_STEP, "decision": decision.value, "approver": approver},
            idempotency_key=f"{request_id}:decision:{SIGN_OFF_STEP}",
        )
        move = Move.APPROVE_PLAN if decision is SignOffDecision.APPROVE else Move.DENY
        r = _move(repo, r, move, ctx, reason=f"{decision.value} by {approver}")
        uow.commit()
        return r.status


# --- execution and response -----------------------------------------------------------------


def _export_key(request_id: str, system: str) -> str:
    return f"exports/{request_id}/{system}.json.enc"


def _export_aad(request_id: str, system: str) -> str:
    return f"export/{request_id}/{system}"


def execute_plan(ctx: ServiceContext, request_id: str) -> Status:
    """Export the subject's records from each system with matches; one receipt per system.
    The export is sealed under the request's key before it reaches the object store."""
    with ctx.uow() as uow:
        r = uow.repo.get(request_id)
        if r.status is not Status.EXECUTING or r.on_hold:
            return r.status
        done = {(x.system, x.operation) for x in uow.repo.receipts(request_id)}
        plan = [s for s in uow.repo.plan(request_id) if s.matches and not is_manual(s) and (s.system, s.operation) not in done]
        todo = {s.system for s in plan}
        keys = _verified_keys(r)
    if r.type is RequestType.DELETION:
        _erase(ctx, request_id, keys, plan)
        todo = set()
    if r.type is RequestType.CORRECTION:
        _correct(ctx, request_id, keys, plan, r.corrections)
        todo = set()
    for connector in ctx.connectors.connectors():
        if connector.system not in todo:
            continue
        try:
            located: LocateResult = connector.locate(keys)
            records = [
                {"entity": rec.entity, "key": rec.key, "fields": dict(rec.fields), "categories": dict(rec.categories)}
                for rec in connector.export(located)
            ]
        finally:
            connector.close()
        payload = json.dumps({"system": connector.system, "records": records}, default=str, sort_keys=True).encode()
        with ctx.uow() as uow:
            repo = uow.repo
            key = _export_key(request_id, connector.system)
            ctx.objects.put(key, repo.seal_for(request_id, payload, _export_aad(request_id, connector.system)))
            now = ctx.clock()
            repo.add_receipt(request_id, connector.system, Capability.EXPORT.value, len(records), key, now)
            repo.append_audit(
                request_id,
                "SystemExported",
                now,
                {"system": connector.system, "records": len(records)},
                idempotency_key=f"{request_id}:receipt:{connector.system}:export",
            )
            uow.commit()
    if pending_manual_steps(ctx, request_id):
        return Status.EXECUTING  # the flow waits for a person to confirm each manual system
    with ctx.uow() as uow:
        r = uow.repo.get(request_id)
        if r.status is Status.EXECUTING and not r.on_hold:
            r = _move(uow.repo, r, Move.FINISH_EXECUTION, ctx)
            uow.commit()
        return r.status


def _erase(ctx: ServiceContext, request_id: str, keys: SubjectKeys, plan: list[PlanStep]) -> None:
    """Carry out the approved erasure plan, system by system; one receipt per system."""
    approved = {s.system: erasure_actions(s) for s in plan if s.operation == Capability.ERASE.value}
    for connector in ctx.connectors.connectors():
        if connector.system not in approved:
            continue
        try:
            receipt = connector.erase(connector.locate(keys), approved[connector.system])
        finally:
            connector.close()
        with ctx.uow() as uow:
            now = ctx.clock()
            uow.repo.add_receipt(request_id, connector.system, Capability.ERASE.value, receipt.total, None, now)
            uow.repo.append_audit(
                request_id,
                "SystemErased",
                now,
                {"system": connector.system, "counts": {e: dict(c) for e, c in receipt.counts.items()}},
                idempotency_key=f"{request_id}:receipt:{connector.system}:erase",
            )
            uow.commit()


def _correct(ctx: ServiceContext, request_id: str, keys: SubjectKeys, plan: list[PlanStep], corrections: tuple[Correction, ...]) -> None:
    """Carry out the approved correction plan, system by system; one receipt per system. The
    receipt's old and new values are keyed hashes: the audit proves what changed, not what was."""
    approved = {s.system: correction_actions(s) for s in plan if s.operation == Capability.CORRECT.value}
    for connector in ctx.connectors.connectors():
        if connector.system not in approved:
            continue
        try:
            actions = approved[connector.system]
            if actions:
                receipt = connector.correct(connector.locate(keys), actions, corrections)
                changes, unchanged, counts = [c.as_json() for c in receipt.changes], receipt.unchanged, receipt.counts()
            else:
                changes, unchanged, counts = [], 0, {}
        finally:
            connector.close()
        with ctx.uow() as uow:
            now = ctx.clock()
            uow.repo.add_receipt(request_id, connector.system, Capability.CORRECT.value, len(changes), None, now)
            uow.repo.append_audit(
                request_id,
                "SystemCorrected",
                now,
                {"system": connector.system, "counts": counts, "unchanged": unchanged, "changes": changes},
                idempotency_key=f"{request_id}:receipt:{connector.system}:correct",
            )
            uow.commit()


def _corrections_outcome(plan: list[PlanStep], r: PrivacyRequest, systems: dict[str, Any]) -> list[dict[str, Any]]:
    """Per requested attribute: the systems that now hold the corrected value, for the letter."""
    where: dict[str, list[str]] = {c.attribute: [] for c in r.corrections}
    for st in plan:
        for a in correction_actions(st):
            title = systems[st.system].title if st.system in systems else st.system
            if a.attribute in where and title not in where[a.attribute]:
                where[a.attribute].append(title)
    return [{"attribute": a, "systems": titles} for a, titles in where.items()]


def _recipients_to_inform(ctx: ServiceContext, plan: list[PlanStep]) -> list[str]:
    """Recipients named in the data map for the systems a correction or erasure changes."""
    systems = {m.system: m for m in ctx.data_map}
    changed = [st.system for st in plan if correction_actions(st) or any(a.action in ("delete", "anonymise") for a in erasure_actions(st))]
    return sorted({x for name in changed if name in systems for x in systems[name].recipients})


def _letter_request(r: PrivacyRequest) -> dict[str, Any]:
    return {
        "reference": r.reference,
        "type": r.type.value,
        "regime": r.regime,
        "received": r.received_at.date(),
        "subject_name": r.subject.name,
        "access_scope": r.access_scope.value if r.access_scope else None,
    }


def send_response(ctx: ServiceContext, request_id: str) -> Status:
    """Render and send the closing letter once, then close (or stay denied)."""
    with ctx.uow() as uow:
        repo = uow.repo
        r = repo.get(request_id)
        kind = {Status.RESPONDING: RESPONSE_LETTER.get(r.type), Status.DENIED: "denial"}.get(r.status)
        if r.status is Status.RESPONDING and kind is None:
            raise TransitionNotAllowed(f"{r.reference}: this build writes no response letter for {r.type.value} requests")
        if kind is None or repo.letter(request_id, kind) is not None:
            return r.status
        email = r.subject.primary_email
        receipts = repo.receipts(request_id)
        exports = []
        for rc in receipts:
            if rc.object_key:
                exports.append(json.loads(repo.open_for(request_id, ctx.objects.get(rc.object_key), _export_aad(request_id, rc.system))))
        decision = repo.decision(request_id, SIGN_OFF_STEP)
        deadline = repo.deadline(request_id)
        plan = repo.plan(request_id)
        systems = {m.system: m for m in ctx.data_map}
        used = [systems[e["system"]] for e in exports if e["system"] in systems and e["records"]]
        by_hand = [rc for rc in receipts if rc.system in systems and systems[rc.system].type == "manual" and rc.records]
        used += [systems[rc.system] for rc in by_hand]
        context = {
            "request": _letter_request(r),
            "organisation": ctx.policy.organisation_name,
            "contact": ctx.policy.privacy_contact,
            "due": deadline.due,
            "sent_on": ctx.clock().date(),
            "systems": [m.model_dump() for m in used],
            "erasure": [
                {"system": systems[st.system].title if st.system in systems else st.system, **a.as_json()}
                for st in plan
                for a in erasure_actions(st)
            ],
            "categories": sorted({c for e in exports for rec in e["records"] for c in rec["categories"].values()}),
            "record_count": sum(len(e["records"]) for e in exports),
            "found": any(e["records"] for e in exports) or bool(by_hand),
            "manual": [{"title": systems[rc.system].title, "records": rc.records} for rc in by_hand],
            "corrections": _corrections_outcome(plan, r, systems),
            # GDPR Art. 19: the subject may ask who received the corrected data.
            "recipients": _recipients_to_inform(ctx, plan) if r.type is RequestType.CORRECTION else [],
            "denial_reason": _denial_reason(repo, request_id, decision.note if decision else None),
        }
        letter = ctx.letters.render(kind, r.regime, context)
        attachments = (
            [
                Attachment(
                    f"{r.reference}-data.json", json.dumps({"reference": r.reference, "systems": exports}, indent=2, default=str).encode()
                )
            ]
            if kind == "access_response" and r.access_scope is not AccessScope.CATEGORIES
            else []
        )
        message_id = f"{r.reference}.{kind}@dsar"
        if email is not None:
            ctx.mailer.send(
                OutgoingMail(
                    message_id=message_id,
                    to=email,
                    sender=ctx.policy.privacy_contact,
                    subject=letter.subject,
                    body=letter.body,
                    attachments=attachments,
                )
            )
        now = ctx.clock()
        repo.add_letter(request_id, kind, letter.template, message_id, now)
        repo.append_audit(
            request_id,
            "LetterSent",
            now,
            {
                "kind": kind,
                "template": letter.template,
                "message_id": message_id,
                "attachments": len(attachments),
                "channel": "email" if email else "none",
            },
            idempotency_key=f"{request_id}:letter:{kind}",
        )
        if r.status is Status.RESPONDING:
            r = _move(repo, r, Move.CLOSE, ctx)
        uow.commit()
        return r.status


def _denial_reason(repo: Repository, request_id: str, note: str | None) -> str:
    for e in reversed(repo.audit_events(request_id)):
        if e.kind == "StatusChanged" and e.details.get("to") == Status.DENIED.value:
            reason = str(e.details.get("reason", ""))
            return note or reason
    return note or ""
