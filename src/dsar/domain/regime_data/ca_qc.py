# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Quebec Act respecting the protection of personal information in the private sector (Law 25) (ca-qc): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="ca-qc",
    title="Quebec Act respecting the protection of personal information in the private sector (Law 25)",
    citation="CQLR c. P-39.1, ss. 27-35",
    country="CA",
    subdivisions=frozenset({"QC"}),
    rights=ALL_RIGHTS,
    effective=date(1994, 1, 1),
    clock=Clock(
        ClockKind.DAYS, 30, rule="CQLR c. P-39.1 s.32: within 30 days of receipt; day of receipt is day 1; no answer in time is a refusal"
    ),
    portability=True,
    regulator="the Commission d'acces a l'information du Quebec (cai.gouv.qc.ca)",
    aliases=(),
    sources=(
        Source(
            "effective",
            "CQLR c. P-39.1 in force 1994-01-01; Law 25 (2021, c. 25) amendments 2022-2024; portability s.27 from 2024-09-22",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source(
            "response",
            "CQLR c. P-39.1 s.32: 30 days of receipt; failing an answer, deemed refused",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source("extension", "none", secondary="privacy-law trackers and law-firm summaries"),
        Source(
            "rights",
            "CQLR c. P-39.1 s.27 access (portable form from 2024-09-22), s.28 rectification and deletion",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source(
            "regulator",
            "CQLR c. P-39.1 s.42: application to the Commission d'acces a l'information",
            secondary="privacy-law trackers and law-firm summaries",
        ),
    ),
)
