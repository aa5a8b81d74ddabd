# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Maryland Online Data Privacy Act (us-md): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-md",
    title="Maryland Online Data Privacy Act",
    citation="Md. Code Com. Law 14-4601 to -4613",
    country="US",
    subdivisions=frozenset({"MD"}),
    rights=ALL_RIGHTS,
    effective=date(2025, 10, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Md. Code Com. Law 14-4605; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Md. Code Com. Law 14-4605"),
    regulator="the Maryland Attorney General (Consumer Protection Division)",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "Md. Code Com. Law 14-4601 to -4613: in force 2025-10-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("response", "Md. Code Com. Law 14-4605: 45 days after receipt"),
        Source("extension", "Md. Code Com. Law 14-4605: +45 days once, the consumer told inside the first 45 days with the reason"),
        Source(
            "rights", "Md. Code Com. Law 14-4601 to -4613: access (confirm and access), deletion, portability (a portable copy), correction"
        ),
        Source(
            "appeal",
            "Md. Code Com. Law 14-4605: decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "Md. Code Com. Law 14-4601 to -4613: enforced by Maryland Attorney General (Consumer Protection Division)"),
    ),
    notes="",
)
