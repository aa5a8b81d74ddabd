"""Casework that leaves only a trace in the audit trail: internal notes, and the
legal-sensitive mark.

Neither changes the request's status or dates. Both are audit events sealed under the
request's key (a note may name people and things said on the phone); the mark is derived from
the request's events (the last flag or unflag wins), so no table holds it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from dsar.domain.errors import InvalidInput
from dsar.domain.events import InternalNoteAdded, LegalSensitiveFlagged, LegalSensitiveUnflagged
from dsar.domain.request import clean_text
from dsar.services.context import ServiceContext

MAX_NOTE = 4000
FLAG_KINDS = frozenset({LegalSensitiveFlagged.kind, LegalSensitiveUnflagged.kind})


@dataclass(frozen=True)
class LegalFlag:
    """The request's legal-sensitive mark as the last flag event left it."""

    flagged: bool
    reason: str
    by: str
    at: datetime


class _Event(Protocol):
    """An audit event as read back (``AuditEntry``, or the read side's ``EventView``)."""

    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def details(self) -> dict[str, Any]: ...


def _who(by: str) -> str:
    return clean_text(by, "by", required=True, limit=200) or ""


def add_note(ctx: ServiceContext, request_id: str, text: str, *, by: str, via: str = "cli") -> None:
    """Record an internal note on the request (several lines allowed)."""
    note = clean_text(text, "note", required=True, limit=MAX_NOTE, multiline=True) or ""
    who = _who(by)
    with ctx.uow() as uow:
        uow.requests.facts(request_id)  # NotFound for an unknown request; nothing decrypted
        uow.audit.append([InternalNoteAdded(request_id, ctx.clock(), note, who, via, uuid.uuid4().hex)])
        uow.commit()


def flag_of(entries: Iterable[_Event]) -> LegalFlag | None:
    """The mark as the events leave it: the last flag or unflag, None when never flagged."""
    last: LegalFlag | None = None
    for e in entries:
        if e.kind in FLAG_KINDS:
            d = e.details
            last = LegalFlag(e.kind == LegalSensitiveFlagged.kind, str(d.get("reason", "")), str(d.get("by", "")), e.at)
    return last


def legal_flag(ctx: ServiceContext, request_id: str) -> LegalFlag | None:
    with ctx.uow() as uow:
        return flag_of(uow.audit.events(request_id))


def flagged_ids(ctx: ServiceContext, request_ids: Iterable[str]) -> set[str]:
    """Which of these requests are marked legal-sensitive now."""
    out: set[str] = set()
    with ctx.uow() as uow:
        # only requests that were ever flagged have a mark to read (the index on kinds)
        ever = set(uow.audit.request_ids_with(LegalSensitiveFlagged.kind))
        for rid in request_ids:
            if rid not in ever:
                continue
            flag = flag_of(uow.audit.events(rid))
            if flag is not None and flag.flagged:
                out.add(rid)
    return out


def _set_flag(ctx: ServiceContext, request_id: str, flagged: bool, reason: str, by: str, via: str) -> bool:
    text = clean_text(reason, "reason", limit=1000) or ""
    if not text:
        raise InvalidInput("say why", ["reason: required"])
    who = _who(by)
    with ctx.uow() as uow:
        uow.requests.facts(request_id)
        events = uow.audit.events(request_id)
        current = flag_of(events)
        if (current is not None and current.flagged) == flagged:
            return False
        number = sum(1 for e in events if e.kind in FLAG_KINDS) + 1
        event = LegalSensitiveFlagged if flagged else LegalSensitiveUnflagged
        uow.audit.append([event(request_id, ctx.clock(), text, who, via, number)])
        if flagged:
            # Support's flag goes to legal by itself: an escalation with its response target,
            # in legal's queue, the request held until legal decides (dsar.services.escalations).
            from dsar.domain.escalations import EscalationPoint
            from dsar.services.escalations import raise_in

            raise_in(ctx, uow, request_id, EscalationPoint.LEGAL_SENSITIVE, text, who, via)
        uow.commit()
        return True


def flag_legal_sensitive(ctx: ServiceContext, request_id: str, reason: str, *, by: str, via: str = "cli") -> bool:
    """Mark the request legal-sensitive, with the reason; False (nothing written) if it already is."""
    return _set_flag(ctx, request_id, True, reason, by, via)


def unflag_legal_sensitive(ctx: ServiceContext, request_id: str, reason: str, *, by: str, via: str = "cli") -> bool:
    """Take the mark off, with the reason; False (nothing written) if it is not marked."""
    return _set_flag(ctx, request_id, False, reason, by, via)
