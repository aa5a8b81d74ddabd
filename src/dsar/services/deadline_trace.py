"""How a stored request's dates were counted (issue 16): the trace the console shows.

The same computation as the request's dates (:func:`dsar.domain.deadlines.explain_deadlines`
from its receipt, jurisdiction, type and pauses), step by step with the rule each step
follows. No personal data: dates, rules and the names of holidays.
"""

from __future__ import annotations

from dsar.domain.deadlines import DeadlineTrace, explain_deadlines, receipt_date
from dsar.domain.errors import InvalidInput
from dsar.services.context import ServiceContext


def explain_request(ctx: ServiceContext, request_id: str) -> DeadlineTrace | None:
    """The trace of the request's statutory dates; None when they can no longer be counted
    (a regime's rule changed since it was logged: the stored dates stand)."""
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        pauses = [p.pause for p in uow.deadlines.pauses(request_id)]
    try:
        return explain_deadlines(
            r.regime,
            receipt_date(r.received_at, ctx.policy.timezone),
            country=r.country,
            subdivision=r.subdivision,
            request_type=r.type,
            pauses=pauses,
            target_days=ctx.policy.reasonable_period_days,
        )
    except InvalidInput:
        return None
