# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Personal Information Protection and Electronic Documents Act (pipeda): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import Clock, ClockKind, Regime, RequestType, Right, Source

REGIME = Regime(
    code="pipeda",
    title="Personal Information Protection and Electronic Documents Act",
    citation="PIPEDA s.8, Sch. 1 4.9",
    country="CA",
    rights=(Right(RequestType.ACCESS), Right(RequestType.CORRECTION)),
    effective=date(2001, 1, 1),
    clock=Clock(
        ClockKind.DAYS,
        30,
        extension=30,
        extension_notice="within the first 30 days: the new limit, the reasons and the right to complain",
        rule="PIPEDA s.8(3)-(4); day of receipt is day 1",
    ),
    portability=False,
    regulator="the Office of the Privacy Commissioner of Canada",
    aliases=(),
    sources=(
        Source("effective", "PIPEDA Part 1 in force 2001-01-01"),
        Source("response", "PIPEDA s.8(3): 30 days after receipt"),
        Source("extension", "PIPEDA s.8(4): +30 days, notice within 30 days"),
        Source("rights", "PIPEDA Sch. 1 4.9 access, 4.9.5 correction"),
        Source("regulator", "PIPEDA s.8(4)(b), s.11: complaint to the Privacy Commissioner"),
    ),
)
