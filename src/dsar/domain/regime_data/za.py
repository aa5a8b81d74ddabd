# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""South Africa Protection of Personal Information Act (with PAIA) (za): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="za",
    title="South Africa Protection of Personal Information Act (with PAIA)",
    citation="POPIA s.23-25; PAIA s.56-57",
    country="ZA",
    rights=ALL_RIGHTS,
    effective=date(2021, 7, 1),
    clock=Clock(
        ClockKind.DAYS,
        30,
        extension=30,
        extension_notice="within the first 30 days, with reasons and the right to complain (PAIA s.57)",
        rule="POPIA s.23(1), PAIA s.56(1): within 30 days; day of receipt is day 1",
    ),
    portability=False,
    regulator="the Information Regulator (inforegulator.org.za)",
    aliases=(),
    sources=(
        Source("effective", "POPIA compliance date 2021-07-01"),
        Source("response", "PAIA s.56(1) via POPIA s.23(3): 30 days", secondary="privacy-law trackers and law-firm summaries"),
        Source(
            "extension",
            "PAIA s.57(1): once, up to 30 days, with notice (uncertain for POPIA requests)",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source("rights", "POPIA s.23 access, s.24 correction and deletion", secondary="privacy-law trackers and law-firm summaries"),
        Source("regulator", "POPIA s.74: complaint to the Information Regulator", secondary="privacy-law trackers and law-firm summaries"),
    ),
)
