# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""California Consumer Privacy Act (as amended by CPRA) (ccpa, also us-ca): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, AccessScope, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="ccpa",
    title="California Consumer Privacy Act (as amended by CPRA)",
    citation="Cal. Civ. Code 1798.100-.130; 11 CCR 7020-7024",
    country="US",
    subdivisions=frozenset({"CA"}),
    rights=ALL_RIGHTS,
    access_scopes=(AccessScope.CATEGORIES, AccessScope.SPECIFIC_PIECES),
    effective=date(2020, 1, 1),
    clock=Clock(
        ClockKind.DAYS,
        45,
        extension=45,
        extension_notice="inside the first 45 days, with the reason",
        acknowledge_business_days=10,
        rule="Cal. Civ. Code 1798.130(a)(2); 11 CCR 7021(b); day of receipt is day 1 (11 CCR 7021(b), the earlier reading for every state)",
    ),
    portability=True,
    appeal=None,
    regulator="the California Privacy Protection Agency (cppa.ca.gov) or the California Attorney General",
    aliases=("us-ca",),
    lookback_start=date(2022, 1, 1),
    sources=(
        Source("effective", "Cal. Civ. Code 1798.100-.130; 11 CCR 7020-7024: in force 2020-01-01"),
        Source("response", "Cal. Civ. Code 1798.130(a)(2); 11 CCR 7021(b): 45 days after receipt"),
        Source(
            "extension",
            "Cal. Civ. Code 1798.130(a)(2); 11 CCR 7021(b): +45 days once, the consumer told inside the first 45 days with the reason",
        ),
        Source(
            "rights",
            "Cal. Civ. Code 1798.100-.130; 11 CCR 7020-7024: access (confirm and access), deletion, portability (a portable copy), correction",
        ),
        Source(
            "regulator",
            "Cal. Civ. Code 1798.100-.130; 11 CCR 7020-7024: enforced by California Privacy Protection Agency (cppa.ca.gov) or the California Attorney General",
        ),
        Source("acknowledgement", "11 CCR 7021(a): confirm receipt within 10 business days"),
        Source(
            "lookback_start",
            "Cal. Civ. Code 1798.130(a)(2)(B); 11 CCR 7024 as amended effective 2026-01-01: requests to know reach back to 2022-01-01 for data kept longer than 12 months",
            secondary="privacy law-firm summaries of the 2026 CCPA regulations",
        ),
        Source("appeal", "none: the CCPA gives no internal appeal; the refusal names the CPPA and the Attorney General"),
    ),
    notes="",
)
