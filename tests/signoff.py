"""Legal's sign-off in tests, as a legal account with an enrolled authenticator gives it: the
code is computed from the secret the enrolment returned, with the real RFC 6238 TOTP
(dsar.crypto.totp over ``cryptography``), at the context's clock.

A code is good once per account (RFC 6238 5.2), and tests often sign off several requests at
one fixed instant: :func:`approve` signs each request off with a legal account of its own."""

from __future__ import annotations

from dsar.crypto.totp import code_at, secret_from_base32
from dsar.domain.decisions import SignOff, SignOffDecision
from dsar.domain.letter_sign_off import LetterDecision, LetterSignOff
from dsar.domain.request import Status
from dsar.services import accounts, letter_sign_off, processing
from dsar.services.context import ServiceContext
from dsar.services.letter_sign_off import LetterSignOffResult
from dsar.services.processing import SignOffResult

LEGAL = "lena.legal"


def enrol(ctx: ServiceContext, name: str = LEGAL) -> bytes:
    """A legal account ``name`` (made when missing) with a new authenticator; its secret."""
    if accounts.find_account(ctx, name) is None:
        accounts.add_user(ctx, name, "legal", by="test")
    return secret_from_base32(accounts.enrol_totp(ctx, name, by="test").secret)


def code(ctx: ServiceContext, secret: bytes) -> str:
    return code_at(secret, ctx.clock())


def sign(ctx: ServiceContext, request_id: str, given: SignOff, name: str | None = None, *, via: str = "test") -> SignOffResult:
    who = name or f"legal.{request_id[:12]}"
    if processing.status_of(ctx, request_id) is not Status.AWAITING_SIGN_OFF:
        return processing.record_sign_off(ctx, request_id, given, who, "", via=via)  # nothing waits: a no-op, as in a re-run
    secret = enrol(ctx, who)
    return processing.record_sign_off(ctx, request_id, given, who, code(ctx, secret), via=via)


def approve(ctx: ServiceContext, request_id: str, name: str | None = None) -> Status:
    return sign(ctx, request_id, SignOff(SignOffDecision.APPROVE), name).status


def sign_letter(
    ctx: ServiceContext, request_id: str, given: LetterSignOff, name: str | None = None, *, via: str = "test"
) -> LetterSignOffResult:
    """Legal's decision on the request's waiting letter, by a legal account of its own (not the
    plan sign-off's: both may be given at one fixed instant, and a code is good once)."""
    who = name or f"letter.{request_id[:12]}"
    secret = enrol(ctx, who)
    return letter_sign_off.record_letter_sign_off(ctx, request_id, given, who, code(ctx, secret), via=via)


def approve_letter(ctx: ServiceContext, request_id: str, name: str | None = None) -> Status:
    """Approve the request's letter when it waits for legal (DSAR_LETTER_SIGN_OFF); a no-op
    otherwise. Returns the status."""
    if not letter_sign_off.letter_state(ctx, request_id).waiting:
        return processing.status_of(ctx, request_id)
    return sign_letter(ctx, request_id, LetterSignOff(LetterDecision.APPROVE), name).status


def respond(ctx: ServiceContext, request_id: str, name: str | None = None) -> Status:
    """Send the closing letter as a flow run does: legal approves it first when it waits."""
    approve_letter(ctx, request_id, name)
    return processing.send_response(ctx, request_id)


def proceed_escalations(ctx: ServiceContext, request_id: str) -> list[int]:
    """Legal lets the request go on: every open escalation of it decided ``proceed`` (a
    verification risk flag, say), each by a legal account of its own (a code is good once).
    Returns the numbers decided."""
    from dsar.services import escalations

    decided = []
    for x in escalations.escalations(ctx, request_id):
        if x.open:
            who = f"escalation{x.number}.{request_id[:12]}"
            secret = enrol(ctx, who)
            assert escalations.resolve(ctx, request_id, x.number, "proceed", who, code(ctx, secret)).recorded
            decided.append(x.number)
    return decided
