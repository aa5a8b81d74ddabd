# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Utah Consumer Privacy Act (ucpa, also us-ut): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import Clock, ClockKind, Regime, RequestType, Right, Source

REGIME = Regime(
    code="ucpa",
    title="Utah Consumer Privacy Act",
    citation="Utah Code 13-61-101 to -404",
    country="US",
    subdivisions=frozenset({"UT"}),
    rights=(Right(RequestType.ACCESS), Right(RequestType.DELETION), Right(RequestType.CORRECTION, since=date(2026, 7, 1))),
    effective=date(2023, 12, 31),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Utah Code 13-61-203(4); day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=None,
    regulator="the Utah Division of Consumer Protection",
    aliases=("us-ut",),
    lookback_start=None,
    sources=(
        Source("effective", "Utah Code 13-61-101 to -404: in force 2023-12-31"),
        Source("response", "Utah Code 13-61-203(4): 45 days after receipt"),
        Source("extension", "Utah Code 13-61-203(4): +45 days once, the consumer told inside the first 45 days with the reason"),
        Source("rights", "Utah Code 13-61-101 to -404: access (confirm and access), deletion, portability (a portable copy), correction"),
        Source("regulator", "Utah Code 13-61-101 to -404: enforced by Utah Division of Consumer Protection"),
        Source("appeal", "none: Utah Code 13-61-203 gives reasons for declining but no appeal"),
        Source(
            "correction",
            "Utah Code 13-61-201 as amended (correction from 2026-07-01)",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
    ),
    notes="",
)
