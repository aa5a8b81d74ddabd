"""Which closing letter a request owes now, and whether it waits for legal's approval.

Apart from :mod:`dsar.services.processing` (which sends the letter and re-exports these): the
readers of a letter's state (`dsar request show`, the console, the deadline sweep, the letter
sign-off) need only this, not the whole processing chain with its connectors, identity and
package modules (issue 13, item 8: the CLI's start time).
"""

from __future__ import annotations

from dataclasses import dataclass

from dsar.domain.decisions import DENIAL_STEP
from dsar.domain.letter_sign_off import letter_approval_step, letter_lapse_step
from dsar.domain.letters import COULD_NOT_VERIFY_LETTER, DENIAL_LETTER, PARTIAL_REFUSAL_LETTER, RESPONSE_LETTER
from dsar.domain.request import PrivacyRequest, Status
from dsar.domain.verification import UNVERIFIABLE
from dsar.services import notices
from dsar.services.context import ServiceContext
from dsar.services.ports import UnitOfWork


@dataclass(frozen=True)
class PendingLetter:
    """The letter a request's answer sends now, and whether it waits for legal's approval (no
    personal data). ``also``: the letters going with it (a partial refusal); ``refusal``: it
    refuses the request in whole or in part."""

    kind: str
    also: tuple[str, ...]
    refusal: bool
    needs_sign_off: bool
    approved: bool

    @property
    def waits(self) -> bool:
        """Not to be sent before legal approves it (DSAR_LETTER_SIGN_OFF)."""
        return self.needs_sign_off and not self.approved


def letter_kind(uow: UnitOfWork, r: PrivacyRequest) -> str | None:
    """The closing letter of a request in its status: the response of its type (RESPONDING),
    the could-not-verify letter or legal's denial (DENIED); None when it gets none."""
    if r.status is Status.DENIED:
        return COULD_NOT_VERIFY_LETTER if unverified(uow, r.id) else DENIAL_LETTER
    if r.status is Status.RESPONDING:
        return RESPONSE_LETTER.get(r.type)
    return None


def letter_due(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest) -> PendingLetter | None:
    """The closing letter not yet sent, with whether it needs and has legal's approval; None
    when no letter is owed now (not answering yet, or sent already)."""
    kind = letter_kind(uow, r)
    if kind is None or uow.letters.get(r.id, kind) is not None:
        return None
    also: tuple[str, ...] = ()
    if r.status is Status.RESPONDING and uow.letters.get(r.id, PARTIAL_REFUSAL_LETTER) is None:
        if notices.partial_refusal_due(ctx, r, uow.plans.get(r.id)):
            also = (PARTIAL_REFUSAL_LETTER,)
    refusal = r.status is Status.DENIED or bool(also)
    needs = ctx.policy.letter_sign_off.needs(r.type, r.regime, refusal=refusal)
    approved = needs and uow.decisions.get(r.id, letter_approval_step(approval_number(uow, r.id))) is not None
    return PendingLetter(kind, also, refusal, needs, approved)


def approval_number(uow: UnitOfWork, request_id: str) -> int:
    """Which approval of the request's letter counts now: the first, or the one after the last
    that lapsed (its files changed before it was sent;
    :func:`dsar.services.processing.lapse_changed_approval`). One read when nothing lapsed."""
    n = 1
    while uow.decisions.get(request_id, letter_lapse_step(n)) is not None:
        n += 1
    return n


def unverified(uow: UnitOfWork, request_id: str) -> bool:
    """Refused by the engine because identity could not be verified (tries used up, or the link
    expired unused), not by legal at sign-off (whose denial letter gives the reason and redress)."""
    denial = uow.decisions.get(request_id, DENIAL_STEP)
    return denial is not None and denial.approver == "dsar" and denial.note == UNVERIFIABLE
