# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""New Hampshire Privacy Act (us-nh): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-nh",
    title="New Hampshire Privacy Act",
    citation="RSA 507-H",
    country="US",
    subdivisions=frozenset({"NH"}),
    rights=ALL_RIGHTS,
    effective=date(2025, 1, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="RSA 507-H:4, III; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="RSA 507-H:4, IV"),
    regulator="the New Hampshire Attorney General (Consumer Protection and Antitrust Bureau)",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "RSA 507-H: in force 2025-01-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("response", "RSA 507-H:4, III: 45 days after receipt"),
        Source("extension", "RSA 507-H:4, III: +45 days once, the consumer told inside the first 45 days with the reason"),
        Source("rights", "RSA 507-H: access (confirm and access), deletion, portability (a portable copy), correction"),
        Source(
            "appeal",
            "RSA 507-H:4, IV: decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "RSA 507-H: enforced by New Hampshire Attorney General (Consumer Protection and Antitrust Bureau)"),
    ),
    notes="",
)
