"""Legal's sign-off of a response letter before it goes out (issue 11): when it is needed, and
the decision itself.

``DSAR_LETTER_SIGN_OFF`` lists when a letter waits for legal's approval: request types
(``access``, ``deletion``, ``correction``) and ``refusal`` (legal's denial letter, the engine's
could-not-verify letter, and the partial refusal that goes with a response keeping part of what
was asked), each optionally for one regime only (``access@ccpa``); or ``none``. The default is
``deletion,refusal``. :func:`parse_letter_sign_off` reads the setting (an unknown entry is an
error naming it) and :meth:`LetterSignOffPolicy.needs` decides, without I/O.

Legal either approves the letter or returns it to the team with a reason (the request is then
held with that reason until staff release it, and the letter waits for a new approval).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from dsar.domain.errors import InvalidInput
from dsar.domain.regimes import ALIASES, REGIMES, RequestType
from dsar.domain.request import clean_text

# The decision step of an approval (one per request); a return is recorded under a step of its
# own per return (:func:`letter_return_step`), so a letter returned, fixed and released can be
# approved afterwards.
LETTER_STEP = "letter"
REFUSAL = "refusal"
NONE = "none"
DEFAULT_LETTER_SIGN_OFF = "deletion,refusal"
LETTER_TYPES = (RequestType.ACCESS.value, RequestType.DELETION.value, RequestType.CORRECTION.value)
RETURN_REASON_LIMIT = 1000
NOTE_LIMIT = 4000


def letter_return_step(number: int) -> str:
    return f"{LETTER_STEP}-return-{number}"


def letter_approval_step(number: int) -> str:
    """The step of the ``number``-th approval of a request's letter: the first is
    :data:`LETTER_STEP`; one after a lapse (the letter's files changed before it went) is
    ``letter-2`` and so on."""
    return LETTER_STEP if number <= 1 else f"{LETTER_STEP}-{number}"


def letter_lapse_step(number: int) -> str:
    """The step recording that the ``number``-th approval lapsed (the letter's templates
    changed between legal's approval and the sending)."""
    return f"{LETTER_STEP}-lapsed-{number}"


def sources_version(sources: Iterable[tuple[str, str]]) -> str:
    """One SHA-256 over every file a letter is made of and its version (the letter, its
    partials, the layout, the vocabulary): what legal's approval of a letter is bound to."""
    text = "".join(f"{path}\t{version}\n" for path, version in sorted(set(sources)))
    return hashlib.sha256(text.encode()).hexdigest() if text else ""


@dataclass(frozen=True)
class LetterSignOffPolicy:
    """When a letter needs legal's approval: (what, regime) pairs, ``what`` a request type or
    ``refusal``, ``regime`` None for every regime. Empty: never."""

    entries: frozenset[tuple[str, str | None]] = frozenset()

    def needs(self, request_type: RequestType | str, regime: str, *, refusal: bool) -> bool:
        """Whether a letter of a request of ``request_type`` under ``regime`` waits for legal's
        approval; ``refusal``: the letter refuses the request in whole or in part."""
        kind = request_type.value if isinstance(request_type, RequestType) else str(request_type)
        wanted = {kind, REFUSAL} if refusal else {kind}
        return any(what in wanted and where in (None, regime) for what, where in self.entries)

    def describe(self) -> str:
        if not self.entries:
            return NONE
        return ",".join(sorted(what + (f"@{where}" if where else "") for what, where in self.entries))


def _regime_code(text: str) -> str | None:
    code = text.strip().lower()
    return code if code in REGIMES else ALIASES.get(code)


def parse_letter_sign_off(text: str | None) -> LetterSignOffPolicy:
    """Read ``DSAR_LETTER_SIGN_OFF``: comma-separated entries, each ``access``, ``deletion``,
    ``correction`` or ``refusal``, optionally ``@REGIME``; or ``none`` (alone). Raises
    InvalidInput naming each unknown entry."""
    raw = [part.strip() for part in (text or "").split(",")]
    parts = [p for p in raw if p]
    if not parts:
        raise InvalidInput("DSAR_LETTER_SIGN_OFF is empty: say none for no letter sign-off", ["letter sign-off: empty (use none)"])
    if [p.lower() for p in parts] == [NONE]:
        return LetterSignOffPolicy()
    problems: list[str] = []
    entries: set[tuple[str, str | None]] = set()
    known = (*LETTER_TYPES, REFUSAL)
    for part in parts:
        what, at, where = part.lower().partition("@")
        what = what.strip()
        if what == NONE:
            problems.append("letter sign-off: none cannot be combined with other entries")
            continue
        if what not in known:
            problems.append(f"letter sign-off: unknown entry {part!r} (one of {', '.join(known)}, optionally @REGIME; or none)")
            continue
        regime: str | None = None
        if at:
            regime = _regime_code(where)
            if regime is None:
                problems.append(f"letter sign-off: unknown regime in {part!r}")
                continue
        entries.add((what, regime))
    if problems:
        raise InvalidInput("; ".join(problems), problems)
    return LetterSignOffPolicy(frozenset(entries))


DEFAULT_POLICY = parse_letter_sign_off(DEFAULT_LETTER_SIGN_OFF)


def letter_needs_sign_off(policy: LetterSignOffPolicy, request_type: RequestType | str, regime: str, *, refusal: bool) -> bool:
    """The rule as a function: see :meth:`LetterSignOffPolicy.needs`."""
    return policy.needs(request_type, regime, refusal=refusal)


class LetterDecision(StrEnum):
    APPROVE = "approve"
    RETURN = "return"  # back to the team, with a reason: the request is held until released


@dataclass(frozen=True)
class LetterSignOff:
    """Legal's decision on a letter: approve, or return with a reason for the team; ``note`` is
    internal (sealed, for the file and the auditors). Neither ever reaches a letter."""

    decision: LetterDecision
    reason: str = ""
    note: str = ""

    @property
    def approved(self) -> bool:
        return self.decision is LetterDecision.APPROVE


def letter_sign_off(decision: str, reason: str | None = None, note: str | None = None) -> LetterSignOff:
    """Build legal's decision on a letter from what was typed; raises InvalidInput naming every
    problem: a return needs a reason for the team; an approval takes none."""
    try:
        d = LetterDecision((decision or "").strip().lower())
    except ValueError:
        raise InvalidInput("the decision is approve or return", ["decision: approve or return"]) from None
    problems: list[str] = []
    why = ""
    try:
        why = clean_text(reason, "reason", limit=RETURN_REASON_LIMIT) or ""
    except InvalidInput as exc:
        problems.extend(exc.problems)
    internal = ""
    try:
        internal = clean_text(note, "note", limit=NOTE_LIMIT, multiline=True) or ""
    except InvalidInput as exc:
        problems.extend(exc.problems)
    if d is LetterDecision.RETURN and not why and not problems:
        problems.append("reason: a return needs a reason for the team")
    if d is LetterDecision.APPROVE and why:
        problems.append("reason: an approval takes no reason (use the note)")
    if problems:
        raise InvalidInput("the letter sign-off is incomplete: " + "; ".join(problems), problems)
    return LetterSignOff(d, why, internal)
