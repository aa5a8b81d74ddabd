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


def is_breach(kind: str) -> bool:
    return kind in (BREACHED, ACK_BREACHED)


def urgency(kind: str) -> int:
    """Higher is more urgent: breached, then the smallest threshold."""
    if is_breach(kind):
        return 10_000
    return -int(kind.removeprefix("due-in-").removeprefix("ack-in-").removesuffix("d"))
