"""Decisions people make on a request: legal's sign-off, an extension, a manual step's outcome.

Legal's sign-off is a value (:class:`SignOff`): approve, or deny with a reason code from
:class:`DenialReason` (``other`` needs its text). The reason is what the subject is told; the
internal note is legal's own reasoning for the file and the auditor, kept sealed and never put
in a letter. :func:`sign_off` builds the value and refuses, at input, a denial without a reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dsar.domain.errors import InvalidInput
from dsar.domain.exemptions import Exemption, exemptions_from
from dsar.domain.texts import LocalText

SIGN_OFF_STEP = "release"
EXTENSION_STEP = "extension"
# Why a request was denied, whoever denied it (legal at sign-off, or failed verification): the
# denial letter states it (GDPR Art. 12(4)) without reading the audit trail back.
DENIAL_STEP = "denial"

REASON_TEXT_LIMIT = 500
NOTE_LIMIT = 4000


def manual_step_key(system: str) -> str:
    """The decision step under which a manual system's confirmation is stored."""
    return f"manual:{system}"


class SignOffDecision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


class DenialReason(StrEnum):
    """Why a request is refused, as a code; :data:`DENIAL_REASON_TEXT` says it to the subject."""

    UNVERIFIABLE = "unverifiable"
    NOT_A_CONSUMER = "not_a_consumer"
    EXEMPT = "exempt"
    MANIFESTLY_UNFOUNDED_OR_EXCESSIVE = "manifestly_unfounded_or_excessive"
    OTHER = "other"


# The sentence the denial letter gives after "Reason:" (plain language, no internal detail).
# In English; letters in another language print the approved vocabulary's [denial_reasons].
DENIAL_REASON_TEXT: dict[DenialReason, str] = {
    DenialReason.UNVERIFIABLE: "we could not verify that the request comes from you, the person the data is about",
    DenialReason.NOT_A_CONSUMER: "the law you made the request under does not cover you in your relationship with us",
    DenialReason.EXEMPT: "the data you asked about is exempt from this request under the law that applies",
    DenialReason.MANIFESTLY_UNFOUNDED_OR_EXCESSIVE: (
        "the request is manifestly unfounded or excessive, in particular because it repeats earlier requests"
    ),
    DenialReason.OTHER: "",  # the text legal gives
}


def denial_reason_text(reason: DenialReason, text: str | None = None) -> str:
    """The reason as the subject reads it: the code's sentence, or legal's text for ``other``.
    As a str the English (what the decision records); a letter in another language prints the
    code's sentence from the approved vocabulary's ``[denial_reasons]``, legal's own words
    after it as typed. Legal's text for ``other`` is printed as typed in every letter."""
    if reason is DenialReason.OTHER:
        return (text or "").strip()
    plain = DENIAL_REASON_TEXT[reason]
    extra = (text or "").strip()
    after = f" ({extra})" if extra else ""
    return LocalText(plain + after, words=("denial_reasons", reason.value), after=after)


def _single_line(value: str, field: str, limit: int) -> str:
    text = " ".join(value.split())
    if len(text) > limit:
        raise InvalidInput(f"{field} is too long", [f"{field}: at most {limit} characters"])
    if any(ord(c) < 32 or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in text):
        raise InvalidInput(f"{field} holds control characters", [f"{field}: control or direction characters"])
    return text


@dataclass(frozen=True)
class SignOff:
    """Legal's decision: approve, or deny with a reason for the subject; ``note`` is internal."""

    decision: SignOffDecision
    reason: DenialReason | None = None
    reason_text: str = ""  # for the subject: required for ``other``, optional detail otherwise
    note: str = ""  # internal: sealed, shown to staff and auditors, never in a letter
    # Parts of the plan kept out on a legal ground (approvals only): they revise the plan.
    exemptions: tuple[Exemption, ...] = ()

    @property
    def approved(self) -> bool:
        return self.decision is SignOffDecision.APPROVE

    def subject_reason(self) -> str:
        """What the denial letter says; empty for an approval."""
        return denial_reason_text(self.reason, self.reason_text) if self.reason is not None else ""


def sign_off(
    decision: str,
    reason: str | None = None,
    reason_text: str | None = None,
    note: str | None = None,
    exempt: Iterable[tuple[str, str | None]] = (),
) -> SignOff:
    """Build legal's decision from what was typed; raises InvalidInput naming every problem.

    A denial needs a reason code, and ``other`` its text: a refusal without a reason for the
    subject is refused here, at input. An approval takes no reason code. ``exempt`` is
    (target, ground) pairs: each needs a known legal ground, and only an approval takes them
    (whether the plan has the target is checked where the plan is known)."""
    problems: list[str] = []
    exemptions: tuple[Exemption, ...] = ()
    try:
        exemptions = exemptions_from(exempt)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    try:
        d = SignOffDecision((decision or "").strip().lower())
    except ValueError:
        raise InvalidInput("the decision is approve or deny", ["decision: approve or deny"]) from None
    code: DenialReason | None = None
    raw = (reason or "").strip().lower().replace("-", "_").replace(" ", "_")
    if raw:
        try:
            code = DenialReason(raw)
        except ValueError:
            problems.append(f"reason: one of {', '.join(r.value for r in DenialReason)}")
    text = _single_line(reason_text or "", "reason text", REASON_TEXT_LIMIT)
    internal = (note or "").strip()
    if len(internal) > NOTE_LIMIT:
        problems.append(f"note: at most {NOTE_LIMIT} characters")
    if d is SignOffDecision.DENY:
        if code is None and not problems:
            problems.append("reason: a denial needs a reason code for the subject")
        if code is DenialReason.OTHER and not text:
            problems.append("reason text: 'other' needs the reason in words for the subject")
        if exemptions:
            problems.append("exempt: only an approval keeps parts of the plan out (a denial refuses the whole request)")
    elif code is not None or text:
        problems.append("reason: an approval takes no reason code")
    if problems:
        raise InvalidInput("the sign-off is incomplete: " + "; ".join(problems), problems)
    return SignOff(d, code, text, internal, exemptions)


class SignOffRefusal(StrEnum):
    """Why a sign-off attempt was not taken (the request keeps waiting)."""

    NOT_ON_ROSTER = "not_on_roster"  # no active legal account of that name
    NO_AUTHENTICATOR = "no_authenticator"  # the legal account has no TOTP secret enrolled
    WRONG_CODE = "wrong_code"
    REPLAYED_CODE = "replayed_code"  # a code of this account was used already at or after its time step
    INCOMPLETE = "incomplete"  # the decision itself was incomplete (a denial without a reason)
    EXEMPTION_WITHOUT_GROUND = "exemption_without_ground"  # an exemption with no (or an unknown) legal ground
    EXEMPTION_NOT_IN_PLAN = "exemption_not_in_plan"  # an exemption of something the plan does not hold
    LOCKED_OUT = "locked_out"  # too many wrong codes of this approver lately: their codes are refused for a while
    RETURN_WITHOUT_REASON = "return_without_reason"  # a letter returned to the team without a reason (Prefect UI)
    HOLD_WITHOUT_NOTE = "hold_without_note"  # an escalation kept on hold without legal's note (Prefect UI)


REFUSAL_TEXT: dict[SignOffRefusal, str] = {
    SignOffRefusal.NOT_ON_ROSTER: "the approver is not an active legal account",
    SignOffRefusal.NO_AUTHENTICATOR: "the approver has no authenticator enrolled (dsar users totp NAME)",
    SignOffRefusal.WRONG_CODE: "the authenticator code is wrong or expired",
    SignOffRefusal.REPLAYED_CODE: "the authenticator code was used already",
    SignOffRefusal.INCOMPLETE: "the decision was incomplete (a denial needs a reason for the subject)",
    SignOffRefusal.EXEMPTION_WITHOUT_GROUND: "an exemption was given without its legal ground",
    SignOffRefusal.EXEMPTION_NOT_IN_PLAN: "an exemption names something the plan does not hold",
    SignOffRefusal.LOCKED_OUT: "too many wrong codes from this approver: their codes are refused for 15 minutes",
    SignOffRefusal.RETURN_WITHOUT_REASON: "a letter returned to the team needs a reason for them",
    SignOffRefusal.HOLD_WITHOUT_NOTE: "keeping an escalation on hold needs a note saying why",
}


@dataclass(frozen=True)
class Decision:
    """Who decided what, when; ``note`` is sealed at rest."""

    step: str
    decision: str
    approver: str
    note: str | None
    at: datetime
