# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Montana Consumer Data Privacy Act (us-mt): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-mt",
    title="Montana Consumer Data Privacy Act",
    citation="Mont. Code Ann. 30-14-2801 to -2817",
    country="US",
    subdivisions=frozenset({"MT"}),
    rights=ALL_RIGHTS,
    effective=date(2024, 10, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Mont. Code Ann. 30-14-2808(4)(a); day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Mont. Code Ann. 30-14-2808(5)"),
    regulator="the Montana Attorney General (Office of Consumer Protection)",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "Mont. Code Ann. 30-14-2801 to -2817: in force 2024-10-01",
            confirmed="Mont. Code Ann. 30-14-2808 heading '(Effective October 1, 2024)'",
        ),
        Source("response", "Mont. Code Ann. 30-14-2808(4)(a): 45 days after receipt"),
        Source(
            "extension",
            "Mont. Code Ann. 30-14-2808(4)(a): +45 days once, the consumer told inside the first 45 days with the reason",
            confirmed="30-14-2808(4)(a) as enacted (SB 384 (2023) s.5(4)(a)): 45 days, 'may extend the response period by 45 additional days'",
        ),
        Source(
            "rights",
            "Mont. Code Ann. 30-14-2801 to -2817: access (confirm and access), deletion, portability (a portable copy), correction",
        ),
        Source(
            "appeal",
            "Mont. Code Ann. 30-14-2808(5): decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "Mont. Code Ann. 30-14-2801 to -2817: enforced by Montana Attorney General (Office of Consumer Protection)"),
    ),
    notes="",
)
