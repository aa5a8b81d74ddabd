"""Recording a request's changes: the new state and the events that say why, in one unit of
work. Each event is written once (the log skips an idempotency key it already holds). The move
that ends a request (closed, denied, withdrawn, failed) also deletes its identity verification's
data in the same unit of work (:func:`dsar.services.identity.forget`): every way a request ends
goes through here."""

from __future__ import annotations

from datetime import datetime

from dsar.domain.request import Move, PrivacyRequest, apply_move, set_hold
from dsar.services.ports import UnitOfWork


def move(uow: UnitOfWork, request: PrivacyRequest, to: Move, at: datetime, reason: str = "", by: str = "") -> PrivacyRequest:
    """Apply one move of the state machine and record it (``by``: the person, when one made
    it); raises TransitionNotAllowed."""
    changed, events = apply_move(request, to, at=at, reason=reason, by=by)
    uow.requests.save_state(changed, at)
    uow.audit.append(events)
    if changed.status.is_final:
        from dsar.services.identity import forget

        forget(uow, changed.id, at)
    return changed


def hold(uow: UnitOfWork, request: PrivacyRequest, on_hold: bool, at: datetime, reason: str, by: str = "") -> PrivacyRequest:
    """Put the request on hold or release it (nothing is written when it already is)."""
    changed, events = set_hold(request, on_hold, at=at, reason=reason, by=by)
    if events:
        uow.requests.save_state(changed, at)
        uow.audit.append(events)
    return changed
