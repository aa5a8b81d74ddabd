"""The letters besides the response: the acknowledgement of receipt, the partial refusal and
the notice to recipients of erased or corrected data.

- The acknowledgement goes when processing starts, where the regime's facts set a period to
  confirm receipt in (CCPA: 10 business days, 11 CCR 7021(a)); it is recorded as the receipt
  confirmation (``acknowledge_by`` is then met).
- The partial refusal goes with a deletion's response when the approved plan keeps something the
  subject asked to erase: each kept entity with its ground, and the redress (GDPR Art. 12(4),
  17(3); CCPA 11 CCR 7022(f)).
- The recipient notice goes, after an erasure or correction, to each recipient the data map
  names with an address (``recipient_contacts``) for a system whose data changed (GDPR Art. 19;
  CCPA service providers and contractors), in the language the data map gives for it (else
  English). It names the person so they can find the records;
  it is never sent to the subject, and its audit event names the recipient, not the person.

Each is sent once (a letter record per request and kind; a recipient's notice is its own kind).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from dsar.domain.letters import ACKNOWLEDGEMENT_LETTER, PARTIAL_REFUSAL_LETTER, RECIPIENT_NOTICE
from dsar.domain.plan import CorrectStep, EraseStep, ErasureKind, PlanStep
from dsar.domain.regimes import REGIMES, RequestType
from dsar.domain.request import PrivacyRequest
from dsar.services.context import ServiceContext
from dsar.services.correspondence import letter_request, send_letter
from dsar.services.deadlines import record_receipt_confirmation
from dsar.services.ports import UnitOfWork

if TYPE_CHECKING:
    # the data map's models (pydantic, 20 ms): only for the annotation, so reading which letter
    # a request owes (`request show`) does not import them (issue 13, item 8)
    from dsar.connectors.schema import RecipientContact


def _base(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest) -> dict[str, Any]:
    return {
        "request": letter_request(r),
        "organisation": ctx.policy.organisation_name,
        "contact": ctx.policy.privacy_contact,
        "sent_on": ctx.clock().date(),
        "due": uow.deadlines.get(r.id).due,
    }


def acknowledgement_required(r: PrivacyRequest) -> bool:
    regime = REGIMES.get(r.regime)
    return regime is not None and regime.clock.acknowledge_business_days is not None and r.type is not RequestType.APPEAL


def send_acknowledgement(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest) -> None:
    """Send the acknowledgement once, in the caller's unit of work, where the regime requires
    one and the request gave an address; it is recorded as the confirmation of receipt. Raises
    DeliveryFailed like any letter (the caller holds the request)."""
    if not acknowledgement_required(r) or r.subject.primary_email is None or uow.letters.get(r.id, ACKNOWLEDGEMENT_LETTER) is not None:
        return
    send_letter(ctx, uow, r, ACKNOWLEDGEMENT_LETTER, _base(ctx, uow, r))
    record_receipt_confirmation(uow, r.id, ctx.clock(), "email", "dsar")


def refused_part(ctx: ServiceContext, plan: list[PlanStep]) -> list[dict[str, Any]]:
    """What an approved deletion plan keeps, with its ground: the partial refusal's lines (the
    system's title and the reason in the letter's language where they have one): the entities
    kept, and those anonymised but for fields legal kept (the reason names the fields)."""
    from dsar.services.exemptions import kept_reason

    titles = {m.system: m.title for m in ctx.data_map}
    return [
        {"system": titles.get(st.system, st.system), "entity": a.entity, "rows": a.rows, "reason": kept_reason(ctx, st, a)}
        for st in plan
        if isinstance(st, EraseStep)
        for a in st.actions
        if a.action is ErasureKind.RETAIN or a.keep
    ]


def partial_refusal_parts(
    ctx: ServiceContext, r: PrivacyRequest, plan: list[PlanStep]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """What the partial refusal would say: what a deletion keeps under the data map's retention
    rules, and what legal kept out at sign-off; both empty when none goes."""
    from dsar.services.exemptions import for_letter

    return (refused_part(ctx, plan) if r.type is RequestType.DELETION else []), for_letter(ctx, plan)


def partial_refusal_due(ctx: ServiceContext, r: PrivacyRequest, plan: list[PlanStep]) -> bool:
    """Whether the response goes with a partial refusal (no personal data is read)."""
    refused, kept_out = partial_refusal_parts(ctx, r, plan)
    return bool(refused or kept_out)


def send_partial_refusal(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, plan: list[PlanStep]) -> None:
    """The partial refusal, when the approved plan keeps part of what was asked: the records a
    deletion keeps under the data map's retention rules, and what legal kept out at sign-off
    on a legal ground (any request type)."""
    refused, kept_out = partial_refusal_parts(ctx, r, plan)
    if not refused and not kept_out:
        return
    send_letter(ctx, uow, r, PARTIAL_REFUSAL_LETTER, _base(ctx, uow, r) | {"refused": refused, "exemptions": kept_out})


def notice_kind(recipient: str) -> str:
    """One letter kind per recipient (a letter is recorded once per request and kind)."""
    return f"{RECIPIENT_NOTICE}.{hashlib.sha256(recipient.encode()).hexdigest()[:10]}"


def recipients_to_notify(ctx: ServiceContext, plan: list[PlanStep]) -> dict[str, RecipientContact]:
    """Recipient -> where to tell it (its address, the notice's language), for the systems
    whose data the plan changed."""
    systems = {m.system: m for m in ctx.data_map}
    changed = {st.system for st in plan if isinstance(st, EraseStep | CorrectStep) and st.changes_data}
    out: dict[str, RecipientContact] = {}
    for name in sorted(changed):
        system = systems.get(name)
        if system is not None:
            out.update(system.recipient_contacts)
    return out


def send_recipient_notices(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, plan: list[PlanStep]) -> int:
    """Tell each recipient of changed data (once each); returns how many were sent now."""
    if r.type not in (RequestType.DELETION, RequestType.CORRECTION):
        return 0
    sent = 0
    # The recipient's name as the data map gives it in the notice's language (a LocalText).
    names = {str(name): name for m in ctx.data_map for name in m.recipients}
    for recipient, contact in recipients_to_notify(ctx, plan).items():
        context = _base(ctx, uow, r) | {
            "recipient": names.get(recipient, recipient),
            "action": "erasure" if r.type is RequestType.DELETION else "correction",
            "person": {"name": r.subject.name, "emails": list(r.subject.emails)},
            "corrections": [{"attribute": c.attribute, "value": c.value} for c in r.corrections],
        }
        # In the recipient's language (the data map's, else English), not the subject's.
        kind = notice_kind(recipient)
        if send_letter(
            ctx, uow, r, kind, context, to=contact.address, template_kind=RECIPIENT_NOTICE, recipient=recipient, language=contact.language
        ):
            sent += 1
    return sent
