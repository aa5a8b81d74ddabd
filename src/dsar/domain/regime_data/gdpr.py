# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""EU General Data Protection Regulation (gdpr): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_data._places import EU_MEMBER_STATES
from dsar.domain.regime_model import ALL_RIGHTS, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="gdpr",
    title="EU General Data Protection Regulation",
    citation="GDPR Art. 12, 15-17",
    country="DE",
    countries=EU_MEMBER_STATES,
    rights=ALL_RIGHTS,
    effective=date(2018, 5, 25),
    clock=Clock(
        ClockKind.MONTHS,
        months=1,
        extension=2,
        extension_notice="within one month of receipt, with the reasons",
        rule="GDPR Art. 12(3); Reg. 1182/71 Art. 3",
    ),
    portability=True,
    regulator="the supervisory authority of the member state (GDPR Art. 77), and a judicial remedy (Art. 79)",
    aliases=(),
    sources=(
        Source("effective", "GDPR Art. 99(2): applies from 2018-05-25"),
        Source("response", "GDPR Art. 12(3): one month of receipt"),
        Source("extension", "GDPR Art. 12(3): +2 months, the subject told within the first month with the reasons"),
        Source("rights", "GDPR Art. 15 access, 16 rectification, 17 erasure, 20 portability"),
        Source("regulator", "GDPR Art. 12(4), 77, 79: complaint to a supervisory authority and a judicial remedy"),
    ),
)
