# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Connecticut Data Privacy Act (ctdpa, also us-ct): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="ctdpa",
    title="Connecticut Data Privacy Act",
    citation="Conn. Gen. Stat. 42-515 to -525",
    country="US",
    subdivisions=frozenset({"CT"}),
    rights=ALL_RIGHTS,
    effective=date(2023, 7, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Conn. Gen. Stat. 42-518(b); day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Conn. Gen. Stat. 42-518(d)"),
    regulator="the Connecticut Attorney General",
    aliases=("us-ct",),
    lookback_start=None,
    sources=(
        Source("effective", "Conn. Gen. Stat. 42-515 to -525: in force 2023-07-01"),
        Source("response", "Conn. Gen. Stat. 42-518(b): 45 days after receipt"),
        Source("extension", "Conn. Gen. Stat. 42-518(b): +45 days once, the consumer told inside the first 45 days with the reason"),
        Source(
            "rights", "Conn. Gen. Stat. 42-515 to -525: access (confirm and access), deletion, portability (a portable copy), correction"
        ),
        Source(
            "appeal",
            "Conn. Gen. Stat. 42-518(d): decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "Conn. Gen. Stat. 42-515 to -525: enforced by Connecticut Attorney General"),
    ),
    notes="",
)
