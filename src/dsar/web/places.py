"""The places the public form offers: countries (names in the catalogs as ``country.XX``) and
the subdivisions that decide the regime (US states, UK nations, Canadian provinces).

A country not listed here is "another country": its request gets the organisation's default
regime (``DSAR_WEB_DEFAULT_REGIME``). Which regime a place gets is the domain's
:func:`dsar.domain.regimes.regime_for_place`; this module only lists what a person can pick.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from dsar.domain.regimes import EU_MEMBER_STATES

OTHER_COUNTRY = "other"

COUNTRIES: frozenset[str] = EU_MEMBER_STATES | frozenset("GB US CA BR CH NO IS LI AU NZ IN JP MX ZA AR CN KR SG IL TR TH".split())

US_STATES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}  # fmt: skip

CA_PROVINCES: dict[str, str] = {
    "AB": "Alberta", "BC": "British Columbia", "MB": "Manitoba", "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador", "NS": "Nova Scotia", "NT": "Northwest Territories", "NU": "Nunavut",
    "ON": "Ontario", "PE": "Prince Edward Island", "QC": "Québec", "SK": "Saskatchewan", "YT": "Yukon",
}  # fmt: skip

# UK nations (ISO 3166-2:GB); their names are translated (catalog keys ``nation.XXX``).
UK_NATIONS: tuple[str, ...] = ("ENG", "SCT", "WLS", "NIR")

# Country -> the subdivisions a person of that country picks from; the state is needed in the US.
SUBDIVISIONS: dict[str, tuple[str, ...]] = {"US": tuple(US_STATES), "GB": UK_NATIONS, "CA": tuple(CA_PROVINCES)}
# The UK too: uk-gdpr counts its deadlines by the nation's bank holidays, and intake refuses to guess one.
SUBDIVISION_REQUIRED: frozenset[str] = frozenset({"US", "GB"})


def _sort_key(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def country_options(t: Callable[[str], str]) -> list[tuple[str, str]]:
    """(code, name in the page's language), sorted by name as a reader of that language would."""
    return sorted(((c, t(f"country.{c}")) for c in COUNTRIES), key=lambda o: _sort_key(o[1]))


def subdivision_groups(t: Callable[[str], str]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(country, group label, [(code, name)]) for the one subdivision select: US states, UK
    nations, Canadian provinces. Codes are prefixed with the country (``US-VA``) so one select
    serves all."""
    return [
        ("US", t("place.us_states"), [(f"US-{k}", v) for k, v in US_STATES.items()]),
        ("GB", t("place.uk_nations"), [(f"GB-{k}", t(f"nation.{k}")) for k in UK_NATIONS]),
        ("CA", t("place.ca_provinces"), [(f"CA-{k}", v) for k, v in CA_PROVINCES.items()]),
    ]


def split_subdivision(value: str | None) -> tuple[str, str] | None:
    """``US-VA`` -> (``US``, ``VA``) when it is one of the listed subdivisions, else None."""
    if not value or "-" not in value:
        return None
    country, _, sub = value.strip().upper().partition("-")
    return (country, sub) if sub in SUBDIVISIONS.get(country, ()) else None
