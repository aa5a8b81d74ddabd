"""Verification risk flags raised as escalations to legal (the rules: dsar.domain.verification_risk).

:func:`flag` is called by identity verification (dsar.services.identity) in the unit of work
where the signal appears: a look-alike address when the case opens, tries used up, a correction
of a contact on file once verified, the login's word on the account. Each rule fires once per
request: the ``VerificationRiskFlagged`` event records it, with the reason and the escalation it
went to. The first flag raises a ``verification_risk`` escalation (held until legal decides, as
every escalation: dsar.services.escalations); a flag while one is open joins it (``joined``), its
reason kept in its own event and shown on the request's timeline, so no reason is lost. A flag
after legal decided the earlier one raises a new escalation.

Nothing here tells the requester anything: the pages and letters are the same as for any other
request (docs/threats.md, scenario 9).
"""

from __future__ import annotations

from dsar.domain.escalations import Escalation, EscalationPoint, escalations_of
from dsar.domain.verification_events import VerificationRiskFlagged
from dsar.domain.verification_risk import RiskFlag
from dsar.services.context import ServiceContext
from dsar.services.escalations import raise_in
from dsar.services.ports import UnitOfWork

BY = "dsar"


def flagged_rules(uow: UnitOfWork, request_id: str) -> set[str]:
    """The rules that fired for the request already."""
    return {str(e.details.get("rule")) for e in uow.audit.events(request_id) if e.kind == VerificationRiskFlagged.kind}


def flag(ctx: ServiceContext, uow: UnitOfWork, request_id: str, found: RiskFlag | None, *, via: str) -> Escalation | None:
    """Send the request to legal for ``found`` (nothing when None, or when its rule fired for this
    request before): a ``verification_risk`` escalation, or the open one joined. Within the
    caller's unit of work (it commits); returns the escalation."""
    if found is None:
        return None
    events = uow.audit.events(request_id)
    if any(e.kind == VerificationRiskFlagged.kind and e.details.get("rule") == found.rule.value for e in events):
        return None
    was_open = any(x.open and x.point is EscalationPoint.VERIFICATION_RISK for x in escalations_of(events))
    x = raise_in(ctx, uow, request_id, EscalationPoint.VERIFICATION_RISK, found.reason, BY, via)
    uow.audit.append([VerificationRiskFlagged(request_id, ctx.clock(), found.rule.value, found.reason, x.number, was_open, via)])
    return x
