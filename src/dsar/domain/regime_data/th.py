# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Thailand Personal Data Protection Act B.E. 2562 (th): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="th",
    title="Thailand Personal Data Protection Act B.E. 2562",
    citation="PDPA (TH) s.30-36",
    country="TH",
    rights=ALL_RIGHTS,
    effective=date(2022, 6, 1),
    clock=Clock(ClockKind.DAYS, 30, rule="PDPA (TH) s.30: within 30 days from the date of receipt; day of receipt is day 1"),
    portability=True,
    regulator="the Personal Data Protection Committee (PDPC Thailand)",
    aliases=(),
    sources=(
        Source("effective", "PDPA (TH) fully in force 2022-06-01", secondary="privacy-law trackers and law-firm summaries"),
        Source("response", "PDPA (TH) s.30: 30 days", secondary="privacy-law trackers and law-firm summaries"),
        Source("extension", "none", secondary="privacy-law trackers and law-firm summaries"),
        Source(
            "rights",
            "s.30 access, s.31 portability, s.33 erasure, s.35-36 correction",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source("regulator", "PDPA (TH) s.73: complaint to the expert committee", secondary="privacy-law trackers and law-firm summaries"),
    ),
)
