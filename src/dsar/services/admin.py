"""Staff actions on a request outside the normal path: holds, withdrawal."""

from __future__ import annotations

from dsar.domain.errors import InvalidInput
from dsar.domain.request import Move, PrivacyRequest, apply_move, clean_text, set_hold
from dsar.services.context import ServiceContext
from dsar.services.recording import record_events


def _set(ctx: ServiceContext, request_id: str, on_hold: bool, reason: str) -> PrivacyRequest:
    with ctx.uow() as uow:
        r = uow.repo.get(request_id)
        changed, events = set_hold(r, on_hold, at=ctx.clock(), reason=reason)
        if events:
            uow.repo.save_state(changed, events[0].at)
            record_events(uow.repo, events)
            uow.commit()
        return changed


def hold_request(ctx: ServiceContext, request_id: str, reason: str) -> PrivacyRequest:
    return _set(ctx, request_id, True, reason)


def release_request(ctx: ServiceContext, request_id: str, reason: str) -> PrivacyRequest:
    return _set(ctx, request_id, False, reason)


def withdraw_request(ctx: ServiceContext, request_id: str, reason: str) -> PrivacyRequest:
    """The subject took the request back: it ends, and its deadline stops being watched."""
    text = clean_text(reason, "reason")
    if not text:
        raise InvalidInput("a withdrawal needs a reason", ["reason: required"])
    with ctx.uow() as uow:
        r = uow.repo.get(request_id)
        changed, events = apply_move(r, Move.WITHDRAW, at=ctx.clock(), reason=text)
        uow.repo.save_state(changed, events[0].at)
        record_events(uow.repo, events)
        uow.commit()
        return changed
