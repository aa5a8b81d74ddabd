"""Appeals of a refusal (US state laws; issue 16): legal's written decision and its letter.

An appeal is a request of type ``appeal`` linked to the refused request (``linked_to``), logged
like any request (:func:`dsar.services.intake.log_request` with ``appeal_of``: support's
``dsar request new --type appeal --appeal-of REF``, or the API). Its deadline is the state's
appeal period (:func:`dsar.domain.deadlines.compute_deadlines` with ``RequestType.APPEAL``).

It does not run the process-request flow (there is nothing to search or erase): legal decides
it here, proven like a sign-off (a legal account's authenticator code), with reasons for the
consumer. The decision is recorded (decision step ``appeal``, ``SignOffRecorded`` with that
step), the appeal-outcome letter goes out (naming the Attorney General's complaint route where
the state requires it), and the appeal closes. :func:`appeal_report` counts appeals for
reporting. No personal data in errors: references, codes and dates only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from dsar.domain.decisions import SignOffRefusal
from dsar.domain.errors import DeliveryFailed, InvalidInput, TransitionNotAllowed
from dsar.domain.events import SignOffRecorded, SignOffRefused
from dsar.domain.letters import in_language
from dsar.domain.regimes import RequestType, get_regime, regime_text
from dsar.domain.request import Move, PrivacyRequest, Status, clean_text
from dsar.services import queries, recording
from dsar.services.accounts import approver_digest, prove_approver
from dsar.services.context import ServiceContext
from dsar.services.correspondence import hold_for_failed_delivery, letter_request, send_letter
from dsar.services.deadlines import local_today

APPEAL_STEP = "appeal"
APPEAL_OUTCOME_LETTER = "appeal_outcome"


def appeal_link(ctx: ServiceContext, r: PrivacyRequest) -> str | None:
    """The public form's appeal page for refused request ``r`` (``…/?appeal_of=REF&lang=LANG``,
    in the request's language, the letter's), linked from the refusal letter; None when its
    regime gives no appeal or no public URL is set."""
    base = ctx.policy.public_form_url
    regime = get_regime(r.regime)
    if not base or regime.appeal is None or r.type is RequestType.APPEAL:
        return None
    return in_language(f"{base.rstrip('/')}/?appeal_of={r.reference}", r.language)


class AppealOutcome(StrEnum):
    UPHELD = "upheld"  # the refusal stands
    OVERTURNED = "overturned"  # the refusal is reversed: the original request is acted on


@dataclass(frozen=True)
class AppealDecision:
    status: Status
    outcome: AppealOutcome | None = None
    refused: SignOffRefusal | None = None


def parse_outcome(value: str) -> AppealOutcome:
    try:
        return AppealOutcome(value.strip().lower())
    except ValueError:
        raise InvalidInput("unknown appeal outcome", ["outcome: upheld (the refusal stands) or overturned"]) from None


def decide_appeal(ctx: ServiceContext, appeal_id: str, outcome: str, reasons: str, approver: str, code: str, *, via: str) -> AppealDecision:
    """Record legal's decision on an appeal, send the outcome letter and close the appeal.

    A wrong or used code, or a name off the legal roster, is recorded as a refused attempt and
    the appeal keeps waiting. When the letter cannot be sent nothing of the decision is
    recorded, the appeal is held with the reason, and DeliveryFailed tells the caller."""
    try:
        return _decide_appeal(ctx, appeal_id, outcome, reasons, approver, code, via=via)
    except DeliveryFailed as failed:
        hold_for_failed_delivery(ctx, appeal_id, failed)
        raise


def _decide_appeal(
    ctx: ServiceContext, appeal_id: str, outcome: str, reasons: str, approver: str, code: str, *, via: str
) -> AppealDecision:
    decided = parse_outcome(outcome)
    text = clean_text(reasons, "reasons", required=True, multiline=True) or ""
    approver = (approver or "").strip()
    with ctx.uow() as uow:
        r = uow.requests.get(appeal_id)  # the letter names the consumer
        if r.type is not RequestType.APPEAL:
            raise InvalidInput(f"{r.reference} is not an appeal", [f"reference: {r.reference} is a {r.type.value} request"])
        if r.linked_to is None:
            raise InvalidInput(f"{r.reference} names no refused request", ["appeal_of: missing"])
        if uow.decisions.get(appeal_id, APPEAL_STEP) is not None or r.status.is_final:
            raise TransitionNotAllowed(f"{r.reference} is already decided ({r.status.value})")
        if r.on_hold:
            raise TransitionNotAllowed(f"{r.reference}: on hold; release it first")
        now = ctx.clock()
        proven = prove_approver(uow, approver, code, now)
        if isinstance(proven, SignOffRefusal):
            attempt = 1 + sum(1 for e in uow.audit.events(appeal_id) if e.kind == SignOffRefused.kind)
            staff = uow.accounts.find(approver) if approver and len(approver) <= 64 else None
            name, digest = (staff.name, None) if staff is not None else (None, approver_digest(ctx, approver))
            uow.audit.append([SignOffRefused(appeal_id, now, APPEAL_STEP, attempt, proven.value, name, digest, via)])
            uow.commit()
            return AppealDecision(r.status, refused=proven)
        original = uow.requests.facts(r.linked_to)
        regime = get_regime(r.regime)
        uow.decisions.record(appeal_id, APPEAL_STEP, decided.value, proven.name, text, now)
        uow.audit.append([SignOffRecorded(appeal_id, now, APPEAL_STEP, decided.value, proven.name, None, text, "", "totp", via, None)])
        context = {
            "request": letter_request(r),
            "organisation": ctx.policy.organisation_name,
            "contact": ctx.policy.privacy_contact,
            "sent_on": local_today(ctx),
            "appealed_reference": original.reference,
            "appealed_type": original.type.value,
            "outcome": decided.value,
            "reasons": text,
            # in the letter's language where the regime data gives one (official name kept)
            "law": regime_text(regime, "title"),
            "regulator": regime_text(regime, "regulator"),
            "complaint_route_required": regime.appeal is not None and regime.appeal.complaint_route_required,
        }
        send_letter(ctx, uow, r, APPEAL_OUTCOME_LETTER, context)
        closed = recording.move(uow, r, Move.DECIDE_APPEAL, now, f"appeal {decided.value}", by=proven.name)
        uow.commit()
        return AppealDecision(closed.status, decided)


# --- reporting ------------------------------------------------------------------------------


@dataclass
class AppealCounts:
    received: int = 0
    upheld: int = 0
    overturned: int = 0
    open: int = 0
    decided_late: int = 0


@dataclass
class AppealReport:
    year: int
    by_regime: dict[str, AppealCounts] = field(default_factory=dict)

    @property
    def total(self) -> AppealCounts:
        t = AppealCounts()
        for c in self.by_regime.values():
            t.received += c.received
            t.upheld += c.upheld
            t.overturned += c.overturned
            t.open += c.open
            t.decided_late += c.decided_late
        return t

    def as_json(self) -> dict[str, object]:
        return {
            "year": self.year,
            "by_regime": {k: vars(v) for k, v in sorted(self.by_regime.items())},
            "total": vars(self.total),
        }


def appeal_report(ctx: ServiceContext, year: int) -> AppealReport:
    """Appeals received in ``year`` (local date of receipt), per regime: how many, decided each
    way, still open, and decided after their due date. No personal data."""
    report = AppealReport(year)
    zone = ctx.policy.timezone
    summaries = queries.request_list(ctx, None, limit=100_000, request_type=RequestType.APPEAL.value)
    with ctx.uow() as uow:
        for s in summaries:
            if s.received_at.astimezone(zone).year != year:
                continue
            counts = report.by_regime.setdefault(s.regime, AppealCounts())
            counts.received += 1
            decision = uow.decisions.get(s.id, APPEAL_STEP)
            if decision is None:
                counts.open += int(not s.status.is_final)
                continue
            if decision.decision == AppealOutcome.UPHELD.value:
                counts.upheld += 1
            elif decision.decision == AppealOutcome.OVERTURNED.value:
                counts.overturned += 1
            if decision.at.astimezone(zone).date() > s.due:
                counts.decided_late += 1
    return report
