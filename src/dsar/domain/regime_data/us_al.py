# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Alabama personal data protection act (enacted 2026) (us-al): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-al",
    title="Alabama personal data protection act (enacted 2026)",
    citation="Ala. Code (enacted 2026; section numbers to be confirmed)",
    country="US",
    subdivisions=frozenset({"AL"}),
    rights=ALL_RIGHTS,
    effective=date(2027, 5, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Alabama act of 2026; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Alabama act of 2026"),
    regulator="the Alabama Attorney General",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "Ala. Code (enacted 2026; section numbers to be confirmed): in force 2027-05-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "response",
            "Alabama act of 2026: 45 days after receipt",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "extension",
            "Alabama act of 2026: +45 days once, the consumer told inside the first 45 days with the reason",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "rights",
            "Ala. Code (enacted 2026; section numbers to be confirmed): access (confirm and access), deletion, portability (a portable copy), correction",
        ),
        Source(
            "appeal",
            "Alabama act of 2026: decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "Ala. Code (enacted 2026; section numbers to be confirmed): enforced by Alabama Attorney General"),
    ),
    notes="",
)
