"""The privacy regimes the engine knows, and what each one lets a subject ask for.

Each regime is one module under :mod:`dsar.domain.regime_data` (its facts, each with its
citation, its effective date, its clock, its appeal and its regulator; docs/regimes.md lists
them). Deadline arithmetic lives in :mod:`dsar.domain.deadlines`; this module only says *who*
may ask *what*, *where*, and from *when*.
"""

from __future__ import annotations

from datetime import date

from dsar.domain.errors import InvalidInput, UnknownJurisdiction, UnknownRegime, UnknownRequestType
from dsar.domain.regime_data import ALL
from dsar.domain.regime_data._languages import WORDING
from dsar.domain.regime_data._places import EU_MEMBER_STATES, UK_NATIONS
from dsar.domain.regime_model import (
    AccessScope,
    Appeal,
    Clock,
    ClockKind,
    Regime,
    RequestType,
    Right,
    Source,
    Wording,
)
from dsar.domain.texts import LocalText

__all__ = [
    "ALIASES",
    "EU_MEMBER_STATES",
    "REGIMES",
    "UK_NATIONS",
    "AccessScope",
    "Appeal",
    "Clock",
    "ClockKind",
    "NotInForce",
    "Regime",
    "RequestType",
    "Right",
    "Source",
    "Wording",
    "all_codes",
    "check_in_force",
    "get_regime",
    "parse_request_type",
    "regime_for_place",
    "regime_text",
    "resolve_jurisdiction",
]

# One module per regime under dsar.domain.regime_data (facts, citations, effective dates).
REGIMES: dict[str, Regime] = {r.code: r for r in ALL}
# Other codes that reach a regime: every US state law by its postal code (us-va -> vcdpa).
ALIASES: dict[str, str] = {alias: r.code for r in ALL for alias in r.aliases}


def regime_text(regime: Regime, fact: str) -> LocalText:
    """One of the facts a letter names (``regulator``, ``title``, ``law_words``) with its
    wording in the letters' other languages (:mod:`dsar.domain.regime_data._languages`): as a
    str the regime's own (English) text; a letter prints it in its language."""
    own = regime.clock.law_words if fact == "law_words" else getattr(regime, fact)
    words: dict[str, Wording] = WORDING.get(regime.code, {})
    return LocalText(own or "", {lang: str(getattr(w, fact)) for lang, w in words.items() if own and getattr(w, fact)})


class NotInForce(InvalidInput):
    """A request received before the regime's law took effect."""


def all_codes() -> list[str]:
    """Every code a caller may give: the regimes' own and their aliases, sorted."""
    return sorted({*REGIMES, *ALIASES})


def check_in_force(regime: Regime, on: date) -> None:
    """Refuse a request received before the law took effect, saying when it does."""
    if not regime.in_force(on):
        msg = f"{regime.code} ({regime.title}) takes effect on {regime.effective}; a request received on {on.isoformat()} is not under it"
        raise NotInForce(msg, [f"regime: {msg}"])


def get_regime(code: str) -> Regime:
    try:
        return REGIMES[ALIASES.get(code, code)]
    except KeyError:
        msg = f"unknown regime; known regimes: {', '.join(all_codes())}"
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


def regime_for_place(country: str | None, subdivision: str | None = None, on: date | None = None) -> str | None:
    """The regime that covers a person living in ``country`` (ISO 3166-1 alpha-2) and, where it
    matters, ``subdivision`` (a US state, a UK nation as ISO 3166-2:GB, a Canadian province):
    ``FR`` -> gdpr, ``GB``/``SCT`` -> uk-gdpr, ``US``/``VA`` -> vcdpa, ``CA`` -> pipeda. None when
    no regime the engine knows covers the place (a US state without a privacy law, a country
    without one here); the caller picks its configured default.

    A regime whose subdivisions are a closed list (US state laws, the UK nations) needs the
    subdivision to be one of them; a UK resident who gives no nation is still under UK GDPR (its
    deadlines default to England's bank holidays). With ``on``, a law not yet in force that day
    (Oklahoma before 2027) covers nothing: the web form then uses its default regime, while
    intake without ``on`` names the law and refuses with its effective date. Pure: no settings,
    no I/O."""
    if not country:
        return None
    c = country.strip().upper()
    sub = subdivision.strip().upper() if subdivision else None
    for regime in REGIMES.values():
        if c not in regime.allowed_countries() or (on is not None and not regime.in_force(on)):
            continue
        if regime.subdivisions is None:
            return regime.code
        if sub in regime.subdivisions or (sub is None and regime.code == "uk-gdpr"):
            return regime.code
    return None
