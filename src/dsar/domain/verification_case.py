"""One request's identity verification as the engine keeps it: what is required, which proofs
were given, the single-use link and code (only their keyed digests), the tries and sends.

Personal data (the contact on file, the data points held, the identifiers the system of record
links, the declaration) lives only in ``sealed``/``declaration``: AES-GCM under the request's
data key, shredded with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from dsar.domain.verification_policy import Proof, Requirement


class CaseState(StrEnum):
    OPEN = "open"  # waiting for proofs
    VERIFIED = "verified"  # the requirement was met
    FAILED = "failed"  # too many tries, or expired: could not verify
    CLOSED = "closed"  # the request ended; verification data deleted


@dataclass(frozen=True)
class VerificationCase:
    id: int
    request_id: str
    created_at: datetime
    expires_at: datetime
    known: bool  # the subject was found in the system of record
    channel: str  # where the link and code go: email, sms, or none
    requirement: Requirement
    salt: str  # per case, random: the link and code are keyed digests of it (re-derivable on a re-run)
    proofs: frozenset[Proof] = frozenset()
    state: CaseState = CaseState.OPEN
    issued: int = 0  # link+code pairs sent (the first send and each resend)
    link_digest: str | None = None
    code_digest: str | None = None
    session_digest: str | None = None  # the pages' session after the contact proof
    attempts: int = 0  # wrong codes and failed data-point attempts together
    wakes: int = 0  # times the waiting run was woken (its suspension key)
    sealed: bytes | None = field(default=None, repr=False)
    declaration: bytes | None = field(default=None, repr=False)
    system: str | None = None  # the system of record searched
