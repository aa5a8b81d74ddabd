"""The web app's texts: every key in every language, the same placeholders everywhere, and every
key a public template names exists (dsar.web.i18n)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from dsar.domain.letters import LETTER_LANGUAGES
from dsar.domain.regimes import AccessScope, RequestType
from dsar.domain.request import AgentKind
from dsar.web.i18n import CATALOGS, LANGUAGES, Translator, _load_locales, negotiate
from dsar.web.places import COUNTRIES, UK_NATIONS
from dsar.web.public import CORRECTABLE

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "dsar" / "web" / "templates"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_key_in_every_language(lang: str) -> None:
    assert set(CATALOGS[lang]) == set(CATALOGS["en"])
    for key, text in CATALOGS[lang].items():
        assert text.strip(), f"{lang}: {key} is empty"
        assert placeholders(text) == placeholders(CATALOGS["en"][key]), f"{lang}: {key}"


def test_the_keys_the_public_pages_name_exist() -> None:
    named: set[str] = set()
    for page in (TEMPLATES / "public").glob("*.html"):
        named |= set(k for k in re.findall(r"""\bt\(["']([a-z_.]+)["']""", page.read_text()) if not k.endswith("."))
    named |= {f"type.{t.value}" for t in RequestType} | {f"type.{t.value}.hint" for t in RequestType}
    named |= {f"thanks.step3.{t.value}" for t in RequestType} | {f"scope.{s.value}" for s in AccessScope}
    named |= {f"agent.kind.{k.value}" for k in AgentKind} | {f"attr.{a}" for a in CORRECTABLE}
    named |= {f"country.{c}" for c in COUNTRIES} | {f"nation.{n}" for n in UK_NATIONS}
    assert len(named) > 100
    assert named - set(CATALOGS["en"]) == set()


def test_the_languages_are_the_letters_languages() -> None:
    # A request made on a page in a language gets its letters in that language.
    assert tuple(LANGUAGES) == LETTER_LANGUAGES


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_no_language_is_english(lang: str) -> None:
    same = [k for k in CATALOGS["en"] if CATALOGS[lang][k] == CATALOGS["en"][k]]
    # place names that read the same (Portugal, Liechtenstein ...) and words spelt alike
    # (German "Name", Spanish "Error"), nothing else
    alike = {"attr.name", "err.title_prefix"}
    assert all(k.startswith(("country.", "nation.")) or k in alike for k in same), (lang, same)


def test_a_locale_file_in_an_unknown_language_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.it.json").write_text('{"a": "b"}')
    with pytest.raises(ValueError, match="x.it.json"):
        _load_locales({lang: {} for lang in LANGUAGES}, tmp_path)


def test_negotiation_and_fallback() -> None:
    assert negotiate(None, None, "it-CH, de;q=0.8, es;q=0.9") == "es"
    assert negotiate(None, None, "fr-CH, de;q=0.8, es;q=0.9") == "fr"
    assert negotiate("FR", None, "de") == "fr"
    assert negotiate("de", "es", "en") == "de"
    assert negotiate("xx", None, "xx") == "en"
    assert Translator("de")("form.submit") == "Anfrage senden"
    assert Translator("fr")("form.submit") == "Envoyer ma demande"
    assert Translator("de")("no.such.key") == "no.such.key"
