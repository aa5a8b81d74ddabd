"""The deadline watch's alert kinds (dsar.domain.alerts)."""

from __future__ import annotations

from dsar.domain.alerts import ACK_BREACHED, BREACHED, alert_kind, is_breach, urgency


def test_alert_kinds_name_the_watched_date_and_the_threshold() -> None:
    assert alert_kind(7) == "due-in-7d"
    assert alert_kind(3, receipt=True) == "ack-in-3d"


def test_a_breach_is_more_urgent_than_any_threshold_and_a_nearer_threshold_more_than_a_farther_one() -> None:
    assert is_breach(BREACHED) and is_breach(ACK_BREACHED) and not is_breach("due-in-0d")
    assert sorted(["due-in-7d", BREACHED, "due-in-1d", "ack-in-3d"], key=urgency, reverse=True) == [
        BREACHED,
        "due-in-1d",
        "ack-in-3d",
        "due-in-7d",
    ]
