# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Singapore Personal Data Protection Act 2012 (sg): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import Clock, ClockKind, Regime, RequestType, Right, Source

REGIME = Regime(
    code="sg",
    title="Singapore Personal Data Protection Act 2012",
    citation="PDPA s.21-22; PDP Regulations 2021 reg. 5",
    country="SG",
    rights=(Right(RequestType.ACCESS), Right(RequestType.CORRECTION)),
    effective=date(2014, 7, 2),
    clock=Clock(
        ClockKind.TARGET,
        law_words="as soon as reasonably possible",
        notice_within_days=30,
        extension_notice="if not within 30 days: within 30 days, tell the requester when the answer will come",
        rule="PDP Regulations 2021 reg. 5: as soon as reasonably possible; notice within 30 days if longer",
    ),
    portability=False,
    regulator="the Personal Data Protection Commission (PDPC)",
    aliases=(),
    sources=(
        Source("effective", "PDPA data protection provisions in force 2014-07-02"),
        Source(
            "response",
            "PDP Regulations 2021 reg. 5: as soon as reasonably possible; within 30 days tell the time if longer",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source("extension", "the time told to the requester; none fixed", secondary="privacy-law trackers and law-firm summaries"),
        Source("rights", "PDPA s.21 access, s.22 correction; no erasure right", secondary="privacy-law trackers and law-firm summaries"),
        Source("regulator", "PDPA s.48H: application to the PDPC for review", secondary="privacy-law trackers and law-firm summaries"),
    ),
)
