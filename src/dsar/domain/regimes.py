"""The privacy regimes the engine knows, and what each one lets a subject ask for.

Facts come from docs/regulations.md; each regime cites its law. Deadline arithmetic lives in
:mod:`dsar.domain.deadlines`; this module only says *who* may ask *what*, and *where*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from dsar.domain.errors import UnknownJurisdiction, UnknownRegime, UnknownRequestType


class RequestType(StrEnum):
    ACCESS = "access"
    DELETION = "deletion"
    CORRECTION = "correction"


class AccessScope(StrEnum):
    """CCPA distinguishes a request to know categories from one for specific pieces
    (Cal. Civ. Code 1798.110; 11 CCR 7024). Other regimes give a copy (GDPR Art. 15(3))."""

    CATEGORIES = "categories"
    SPECIFIC_PIECES = "specific_pieces"


# EU member states (ISO 3166-1 alpha-2) where the controller acts; GDPR holidays follow the
# member state (Reg. 1182/71 Art. 2(1)).
EU_MEMBER_STATES: frozenset[str] = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
# UK nations as ISO 3166-2:GB codes used by the `holidays` package (bank holidays differ).
UK_NATIONS: frozenset[str] = frozenset({"ENG", "NIR", "SCT", "WLS"})


@dataclass(frozen=True)
class Right:
    """A request type a regime provides, optionally only from a date (e.g. Utah correction)."""

    type: RequestType
    since: date | None = None


@dataclass(frozen=True)
class Regime:
    code: str
    title: str
    citation: str
    country: str
    rights: tuple[Right, ...]
    # Subdivisions allowed (None: any/none); `subdivision_required` forces one.
    subdivisions: frozenset[str] | None = None
    subdivision_required: bool = False
    # Countries allowed, when the regime spans several (GDPR: any member state).
    countries: frozenset[str] = field(default_factory=frozenset)
    access_scopes: tuple[AccessScope, ...] = ()

    def allowed_countries(self) -> frozenset[str]:
        return self.countries or frozenset({self.country})

    def provides(self, request_type: RequestType, on: date) -> bool:
        return any(r.type is request_type and (r.since is None or on >= r.since) for r in self.rights)


_ALL = (Right(RequestType.ACCESS), Right(RequestType.DELETION), Right(RequestType.CORRECTION))

REGIMES: dict[str, Regime] = {
    r.code: r
    for r in (
        Regime(
            "gdpr", "EU General Data Protection Regulation", "GDPR Art. 12, 15-17", country="DE", countries=EU_MEMBER_STATES, rights=_ALL
        ),
        Regime(
            "uk-gdpr",
            "UK GDPR and Data Protection Act 2018",
            "UK GDPR Art. 12, 12A, 15-17",
            country="GB",
            subdivisions=UK_NATIONS,
            rights=_ALL,
        ),
        Regime(
            "ccpa",
            "California Consumer Privacy Act (as amended by CPRA)",
            "Cal. Civ. Code 1798.100-.130; 11 CCR 7020-7024",
            country="US",
            subdivisions=frozenset({"CA"}),
            rights=_ALL,
            access_scopes=(AccessScope.CATEGORIES, AccessScope.SPECIFIC_PIECES),
        ),
        Regime(
            "vcdpa", "Virginia Consumer Data Protection Act", "Va. Code 59.1-577", country="US", subdivisions=frozenset({"VA"}), rights=_ALL
        ),
        Regime("cpa", "Colorado Privacy Act", "C.R.S. 6-1-1306", country="US", subdivisions=frozenset({"CO"}), rights=_ALL),
        Regime(
            "ctdpa", "Connecticut Data Privacy Act", "Conn. Gen. Stat. 42-518", country="US", subdivisions=frozenset({"CT"}), rights=_ALL
        ),
        # Utah added correction from 2026-07-01 (docs/regulations.md).
        Regime(
            "ucpa",
            "Utah Consumer Privacy Act",
            "Utah Code 13-61-201/203",
            country="US",
            subdivisions=frozenset({"UT"}),
            rights=(Right(RequestType.ACCESS), Right(RequestType.DELETION), Right(RequestType.CORRECTION, since=date(2026, 7, 1))),
        ),
        Regime(
            "tdpsa",
            "Texas Data Privacy and Security Act",
            "Tex. Bus. & Com. Code 541.051-.053",
            country="US",
            subdivisions=frozenset({"TX"}),
            rights=_ALL,
        ),
        Regime("ocpa", "Oregon Consumer Privacy Act", "ORS 646A.574/.576", country="US", subdivisions=frozenset({"OR"}), rights=_ALL),
        Regime("lgpd", "Lei Geral de Protecao de Dados", "LGPD Art. 18-19", country="BR", rights=_ALL),
        Regime(
            "pipeda",
            "Personal Information Protection and Electronic Documents Act",
            "PIPEDA s.8, Sch. 1 4.9",
            country="CA",
            rights=(Right(RequestType.ACCESS), Right(RequestType.CORRECTION)),
        ),
    )
}


def get_regime(code: str) -> Regime:
    try:
        return REGIMES[code]
    except KeyError:
        msg = f"unknown regime; known regimes: {', '.join(sorted(REGIMES))}"
        raise UnknownRegime(msg, [f"regime: {msg}"]) from None


def parse_request_type(value: str) -> RequestType:
    try:
        return RequestType(value)
    except ValueError:
        msg = f"unknown request type; known types: {', '.join(t.value for t in RequestType)}"
        raise UnknownRequestType(msg, [f"type: {msg}"]) from None


def resolve_jurisdiction(regime: Regime, country: str | None, subdivision: str | None, *, required: bool = False) -> tuple[str, str | None]:
    """Check (country, subdivision) against the regime and fill the regime's defaults.

    US state laws imply their state; PIPEDA and LGPD their country; GDPR needs the member state
    whose holidays apply, UK GDPR the nation whose bank holidays apply. With ``required`` (intake)
    a regime spanning several countries or subdivisions refuses to guess; without it (the
    `dsar deadline` calculator) the defaults are DE and ENG.
    """
    if required:
        problems: list[str] = []
        if country is None and len(regime.allowed_countries()) > 1:
            problems.append(f"country: {regime.code} spans several countries; say which (e.g. DE, FR, IE)")
        if subdivision is None and regime.subdivisions is not None and len(regime.subdivisions) > 1:
            problems.append(f"subdivision: {regime.code} spans {', '.join(sorted(regime.subdivisions))}; say which")
        if problems:
            raise UnknownJurisdiction(f"{regime.code} needs the jurisdiction", problems)
    c = (country or regime.country).upper()
    if c not in regime.allowed_countries():
        msg = f"country not covered by {regime.code}; expected one of {', '.join(sorted(regime.allowed_countries()))}"
        raise UnknownJurisdiction(msg, [f"country: {msg}"])
    sub = subdivision.upper() if subdivision else None
    if regime.subdivisions is not None:
        if sub is None:
            sub = "ENG" if regime.code == "uk-gdpr" else (next(iter(regime.subdivisions)) if len(regime.subdivisions) == 1 else None)
        if sub not in regime.subdivisions:
            msg = f"subdivision not covered by {regime.code}; expected one of {', '.join(sorted(regime.subdivisions))}"
            raise UnknownJurisdiction(msg, [f"subdivision: {msg}"])
    return c, sub


def regime_for_place(country: str | None, subdivision: str | None = None) -> str | None:
    """The regime that covers a person living in ``country`` (ISO 3166-1 alpha-2) and, where it
    matters, ``subdivision`` (a US state, a UK nation as ISO 3166-2:GB, a Canadian province):
    ``FR`` -> gdpr, ``GB``/``SCT`` -> uk-gdpr, ``US``/``VA`` -> vcdpa, ``CA`` -> pipeda. None when
    no regime the engine knows covers the place (a US state without a privacy law, a country
    without one here); the caller picks its configured default.

    A regime whose subdivisions are a closed list (US state laws, the UK nations) needs the
    subdivision to be one of them; a UK resident who gives no nation is still under UK GDPR (its
    deadlines default to England's bank holidays). Pure: no settings, no I/O."""
    if not country:
        return None
    c = country.strip().upper()
    sub = subdivision.strip().upper() if subdivision else None
    for regime in REGIMES.values():
        if c not in regime.allowed_countries():
            continue
        if regime.subdivisions is None:
            return regime.code
        if sub in regime.subdivisions or (sub is None and regime.code == "uk-gdpr"):
            return regime.code
    return None
