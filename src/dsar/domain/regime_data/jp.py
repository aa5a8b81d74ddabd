# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Japan Act on the Protection of Personal Information (APPI) (jp): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="jp",
    title="Japan Act on the Protection of Personal Information (APPI)",
    citation="APPI Art. 33-35",
    country="JP",
    rights=ALL_RIGHTS,
    effective=date(2005, 4, 1),
    clock=Clock(
        ClockKind.TARGET, law_words="without delay", rule="APPI Art. 33(2): disclose without delay; the organisation sets the target"
    ),
    portability=False,
    regulator="the Personal Information Protection Commission (PPC)",
    aliases=(),
    sources=(
        Source("effective", "APPI in force 2005-04-01 (as amended 2022-04-01)"),
        Source("response", "APPI Art. 33(2): 'without delay'", secondary="privacy-law trackers and law-firm summaries"),
        Source("extension", "none"),
        Source(
            "rights",
            "APPI Art. 33 disclosure, 34 correction, 35 cessation/erasure",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source("regulator", "APPI: Personal Information Protection Commission", secondary="privacy-law trackers and law-firm summaries"),
    ),
)
