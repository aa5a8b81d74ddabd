# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Florida Digital Bill of Rights (us-fl): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-fl",
    title="Florida Digital Bill of Rights",
    citation="Fla. Stat. 501.701-.722",
    country="US",
    subdivisions=frozenset({"FL"}),
    rights=ALL_RIGHTS,
    effective=date(2024, 7, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=15,
        extension_notice="inside the first 45 days, with the reason",
        rule="Fla. Stat. 501.706(1); day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Fla. Stat. 501.707"),
    regulator="the Florida Department of Legal Affairs (Attorney General)",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "Fla. Stat. 501.701-.722: in force 2024-07-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("response", "Fla. Stat. 501.706(1): 45 days after receipt"),
        Source(
            "extension",
            "Fla. Stat. 501.706(1): +15 days once, the consumer told inside the first 45 days with the reason",
            confirmed="Fla. Stat. 501.706(1) as enacted (SB 262 (2023) s.9): 'may extend the response period once by an additional 15 days'",
        ),
        Source("rights", "Fla. Stat. 501.701-.722: access (confirm and access), deletion, portability (a portable copy), correction"),
        Source(
            "appeal",
            "Fla. Stat. 501.707: decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "Fla. Stat. 501.701-.722: enforced by Florida Department of Legal Affairs (Attorney General)"),
    ),
    notes="Applies only to controllers with over USD 1 billion global revenue meeting one of 501.702's tests.",
)
