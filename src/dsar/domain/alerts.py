"""Deadline alerts: what the watch raises when a request's date comes near or passes.

Alerts carry references and dates, never personal data: they leave the engine for chat tools
and webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

BREACHED = "breached"
# The confirmation of receipt some regimes require (11 CCR 7021(a): within 10 business days).
ACK_BREACHED = "ack-breached"
# A letter the mail service accepted came back undelivered (dsar.services.bounces).
LETTER_BOUNCED = "letter-bounced"

# The dates the deadline watch follows: the response (``watch_due``) and the confirmation of
# receipt (``ack_watch``).
WatchColumn = Literal["watch_due", "ack_watch"]


@dataclass(frozen=True)
class WatchCandidate:
    """An open request whose watched date is near or past; ``due`` is that date."""

    request_id: str
    reference: str
    regime: str
    status: str
    due: date
    extended: bool


@dataclass(frozen=True)
class NewAlert:
    request_id: str
    reference: str
    kind: str
    due: date
    days_left: int
    notify: bool


@dataclass(frozen=True)
class Alert:
    id: int
    request_id: str
    reference: str
    kind: str
    due: date
    days_left: int
    raised_at: datetime
    notify: bool
    delivered_at: datetime | None
    attempts: int
    last_error: str | None


def alert_kind(threshold: int, *, receipt: bool = False) -> str:
    """The kind of the alert raised ``threshold`` days before the date: ``due-in-7d``, ``ack-in-3d``."""
    return f"{'ack' if receipt else 'due'}-in-{threshold}d"


# Legal's response target of an escalation passed without a decision (dsar.services.escalations):
# ``legal-target-missed-N`` for the request's N-th escalation.
LEGAL_MISSED = "legal-target-missed"


def legal_missed_kind(number: int) -> str:
    return f"{LEGAL_MISSED}-{number}"


def is_breach(kind: str) -> bool:
    return kind in (BREACHED, ACK_BREACHED) or kind.startswith(LEGAL_MISSED)


def urgency(kind: str) -> int:
    """Higher is more urgent: breached, then the smallest threshold."""
    if is_breach(kind):
        return 10_000
    if kind == LETTER_BOUNCED:
        return 5_000
    return -int(kind.removeprefix("due-in-").removeprefix("ack-in-").removesuffix("d"))


def family(kind: str) -> str:
    """Which date an alert watches: ``ack`` (the confirmation of receipt), ``legal`` (legal's
    response target of an escalation) or ``due``."""
    if kind.startswith("legal-"):
        return "legal"
    if kind == LETTER_BOUNCED:
        return "mail"
    return "ack" if kind.startswith("ack-") else "due"


def alert_state(notify: bool, delivered_at: datetime | None, last_error: str | None) -> str:
    """pending, failing (its last delivery failed; tried again), delivered, or superseded (a
    more urgent alert for the same request covers it: never sent)."""
    if not notify:
        return "superseded"
    if delivered_at is not None:
        return "delivered"
    return "failing" if last_error else "pending"


# What a request in each status waits for, for a person reading an alert.
WAITS_FOR: dict[str, str] = {
    "received": "its flow run to start (is `dsar serve` running? `dsar request reconcile`)",
    "awaiting_verification": "the subject's one-time code",
    "verified": "planning: locating the subject in every system",
    "planning": "planning: locating the subject in every system",
    "awaiting_sign_off": "legal's sign-off",
    "executing": "its plan to be carried out, or a person to confirm a manual system's step",
    "responding": "the response letter to go out (where DSAR_LETTER_SIGN_OFF asks for it, after legal's approval)",
    # watched only while its refusal letter waits for legal's approval (DSAR_LETTER_SIGN_OFF)
    "denied": "its refusal letter, if it has not gone out yet (where DSAR_LETTER_SIGN_OFF asks, legal's approval of it "
    "first: `dsar request approve-letter`)",
}


def waits_for(status: str, on_hold: bool) -> str:
    """What the request waits for, in words (no personal data)."""
    if on_hold:
        return "a person: it is ON HOLD (`dsar request events` gives the reason; `dsar request release` when fixed)"
    return WAITS_FOR.get(status, "nothing: it is finished")
