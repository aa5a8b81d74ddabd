"""Staff actions on a request outside the normal path: holds, withdrawal."""

from __future__ import annotations

from dsar.domain.errors import InvalidInput
from dsar.domain.request import Move, PrivacyRequest, clean_text
from dsar.services import recording
from dsar.services.context import ServiceContext


def _set(ctx: ServiceContext, request_id: str, on_hold: bool, reason: str, by: str) -> PrivacyRequest:
    who = clean_text(by, "by", limit=200) or ""
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)  # status and hold only: nothing is decrypted
        changed = recording.hold(uow, r, on_hold, ctx.clock(), reason, who)
        if changed is not r:
            uow.commit()
        return changed


def hold_request(ctx: ServiceContext, request_id: str, reason: str, *, by: str = "") -> PrivacyRequest:
    """Hold the request; ``by`` names the staff member (recorded when given)."""
    return _set(ctx, request_id, True, reason, by)


def release_request(ctx: ServiceContext, request_id: str, reason: str, *, by: str = "") -> PrivacyRequest:
    return _set(ctx, request_id, False, reason, by)


def withdraw_request(ctx: ServiceContext, request_id: str, reason: str, *, by: str = "") -> PrivacyRequest:
    """The subject took the request back: it ends, and its deadline stops being watched."""
    who = clean_text(by, "by", limit=200) or ""
    text = clean_text(reason, "reason")
    if not text:
        raise InvalidInput("a withdrawal needs a reason", ["reason: required"])
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        changed = recording.move(uow, r, Move.WITHDRAW, ctx.clock(), text, who)
        uow.commit()
        return changed
