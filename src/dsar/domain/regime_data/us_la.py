# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Louisiana consumer data privacy act (enacted 2026) (us-la): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-la",
    title="Louisiana consumer data privacy act (enacted 2026)",
    citation="La. R.S. (enacted 2026; section numbers to be confirmed)",
    country="US",
    subdivisions=frozenset({"LA"}),
    rights=ALL_RIGHTS,
    effective=date(2027, 1, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Louisiana act of 2026; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Louisiana act of 2026"),
    regulator="the Louisiana Attorney General",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "La. R.S. (enacted 2026; section numbers to be confirmed): in force 2027-01-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "response",
            "Louisiana act of 2026: 45 days after receipt",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "extension",
            "Louisiana act of 2026: +45 days once, the consumer told inside the first 45 days with the reason",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "rights",
            "La. R.S. (enacted 2026; section numbers to be confirmed): access (confirm and access), deletion, portability (a portable copy), correction",
        ),
        Source(
            "appeal",
            "Louisiana act of 2026: decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "La. R.S. (enacted 2026; section numbers to be confirmed): enforced by Louisiana Attorney General"),
    ),
    notes="",
)
