# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Tennessee Information Protection Act (us-tn): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-tn",
    title="Tennessee Information Protection Act",
    citation="Tenn. Code Ann. 47-18-3301 to -3315",
    country="US",
    subdivisions=frozenset({"TN"}),
    rights=ALL_RIGHTS,
    effective=date(2025, 7, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Tenn. Code Ann. 47-18-3304; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Tenn. Code Ann. 47-18-3304"),
    regulator="the Tennessee Attorney General (Consumer Protection Division)",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "Tenn. Code Ann. 47-18-3301 to -3315: in force 2025-07-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("response", "Tenn. Code Ann. 47-18-3304: 45 days after receipt"),
        Source("extension", "Tenn. Code Ann. 47-18-3304: +45 days once, the consumer told inside the first 45 days with the reason"),
        Source(
            "rights",
            "Tenn. Code Ann. 47-18-3301 to -3315: access (confirm and access), deletion, portability (a portable copy), correction",
        ),
        Source(
            "appeal",
            "Tenn. Code Ann. 47-18-3304: decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "Tenn. Code Ann. 47-18-3301 to -3315: enforced by Tennessee Attorney General (Consumer Protection Division)"),
    ),
    notes="",
)
