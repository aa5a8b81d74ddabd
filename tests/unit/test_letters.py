from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dsar.domain.errors import ConfigurationError, NotFound
from dsar.domain.letters import in_language
from dsar.letters.render import LetterRenderer

ROOT = Path(__file__).resolve().parents[2]


def context(name: str = "Jane Doe", regime: str = "gdpr") -> dict[str, object]:
    return {
        "request": {
            "reference": "DSR-2026-000001",
            "type": "access",
            "regime": regime,
            "received": date(2026, 11, 1),
            "subject_name": name,
            "access_scope": None,
        },
        "organisation": "Example Shop Ltd",
        "contact": "privacy@example.test",
        "due": date(2026, 12, 1),
        "sent_on": date(2026, 11, 20),
        "systems": [],
        "categories": [],
        "record_count": 0,
        "found": False,
        "denial_reason": "",
    }


def test_templates_are_chosen_by_the_manifest_most_specific_first(tmp_path: Path) -> None:
    r = LetterRenderer(ROOT / "templates")
    assert r.render("access_response", "ccpa", context(regime="ccpa")).template == "access_response/ccpa.en.j2"
    assert r.render("access_response", "gdpr", context()).template == "access_response/default.en.j2"
    # a language without a file falls back to English, and says so
    fallback = r.render("access_response", "gdpr", context(), language="it")
    assert (fallback.template, fallback.language) == ("access_response/default.en.j2", "en")


def test_a_letter_reports_every_file_it_is_made_of_with_its_sha256() -> None:
    import hashlib

    letter = LetterRenderer(ROOT / "templates").render("denial", "gdpr", context())
    files = dict(letter.sources)
    assert set(files) == {"denial/default.en.j2", "_partials/rights.en.j2", "_layout/letter.html.j2", "vocabulary.toml"}
    for path, version in files.items():
        assert version == hashlib.sha256((ROOT / "templates" / path).read_bytes()).hexdigest()
    assert letter.version == files["denial/default.en.j2"]


def flat(text: str) -> str:
    return " ".join(text.split())


def test_template_syntax_in_a_name_is_printed_as_typed_never_evaluated() -> None:
    hostile = "{{ 7*7 }} {% for x in range(3) %}x{% endfor %} ' OR 1=1 -- ../../etc/passwd"
    letter = LetterRenderer(ROOT / "templates").render("access_response", "gdpr", context(name=hostile))
    assert hostile in flat(letter.body)
    assert "49" not in letter.body


def test_the_text_body_is_reflowed_to_72_columns_and_a_link_is_never_broken() -> None:
    url = "https://forms.example-shop.test/?appeal_of=DSR-2026-000001&lang=en&a-very-long-parameter=" + "x" * 60
    letter = LetterRenderer(ROOT / "templates").render("denial", "vcdpa", context(regime="vcdpa") | {"appeal_url": url})
    lines = letter.body.splitlines()
    assert all(len(line) <= 72 for line in lines if url not in line)
    assert f"    {url}" in lines  # on a line of its own, whole


def test_each_regime_letter_names_its_own_redress() -> None:
    r = LetterRenderer(ROOT / "templates")
    assert "Information Commissioner" in flat(r.render("denial", "uk-gdpr", context(regime="uk-gdpr")).body)
    assert "supervisory authority" in flat(r.render("denial", "gdpr", context()).body)
    assert "Privacy Commissioner of Canada" in flat(r.render("denial", "pipeda", context(regime="pipeda")).body)


def test_a_missing_template_is_a_clear_not_found(tmp_path: Path) -> None:
    (tmp_path / "manifest.toml").write_text('[files]\nlayout = "l.j2"\nvocabulary = "v.toml"\n')
    (tmp_path / "l.j2").write_text("")
    (tmp_path / "v.toml").write_text("")
    with pytest.raises(NotFound, match="looked for gdpr.en, default.en"):
        LetterRenderer(tmp_path).render("nothing", "gdpr", context())


def test_a_manifest_naming_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "manifest.toml").write_text(
        '[files]\nlayout = "l.j2"\nvocabulary = "v.toml"\n[letters.denial.default]\nen = "denial/x.j2"\n'
    )
    with pytest.raises(ConfigurationError, match=r"names files that do not exist: denial/x.j2, l.j2, v.toml"):
        LetterRenderer(tmp_path).render("denial", "gdpr", context())


def test_a_link_to_a_page_carries_the_letter_s_language_before_its_fragment_and_nothing_else_moves() -> None:
    base = "https://privacy.example.test"
    assert in_language(f"{base}/verify/l/3f1c9a", "de") == f"{base}/verify/l/3f1c9a?lang=de"
    assert in_language(f"{base}/?appeal_of=DSR-2026-000001", "fr") == f"{base}/?appeal_of=DSR-2026-000001&lang=fr"
    assert in_language(f"{base}/package#a1b2", "es") == f"{base}/package?lang=es#a1b2"  # the secret stays in the fragment
    assert in_language(f"{base}/letter#DSR-2026-000001.denial.ab", "en") == f"{base}/letter?lang=en#DSR-2026-000001.denial.ab"
    for unknown in (None, "", "xx", "DE", "de&x=1"):
        assert in_language(f"{base}/package#a1b2", unknown) == f"{base}/package#a1b2"
