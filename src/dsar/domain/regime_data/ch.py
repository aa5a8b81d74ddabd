# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Swiss Federal Act on Data Protection (revFADP) (ch): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="ch",
    title="Swiss Federal Act on Data Protection (revFADP)",
    citation="FADP Art. 25-28, 32; DPO Art. 16-19",
    country="CH",
    rights=ALL_RIGHTS,
    effective=date(2023, 9, 1),
    clock=Clock(
        ClockKind.DAYS,
        30,
        extension_notice="if not within 30 days: tell the person within the 30 days when the information will be given",
        rule="revFADP Art. 25(7): generally within 30 days; day of receipt is day 1",
    ),
    portability=True,
    regulator="the Federal Data Protection and Information Commissioner (FDPIC)",
    aliases=(),
    sources=(
        Source("effective", "revFADP in force 2023-09-01"),
        Source("response", "revFADP Art. 25(7): within 30 days", secondary="privacy-law trackers and law-firm summaries"),
        Source(
            "extension",
            "DPO Art. 18(2): a later date may be set with notice inside the 30 days; no fixed length (the engine counts none)",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source(
            "rights",
            "revFADP Art. 25 access, 28 portability, 32 rectification and deletion",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source("regulator", "revFADP Art. 49: FDPIC", secondary="privacy-law trackers and law-firm summaries"),
    ),
)
