# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Nebraska Data Privacy Act (us-ne): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-ne",
    title="Nebraska Data Privacy Act",
    citation="Neb. Rev. Stat. 87-1101 to -1130",
    country="US",
    subdivisions=frozenset({"NE"}),
    rights=ALL_RIGHTS,
    effective=date(2025, 1, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Neb. Rev. Stat. 87-1108; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Neb. Rev. Stat. 87-1109"),
    regulator="the Nebraska Attorney General",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "Neb. Rev. Stat. 87-1101 to -1130: in force 2025-01-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("response", "Neb. Rev. Stat. 87-1108: 45 days after receipt"),
        Source("extension", "Neb. Rev. Stat. 87-1108: +45 days once, the consumer told inside the first 45 days with the reason"),
        Source(
            "rights", "Neb. Rev. Stat. 87-1101 to -1130: access (confirm and access), deletion, portability (a portable copy), correction"
        ),
        Source(
            "appeal",
            "Neb. Rev. Stat. 87-1109: decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "Neb. Rev. Stat. 87-1101 to -1130: enforced by Nebraska Attorney General"),
    ),
    notes="",
)
