"""The verification of a request as staff see it (the console's request page, `dsar request
show`): level, requirement, state, proofs, tries. No personal data.

Kept apart from :mod:`dsar.services.identity` (the verification itself: codes, links, proofs,
letters, risk flags) so a read of it imports none of that (issue 13, item 8: `request show`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dsar.domain.verification_case import CaseState
from dsar.domain.verification_policy import next_proof

if TYPE_CHECKING:
    from dsar.services.context import ServiceContext


@dataclass(frozen=True)
class CaseSummary:
    """The verification as staff see it (console, `request show`): no personal data."""

    level: str
    requirement: str
    state: str
    known: bool
    channel: str
    proofs: tuple[str, ...]
    next: str | None
    sends: int
    attempts: int
    expires_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "requirement": self.requirement,
            "state": self.state,
            "subject_on_file": self.known,
            "channel": self.channel,
            "proofs": list(self.proofs),
            "next": self.next,
            "sends": self.sends,
            "failed_tries": self.attempts,
            "expires_at": self.expires_at.isoformat(),
        }


def summary(ctx: ServiceContext, request_id: str) -> CaseSummary | None:
    with ctx.uow() as uow:
        case = uow.cases.get(request_id)
    if case is None:
        return None
    nxt = next_proof(case.requirement, case.proofs) if case.state is CaseState.OPEN else None
    return CaseSummary(
        case.requirement.level.value,
        case.requirement.describe(),
        case.state.value,
        case.known,
        case.channel,
        tuple(sorted(p.value for p in case.proofs)),
        nxt.value if nxt else None,
        case.issued,
        case.attempts,
        case.expires_at,
    )
