"""Staff actions on a request outside the normal path: holds, withdrawal."""

from __future__ import annotations

from dsar.domain.errors import InvalidInput
from dsar.domain.request import Move, PrivacyRequest, clean_text
from dsar.services import recording
from dsar.services.context import ServiceContext


def _set(ctx: ServiceContext, request_id: str, on_hold: bool, reason: str) -> PrivacyRequest:
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)  # status and hold only: nothing is decrypted
        changed = recording.hold(uow, r, on_hold, ctx.clock(), reason)
        if changed is not r:
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
        r = uow.requests.facts(request_id)
        changed = recording.move(uow, r, Move.WITHDRAW, ctx.clock(), text)
        uow.commit()
        return changed
