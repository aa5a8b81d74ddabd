# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Virginia Consumer Data Protection Act (vcdpa, also us-va): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="vcdpa",
    title="Virginia Consumer Data Protection Act",
    citation="Va. Code 59.1-575 to -585",
    country="US",
    subdivisions=frozenset({"VA"}),
    rights=ALL_RIGHTS,
    effective=date(2023, 1, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Va. Code 59.1-577(B)(1); day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Va. Code 59.1-577(C)"),
    regulator="the Virginia Attorney General (Office of the Attorney General, Consumer Protection Section)",
    aliases=("us-va",),
    lookback_start=None,
    sources=(
        Source("effective", "Va. Code 59.1-575 to -585: in force 2023-01-01"),
        Source("response", "Va. Code 59.1-577(B)(1): 45 days after receipt"),
        Source("extension", "Va. Code 59.1-577(B)(1): +45 days once, the consumer told inside the first 45 days with the reason"),
        Source("rights", "Va. Code 59.1-575 to -585: access (confirm and access), deletion, portability (a portable copy), correction"),
        Source(
            "appeal",
            "Va. Code 59.1-577(C): decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
        ),
        Source(
            "regulator",
            "Va. Code 59.1-575 to -585: enforced by Virginia Attorney General (Office of the Attorney General, Consumer Protection Section)",
        ),
    ),
    notes="",
)
