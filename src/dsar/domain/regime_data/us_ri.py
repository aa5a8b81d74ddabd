# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Rhode Island Data Transparency and Privacy Protection Act (us-ri): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-ri",
    title="Rhode Island Data Transparency and Privacy Protection Act",
    citation="R.I. Gen. Laws 6-48.1",
    country="US",
    subdivisions=frozenset({"RI"}),
    rights=ALL_RIGHTS,
    effective=date(2026, 1, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="R.I. Gen. Laws 6-48.1-5; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="R.I. Gen. Laws 6-48.1-5"),
    regulator="the Rhode Island Attorney General",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "R.I. Gen. Laws 6-48.1: in force 2026-01-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("response", "R.I. Gen. Laws 6-48.1-5: 45 days after receipt"),
        Source("extension", "R.I. Gen. Laws 6-48.1-5: +45 days once, the consumer told inside the first 45 days with the reason"),
        Source("rights", "R.I. Gen. Laws 6-48.1: access (confirm and access), deletion, portability (a portable copy), correction"),
        Source(
            "appeal",
            "R.I. Gen. Laws 6-48.1-5: decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "R.I. Gen. Laws 6-48.1: enforced by Rhode Island Attorney General"),
    ),
    notes="",
)
