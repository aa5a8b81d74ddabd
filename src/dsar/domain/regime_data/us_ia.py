# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Iowa Consumer Data Protection Act (us-ia): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import NO_CORRECTION, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-ia",
    title="Iowa Consumer Data Protection Act",
    citation="Iowa Code ch. 715D",
    country="US",
    subdivisions=frozenset({"IA"}),
    rights=NO_CORRECTION,
    effective=date(2025, 1, 1),
    clock=Clock(
        ClockKind.DAYS,
        90,
        extension=45,
        extension_notice="inside the first 90 days, with the reason",
        rule="Iowa Code 715D.3(2)(a); day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="Iowa Code 715D.3(3)"),
    regulator="the Iowa Attorney General (Consumer Protection Division)",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "Iowa Code ch. 715D: in force 2025-01-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "response",
            "Iowa Code 715D.3(2)(a): 90 days after receipt",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "extension",
            "Iowa Code 715D.3(2)(a): +45 days once, the consumer told inside the first 90 days with the reason",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source(
            "rights",
            "Iowa Code 715D.3(1)(a)-(c): confirm and access, delete data the consumer provided, a portable copy; no correction",
            confirmed="Iowa SF 262 (2023) sec. 3, 715D.3(1), as enacted (reproduced in a privacy-law deskbook)",
        ),
        Source(
            "appeal",
            "Iowa Code 715D.3(3): decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
            confirmed="Iowa SF 262 (2023) sec. 3, 715D.3(3): 'Within sixty days of receipt of an appeal ... an online mechanism through which the consumer may contact the attorney general'",
        ),
        Source("regulator", "Iowa Code ch. 715D: enforced by Iowa Attorney General (Consumer Protection Division)"),
    ),
    notes="No right to correction.",
)
