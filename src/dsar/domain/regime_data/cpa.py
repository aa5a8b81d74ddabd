# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Colorado Privacy Act (cpa, also us-co): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="cpa",
    title="Colorado Privacy Act",
    citation="C.R.S. 6-1-1301 to -1313",
    country="US",
    subdivisions=frozenset({"CO"}),
    rights=ALL_RIGHTS,
    effective=date(2023, 7, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="C.R.S. 6-1-1306(2); day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(45, 60, complaint_route_required=True, rule="C.R.S. 6-1-1306(3)"),
    regulator="the Colorado Attorney General",
    aliases=("us-co",),
    lookback_start=None,
    sources=(
        Source("effective", "C.R.S. 6-1-1301 to -1313: in force 2023-07-01"),
        Source("response", "C.R.S. 6-1-1306(2): 45 days after receipt"),
        Source("extension", "C.R.S. 6-1-1306(2): +45 days once, the consumer told inside the first 45 days with the reason"),
        Source("rights", "C.R.S. 6-1-1301 to -1313: access (confirm and access), deletion, portability (a portable copy), correction"),
        Source(
            "appeal",
            "C.R.S. 6-1-1306(3): decide an appeal within 45 days of its receipt, +60 with notice; a denied appeal tells the consumer how to complain to the Attorney General",
        ),
        Source("regulator", "C.R.S. 6-1-1301 to -1313: enforced by Colorado Attorney General"),
    ),
    notes="",
)
