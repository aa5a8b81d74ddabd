# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""UK GDPR and Data Protection Act 2018 (uk-gdpr): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_data._places import UK_NATIONS
from dsar.domain.regime_model import ALL_RIGHTS, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="uk-gdpr",
    title="UK GDPR and Data Protection Act 2018",
    citation="UK GDPR Art. 12, 12A, 15-17",
    country="GB",
    subdivisions=UK_NATIONS,
    rights=ALL_RIGHTS,
    effective=date(2018, 5, 25),
    clock=Clock(
        ClockKind.MONTHS,
        months=1,
        extension=2,
        extension_notice="within one month of receipt, with the reasons",
        rule="UK GDPR Art. 12(3), 12A; Reg. 1182/71 Art. 3 as the ICO counts",
    ),
    portability=True,
    regulator="the Information Commissioner's Office (ico.org.uk), and a judicial remedy",
    aliases=(),
    sources=(
        Source("effective", "Data Protection Act 2018 (in force 2018-05-25); UK GDPR from 2021-01-01 with the same periods"),
        Source("response", "UK GDPR Art. 12(3), 12A: one month from the relevant time"),
        Source("extension", "UK GDPR Art. 12(3): +2 months; ICO: three months from the start"),
        Source("rights", "UK GDPR Art. 15-17, 20"),
        Source("regulator", "UK GDPR Art. 77: the Information Commissioner"),
    ),
)
