# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Turkey Personal Data Protection Law No. 6698 (KVKK) (tr): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="tr",
    title="Turkey Personal Data Protection Law No. 6698 (KVKK)",
    citation="KVKK Art. 11, 13",
    country="TR",
    rights=ALL_RIGHTS,
    effective=date(2016, 10, 7),
    clock=Clock(ClockKind.DAYS, 30, rule="KVKK Art. 13(2): at the latest within thirty days; day of receipt is day 1"),
    portability=False,
    regulator="the Personal Data Protection Board (KVKK Kurulu)",
    aliases=(),
    sources=(
        Source("effective", "KVKK Art. 11 and 13 in force 2016-10-07", secondary="privacy-law trackers and law-firm summaries"),
        Source("response", "KVKK Art. 13(2): within 30 days", secondary="privacy-law trackers and law-firm summaries"),
        Source("extension", "none", secondary="privacy-law trackers and law-firm summaries"),
        Source("rights", "KVKK Art. 11: access, correction, erasure", secondary="privacy-law trackers and law-firm summaries"),
        Source(
            "regulator",
            "KVKK Art. 14: complaint to the Board within 30 days of the answer",
            secondary="privacy-law trackers and law-firm summaries",
        ),
    ),
)
