from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dsar.domain.errors import NotFound
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


def test_templates_are_chosen_most_specific_first() -> None:
    r = LetterRenderer(ROOT / "templates")
    assert r.render("access_response", "ccpa", context(regime="ccpa")).template == "access_response/ccpa.en.txt.j2"
    assert r.render("access_response", "gdpr", context()).template == "access_response/default.en.txt.j2"
    assert r.render("access_response", "gdpr", context(), language="fr").template == "access_response/default.en.txt.j2"


def test_template_syntax_in_a_name_is_printed_as_typed_never_evaluated() -> None:
    hostile = "{{ 7*7 }} {% for x in range(3) %}x{% endfor %} ' OR 1=1 -- ../../etc/passwd"
    letter = LetterRenderer(ROOT / "templates").render("access_response", "gdpr", context(name=hostile))
    assert hostile in letter.body
    assert "49" not in letter.body


def test_each_regime_letter_names_its_own_redress() -> None:
    r = LetterRenderer(ROOT / "templates")
    assert "Information Commissioner" in r.render("denial", "uk-gdpr", context(regime="uk-gdpr")).body
    assert "supervisory authority" in r.render("denial", "gdpr", context()).body
    assert "Privacy Commissioner of Canada" in r.render("denial", "pipeda", context(regime="pipeda")).body


def test_a_missing_template_is_a_clear_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="looked for"):
        LetterRenderer(tmp_path).render("nothing", "gdpr", context())
