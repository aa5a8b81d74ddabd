"""Places some regimes span (shared by regime modules and dsar.domain.regimes)."""

from __future__ import annotations

# EU member states (ISO 3166-1 alpha-2) where the controller acts; GDPR holidays follow the
# member state (Reg. 1182/71 Art. 2(1)).
EU_MEMBER_STATES: frozenset[str] = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
# UK nations as ISO 3166-2:GB codes used by the `holidays` package (bank holidays differ).
UK_NATIONS: frozenset[str] = frozenset({"ENG", "NIR", "SCT", "WLS"})
