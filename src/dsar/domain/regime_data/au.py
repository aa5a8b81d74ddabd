# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Australia Privacy Act 1988, APP 12-13 (au): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import Clock, ClockKind, Regime, RequestType, Right, Source

REGIME = Regime(
    code="au",
    title="Australia Privacy Act 1988, APP 12-13",
    citation="Privacy Act 1988 Sch. 1 APP 12.4, 13",
    country="AU",
    rights=(Right(RequestType.ACCESS), Right(RequestType.CORRECTION)),
    effective=date(2014, 3, 12),
    clock=Clock(
        ClockKind.TARGET,
        law_words="within a reasonable period after the request is made",
        rule="APP 12.4(a)(ii): an organisation responds within a reasonable period; the organisation sets the target",
    ),
    portability=False,
    regulator="the Office of the Australian Information Commissioner (OAIC)",
    aliases=(),
    sources=(
        Source("effective", "APPs in force 2014-03-12"),
        Source(
            "response",
            "APP 12.4(a)(ii): 'within a reasonable period' (agencies: 30 days)",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source("extension", "none"),
        Source("rights", "APP 12 access, APP 13 correction; no erasure right", secondary="privacy-law trackers and law-firm summaries"),
        Source("regulator", "Privacy Act 1988 s.36: complaint to the OAIC", secondary="privacy-law trackers and law-firm summaries"),
    ),
)
