"""Every regime is data with a source for each fact (issue 16), and docs/regimes.md is that data."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsar.domain import regime_data
from dsar.domain.errors import UnknownRegime
from dsar.domain.regime_data._languages import WORDING
from dsar.domain.regime_docs import regime_rows, render_markdown
from dsar.domain.regimes import ALIASES, REGIMES, ClockKind, get_regime, regime_text

DOCS = Path(__file__).resolve().parents[2] / "docs" / "regimes.md"
REQUIRED_FACTS = {"effective", "response", "extension", "rights", "regulator"}


def test_docs_regimes_md_is_generated_from_the_data() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), "run: python -m dsar.domain.regime_docs > docs/regimes.md"


def test_one_module_per_regime() -> None:
    modules = {p.stem for p in Path(regime_data.__file__).parent.glob("*.py") if not p.stem.startswith("_")}
    assert len(modules) == len(REGIMES) == len(regime_data.ALL) == 37


@pytest.mark.parametrize("code", sorted(REGIMES))
def test_every_fact_has_its_source(code: str) -> None:
    r = REGIMES[code]
    assert REQUIRED_FACTS <= {s.fact for s in r.sources}, code
    assert r.effective is not None and r.regulator and r.clock.rule
    if r.appeal is not None:
        assert r.source("appeal") is not None and r.appeal.rule
    for s in r.sources:
        assert s.citation.strip()
        assert not (s.secondary and s.confirmed is None and "secondary" in s.citation), "the note belongs in `secondary`"


@pytest.mark.parametrize("code", sorted(REGIMES))
def test_every_unconfirmed_figure_says_so_in_the_docs(code: str) -> None:
    row = next(r for r in regime_rows() if r["code"] == code)
    for s in REGIMES[code].secondary_facts:
        assert f"{s.fact}: {s.citation} [secondary, not confirmed" in row["sources"]


def test_the_clock_kinds_the_issue_names() -> None:
    assert REGIMES["nz"].clock.kind is ClockKind.WORKING_DAYS and REGIMES["nz"].clock.days == 20
    assert REGIMES["us-ia"].clock.days == 90 and REGIMES["kr"].clock.days == 10 and REGIMES["ca-qc"].clock.days == 30
    assert {c for c, r in REGIMES.items() if r.clock.kind is ClockKind.TARGET} == {"jp", "sg", "au"}
    assert REGIMES["ccpa"].lookback_start is not None and REGIMES["ccpa"].lookback_start.isoformat() == "2022-01-01"


def test_aliases_never_shadow_a_regime_and_unknown_codes_are_refused() -> None:
    assert not set(ALIASES) & set(REGIMES)
    for hostile in ["us-zz", "US-VA ", "../gdpr", "{{7*7}}", "gdpr'; drop table", "\u202egdpr"]:
        with pytest.raises(UnknownRegime):
            get_regime(hostile)


TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.mark.parametrize("code", sorted(REGIMES))
def test_every_regimes_refusal_letter_names_its_redress(code: str) -> None:
    """The refusal letter's redress comes from the regime's facts, in every language: the
    regulator and, with an appeal, its period (nothing is written per regime in templates/)."""
    from datetime import date

    from dsar.letters.render import LetterRenderer

    renderer = LetterRenderer(TEMPLATES)
    r = REGIMES[code]
    request = {"reference": "DSR-2026-000001", "type": "access", "regime": code, "received": date(2026, 11, 2), "subject_name": "J"}
    context = {"request": request, "organisation": "O", "contact": "c@example.test", "sent_on": date(2026, 11, 20), "denial_reason": "x"}
    for language in ("en", "de", "fr", "es"):
        text = " ".join(renderer.render("denial", code, context, language).body.split())
        regulator = regime_text(r, "regulator").in_language(language)
        assert regulator in text, (language, code)
        if language != "en":  # named in the letter's language: never the English phrase
            assert r.regulator not in text, (language, code)
        if r.appeal is not None:
            assert f" {r.appeal.days} " in text, (language, code)


# What names each regime's regulator whatever the language (an acronym, a web address, the
# official name): the English and every translation name at least one, so a translation names
# the same body as the regime's facts, never another.
BODY = {
    "gdpr": ("Art. 77", "art. 77"),
    "uk-gdpr": ("ico.org.uk",),
    "ccpa": ("cppa.ca.gov",),
    "lgpd": ("(ANPD)",),
    "ca-qc": ("cai.gouv.qc.ca",),
    "pipeda": ("Privacy Commissioner of Canada", "Commissariat à la protection de la vie privée du Canada"),
    "ucpa": ("Utah Division of Consumer Protection",),
    "us-fl": ("Florida Department of Legal Affairs",),
    "us-de": ("Delaware Department of Justice",),
    "us-nj": ("New Jersey Division of Consumer Affairs",),
    "ch": ("FDPIC", "EDÖB", "PFPDT"),
    "kr": ("(PIPC)",),
    "jp": ("(PPC)",),
    "sg": ("(PDPC)",),
    "nz": ("privacy.org.nz",),
    "au": ("(OAIC)",),
    "th": ("PDPC Thailand",),
    "tr": ("KVKK",),
    "za": ("inforegulator.org.za",),
}


def _body(code: str) -> tuple[str, ...]:
    r = REGIMES[code]
    if code in BODY:
        return BODY[code]
    state = r.regulator.removeprefix("the ").split(" Attorney General")[0]
    assert r.country == "US" and f"{state} Attorney General" in r.regulator, code
    return (f"{state} Attorney General",)


@pytest.mark.parametrize("code", sorted(REGIMES))
def test_every_regime_names_its_regulator_in_every_letter_language_and_it_is_the_same_body(code: str) -> None:
    r = REGIMES[code]
    assert set(WORDING) == set(REGIMES)
    assert set(WORDING[code]) == {"de", "fr", "es"}, code
    assert any(a in r.regulator for a in _body(code)), (code, r.regulator)
    for language, words in WORDING[code].items():
        assert words.regulator and words.regulator != r.regulator, (code, language)
        assert any(a in words.regulator for a in _body(code)), (code, language, words.regulator)
        assert bool(words.law_words) == bool(r.clock.law_words), (code, language)  # the law's words translated where it has some
        assert regime_text(r, "regulator").in_language(language) == words.regulator
    assert regime_text(r, "regulator") == r.regulator  # as a str: the English, as before
