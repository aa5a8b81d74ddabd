# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Korea Personal Information Protection Act (kr): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="kr",
    title="Korea Personal Information Protection Act",
    citation="PIPA Art. 35-37; Enforcement Decree Art. 41-44",
    country="KR",
    rights=ALL_RIGHTS,
    effective=date(2011, 9, 30),
    clock=Clock(
        ClockKind.DAYS,
        10,
        extension_notice="a delay only with notice of the reasons",
        rule="PIPA Enforcement Decree Art. 41(4): within 10 days; day of receipt is day 1",
    ),
    portability=False,
    regulator="the Personal Information Protection Commission (PIPC)",
    aliases=(),
    sources=(
        Source("effective", "PIPA in force 2011-09-30"),
        Source("response", "PIPA Enforcement Decree Art. 41(4): within 10 days", secondary="privacy-law trackers and law-firm summaries"),
        Source(
            "extension",
            "PIPA Art. 35(3): access may be postponed after notifying the data subject of the ground; no fixed length",
            secondary="privacy-law trackers and law-firm summaries",
            confirmed="PIPA Art. 35(3) (English text, prighter.com): 'within the period prescribed by Presidential Decree ... may postpone access after notifying the relevant data subject of the said ground'",
        ),
        Source(
            "rights",
            "PIPA Art. 35 access, 36 correction and deletion (portability Art. 35-2 from 2025-03-13 not modelled)",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source(
            "regulator", "PIPA Art. 62: PIPC / KISA dispute and complaint centre", secondary="privacy-law trackers and law-firm summaries"
        ),
    ),
)
