# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Oregon Consumer Privacy Act (ocpa, also us-or): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="ocpa",
    title="Oregon Consumer Privacy Act",
    citation="ORS 646A.570-.589",
    country="US",
    subdivisions=frozenset({"OR"}),
    rights=ALL_RIGHTS,
    effective=date(2024, 7, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="ORS 646A.576(2); day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(45, None, complaint_route_required=True, rule="ORS 646A.576(6)(d)"),
    regulator="the Oregon Attorney General (Oregon Department of Justice)",
    aliases=("us-or",),
    lookback_start=None,
    sources=(
        Source("effective", "ORS 646A.570-.589: in force 2024-07-01"),
        Source("response", "ORS 646A.576(2): 45 days after receipt"),
        Source("extension", "ORS 646A.576(2): +45 days once, the consumer told inside the first 45 days with the reason"),
        Source("rights", "ORS 646A.570-.589: access (confirm and access), deletion, portability (a portable copy), correction"),
        Source(
            "appeal",
            "ORS 646A.576(6)(d): approve or deny the appeal within 45 days after receiving it, in writing with the reasons; a denial says how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
            confirmed="ORS 646A.576(6)(d) text (statute reproduced in a privacy-law deskbook): 45 days after the date the controller received the appeal; no extension",
        ),
        Source("regulator", "ORS 646A.570-.589: enforced by Oregon Attorney General (Oregon Department of Justice)"),
    ),
    notes="",
)
