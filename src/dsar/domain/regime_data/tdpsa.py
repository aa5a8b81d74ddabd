# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Texas Data Privacy and Security Act (tdpsa, also us-tx): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="tdpsa",
    title="Texas Data Privacy and Security Act",
    citation="Tex. Bus. & Com. Code 541.001-.205",
    country="US",
    subdivisions=frozenset({"TX"}),
    rights=ALL_RIGHTS,
    effective=date(2024, 7, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Tex. Bus. & Com. Code 541.052; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Tex. Bus. & Com. Code 541.053"),
    regulator="the Texas Attorney General (Consumer Protection Division)",
    aliases=("us-tx",),
    lookback_start=None,
    sources=(
        Source("effective", "Tex. Bus. & Com. Code 541.001-.205: in force 2024-07-01"),
        Source("response", "Tex. Bus. & Com. Code 541.052: 45 days after receipt"),
        Source("extension", "Tex. Bus. & Com. Code 541.052: +45 days once, the consumer told inside the first 45 days with the reason"),
        Source(
            "rights", "Tex. Bus. & Com. Code 541.001-.205: access (confirm and access), deletion, portability (a portable copy), correction"
        ),
        Source(
            "appeal",
            "Tex. Bus. & Com. Code 541.053: decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "Tex. Bus. & Com. Code 541.001-.205: enforced by Texas Attorney General (Consumer Protection Division)"),
    ),
    notes="",
)
