"""Where a person lives picks the regime of a public-form request (dsar.domain.regimes.regime_for_place)."""

from __future__ import annotations

import pytest

from dsar.domain.regimes import EU_MEMBER_STATES, REGIMES, regime_for_place, resolve_jurisdiction


@pytest.mark.parametrize(
    ("country", "subdivision", "expected"),
    [
        ("DE", None, "gdpr"),
        ("fr", None, "gdpr"),
        ("IE", "CA", "gdpr"),  # a subdivision where none matters is ignored
        ("GB", None, "uk-gdpr"),
        ("GB", "SCT", "uk-gdpr"),
        ("gb", "nir", "uk-gdpr"),
        ("US", "CA", "ccpa"),
        ("US", "VA", "vcdpa"),
        ("US", "CO", "cpa"),
        ("US", "CT", "ctdpa"),
        ("US", "UT", "ucpa"),
        ("US", "TX", "tdpsa"),
        ("US", "OR", "ocpa"),
        ("BR", None, "lgpd"),
        ("CA", None, "pipeda"),
        # Issue 16: Quebec's private-sector Act (Law 25) is the more specific law for a resident
        # of Quebec; the rest of Canada stays under PIPEDA.
        ("CA", "QC", "ca-qc"),
        ("CA", "ON", "pipeda"),
        ("US", "IA", "us-ia"),
        ("us", "fl", "us-fl"),
        ("US", "RI", "us-ri"),
        ("US", "OK", "us-ok"),  # picked by place; intake refuses it before 2027-01-01
        ("JP", None, "jp"),
        ("CH", None, "ch"),
        ("NZ", None, "nz"),
        ("AU", None, "au"),
    ],
)
def test_known_places_pick_their_regime(country: str, subdivision: str | None, expected: str) -> None:
    assert regime_for_place(country, subdivision) == expected


@pytest.mark.parametrize(
    ("country", "subdivision"),
    [
        ("US", None),  # the state decides; none given
        ("US", "NY"),  # a state without a privacy law the engine knows
        ("US", "ENG"),  # a UK nation is no US state
        ("GB", "CA"),  # nor is a US state a UK nation
        ("IN", None),  # issue 16 added jp and ch; India and Mexico still have no regime here
        ("MX", None),
        ("US", "WA"),  # no comprehensive state law
        ("ZZ", None),
        ("../../etc/passwd", None),
        ("", None),
        (None, None),
    ],
)
def test_places_no_regime_covers_give_none(country: str | None, subdivision: str | None) -> None:
    assert regime_for_place(country, subdivision) is None


def test_every_member_state_is_gdpr() -> None:
    assert {regime_for_place(c) for c in EU_MEMBER_STATES} == {"gdpr"}


@pytest.mark.parametrize("code", sorted(REGIMES))
def test_a_regimes_own_place_resolves_back_to_it(code: str) -> None:
    """Whatever place picks a regime is one that regime accepts (intake would not refuse it)."""
    regime = REGIMES[code]
    subs = sorted(regime.subdivisions) if regime.subdivisions else [None]
    for country in sorted(regime.allowed_countries()):
        for sub in subs:
            assert regime_for_place(country, sub) == code
            assert resolve_jurisdiction(regime, country, sub)[0] == country
