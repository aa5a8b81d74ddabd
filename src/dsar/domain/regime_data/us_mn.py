# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Minnesota Consumer Data Privacy Act (us-mn): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-mn",
    title="Minnesota Consumer Data Privacy Act",
    citation="Minn. Stat. 325M.10-.21",
    country="US",
    subdivisions=frozenset({"MN"}),
    rights=ALL_RIGHTS,
    effective=date(2025, 7, 31),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="Minn. Stat. 325M.14, subd. 3; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(45, 60, complaint_route_required=True, rule="Minn. Stat. 325M.14, subd. 4"),
    regulator="the Minnesota Attorney General",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "Minn. Stat. 325M.10-.21: in force 2025-07-31",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("response", "Minn. Stat. 325M.14, subd. 3: 45 days after receipt"),
        Source("extension", "Minn. Stat. 325M.14, subd. 3: +45 days once, the consumer told inside the first 45 days with the reason"),
        Source(
            "rights",
            "Minn. Stat. 325M.10-.21: access (confirm and access), deletion, portability (a portable copy), correction",
            confirmed="Minn. Stat. 325M.14, subd. 1 (revisor.mn.gov): confirm/access, correct, delete, portable copy, opt-out, question a profiling result",
        ),
        Source(
            "appeal",
            "Minn. Stat. 325M.14, subd. 4: decide an appeal within 45 days of its receipt, +60 with notice; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "Minn. Stat. 325M.10-.21: enforced by Minnesota Attorney General"),
    ),
    notes="Also a right to question the result of profiling and to a list of the specific third parties (325M.14, subd. 1).",
)
