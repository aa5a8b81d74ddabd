# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""Lei Geral de Protecao de Dados (lgpd): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import ALL_RIGHTS, Clock, ClockKind, Regime, Source

REGIME = Regime(
    code="lgpd",
    title="Lei Geral de Protecao de Dados",
    citation="LGPD Art. 18-19",
    country="BR",
    rights=ALL_RIGHTS,
    effective=date(2020, 9, 18),
    clock=Clock(ClockKind.DAYS, 15, rule="LGPD Art. 19(II): 15 days counted from the date of the request; day of receipt is day 1"),
    portability=True,
    regulator="the Autoridade Nacional de Protecao de Dados (ANPD)",
    aliases=(),
    sources=(
        Source("effective", "Lei 13.709/2018 (LGPD), in force 2020-09-18"),
        Source("response", "LGPD Art. 19(II): 15 days"),
        Source("extension", "none stated"),
        Source("rights", "LGPD Art. 18: confirmation, access, correction, deletion, portability"),
        Source("regulator", "LGPD Art. 18 para. 1: petition to the ANPD"),
    ),
)
