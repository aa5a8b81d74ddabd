# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Kentucky Consumer Data Protection Act (us-ky): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Appeal, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="us-ky",
    title="Kentucky Consumer Data Protection Act",
    citation="KRS 367.3611-.3629",
    country="US",
    subdivisions=frozenset({"KY"}),
    rights=ALL_RIGHTS,
    effective=date(2026, 1, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        rule="KRS 367.3615; day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=Appeal(60, None, complaint_route_required=True, rule="KRS 367.3615"),
    regulator="the Kentucky Attorney General (Office of Consumer Protection)",
    aliases=(),
    lookback_start=None,
    sources=(
        Source(
            "effective",
            "KRS 367.3611-.3629: in force 2026-01-01",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("response", "KRS 367.3615: 45 days after receipt"),
        Source("extension", "KRS 367.3615: +45 days once, the consumer told inside the first 45 days with the reason"),
        Source("rights", "KRS 367.3611-.3629: access (confirm and access), deletion, portability (a portable copy), correction"),
        Source(
            "appeal",
            "KRS 367.3615: decide an appeal within 60 days of its receipt; a denied appeal tells the consumer how to complain to the Attorney General",
            secondary="US state privacy-law trackers and law-firm summaries (IAPP, Mayer Brown, multistate.us)",
        ),
        Source("regulator", "KRS 367.3611-.3629: enforced by Kentucky Attorney General (Office of Consumer Protection)"),
    ),
    notes="",
)
