# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""New Jersey Data Privacy Act (us-nj): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-nj",
    title="New Jersey Data Privacy Act",
    citation="N.J.S.A. 56:8-166.4 to -166.19",
    country="US",
    subdivisions=frozenset({"NJ"}),
    rights=ALL_RIGHTS,
    effective=date(2025, 1, 15),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="N.J.S.A. 56:8-166.7; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(45, None, complaint_route_required=True, rule="N.J.S.A. 56:8-166.7 (appeal period secondary)"),
    regulator="the New Jersey Division of Consumer Affairs (Attorney General)",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "N.J.S.A. 56:8-166.4 to -166.19: in force 2025-01-15",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "response",
            "N.J.S.A. 56:8-166.7(a): 45 days after receipt",
            confirmed="N.J.S.A. 56:8-166.7(a) text (casetext): 'within 45 days of the controller's receipt of the request'",
        ),
        Source(
            "extension",
            "N.J.S.A. 56:8-166.7(a): +45 days once, the consumer told inside the first 45 days with the reason",
            confirmed="N.J.S.A. 56:8-166.7(a) text: 'may extend the response period by 45 additional days'",
        ),
        Source(
            "rights", "N.J.S.A. 56:8-166.4 to -166.19: access (confirm and access), deletion, portability (a portable copy), correction"
        ),
        Source(
            "appeal",
            "N.J.S.A. 56:8-166.4 et seq.: decide an appeal within 45 days of its receipt, no extension counted; a denied appeal tells the consumer how to contact the Attorney General (period from summaries; the engine takes the shorter reading)",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "N.J.S.A. 56:8-166.4 to -166.19: enforced by New Jersey Division of Consumer Affairs (Attorney General)"),
    ),
    notes="",
)
