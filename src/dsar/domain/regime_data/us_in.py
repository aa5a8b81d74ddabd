# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Indiana Consumer Data Protection Act (us-in): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-in",
    title="Indiana Consumer Data Protection Act",
    citation="Ind. Code 24-15",
    country="US",
    subdivisions=frozenset({"IN"}),
    rights=ALL_RIGHTS,
    effective=date(2026, 1, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Ind. Code 24-15-3-1; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Ind. Code 24-15-3-4"),
    regulator="the Indiana Attorney General",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "Ind. Code 24-15: in force 2026-01-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("response", "Ind. Code 24-15-3-1: 45 days after receipt"),
        Source("extension", "Ind. Code 24-15-3-1: +45 days once, the consumer told inside the first 45 days with the reason"),
        Source("rights", "Ind. Code 24-15: access (confirm and access), deletion, portability (a portable copy), correction"),
        Source(
            "appeal",
            "Ind. Code 24-15-3-4: decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "Ind. Code 24-15: enforced by Indiana Attorney General"),
    ),
    notes="",
)
