# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Delaware Personal Data Privacy Act (us-de): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-de",
    title="Delaware Personal Data Privacy Act",
    citation="6 Del. C. 12D-101 to -111",
    country="US",
    subdivisions=frozenset({"DE"}),
    rights=ALL_RIGHTS,
    effective=date(2025, 1, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="6 Del. C. 12D-104(c); day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="6 Del. C. 12D-104(d)"),
    regulator="the Delaware Department of Justice (privacy@delaware.gov)",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "6 Del. C. 12D-101 to -111: in force 2025-01-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "response",
            "6 Del. C. 12D-104(c)(1): 45 days after receipt",
            confirmed="12D-104(c)(1) text (statute reproduced in a privacy-law deskbook): 'not later than 45 days after receipt of the request'",
        ),
        Source(
            "extension",
            "6 Del. C. 12D-104(c)(1): +45 days once, the consumer told inside the first 45 days with the reason",
            confirmed="12D-104(c)(1) text: 'may extend the response period by 45 additional days'",
        ),
        Source("rights", "6 Del. C. 12D-101 to -111: access (confirm and access), deletion, portability (a portable copy), correction"),
        Source(
            "appeal",
            "6 Del. C. 12D-104(d): decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "regulator",
            "6 Del. C. 12D-111: enforced by the Delaware Department of Justice; complaints by email to privacy@delaware.gov",
            confirmed="Delaware Department of Justice, Personal Data Privacy Portal FAQ (attorneygeneral.delaware.gov)",
        ),
    ),
    notes="",
)
