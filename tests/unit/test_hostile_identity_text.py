"""Hostile strings in identity fields are refused at intake (security probe, items 1-3)."""

from __future__ import annotations

import pytest

from dsar.domain.errors import InvalidInput
from dsar.domain.request import clean_text, normalise_email

ENCODED_RECIPIENTS = "=?utf-8?q?hostile3=40evil.example=2C=20third.party?=@evil.example"
ENCODED_HEADER = "=?utf-8?q?=0D=0ABcc=3A_x=40evil.example?=@evil.example"


@pytest.mark.parametrize("address", [ENCODED_RECIPIENTS, ENCODED_HEADER, "a@b.example\r\nBcc: x@evil.example", "ja\u202ene@example.com"])
def test_an_address_carrying_encoded_words_line_breaks_or_bidi_characters_is_refused_without_echoing_it(address: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalise_email(address)
    assert err.value.problems == ("subject.emails: not a valid email address",)
    assert "evil" not in str(err.value)


def test_an_ordinary_address_is_lower_cased_and_kept() -> None:
    assert normalise_email(" Jane.Doe@Example.COM ") == "jane.doe@example.com"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Jane Doe\nURGENT: reset your password at http://evil.example/reset", "line breaks or tabs"),
        ("Jane\rDoe", "line breaks or tabs"),
        ("Jane\tDoe", "line breaks or tabs"),
        ("Jane \u202eeoD", "invisible or direction-changing characters"),
        ("Ja\u200bne", "invisible or direction-changing characters"),
        ("Jane\ufeff", "invisible or direction-changing characters"),
    ],
)
def test_a_name_that_would_print_across_lines_or_disguise_itself_is_refused(name: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as err:
        clean_text(name, "subject.name", required=True)
    assert err.value.problems == (f"subject.name: {problem}",)


def test_a_postal_address_may_span_lines_when_the_field_allows_it() -> None:
    assert clean_text("1 Main St\nSpringfield", "subject.postal_address", multiline=True) == "1 Main St\nSpringfield"


def test_names_in_other_scripts_and_with_accents_are_kept() -> None:
    for name in ("Zoë Ångström", "山田 太郎", "محمد علي", "O'Brien-Smith"):
        assert clean_text(name, "subject.name") == name
