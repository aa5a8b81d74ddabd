"""What an access package never holds (dsar.services.redaction): fields the data map marks
``withhold``, fields whose names can only hold a secret, and SSNs, ITINs and card numbers
inside free text."""

from __future__ import annotations

import pytest

from dsar.connectors.schema import EntityMap, FieldMap, SqlSystem
from dsar.services.redaction import CARD_MARK, SSN_MARK, Redactor, luhn_valid, withhold_marks

VISA = "4111 1111 1111 1111"  # Luhn-valid test number


def shop() -> SqlSystem:
    fields = {
        "email": FieldMap(category="contact"),
        "tax_number": FieldMap(category="identity", withhold="government_id"),
        "referrer_name": FieldMap(category="referral", withhold="third_party"),
        "note": FieldMap(category="support"),
    }
    return SqlSystem(
        system="shop",
        title="Shop",
        type="sql",
        connection="SHOP_URL",
        purposes=["Orders"],
        legal_basis="Contract",
        retention="1 year",
        source="You",
        entities={"customer": EntityMap(table="customer", key="id", identity={"email": "email"}, fields=fields)},
    )


def test_the_data_maps_marks_are_found_per_entity() -> None:
    assert withhold_marks(shop()) == {"customer": {"tax_number": "government_id", "referrer_name": "third_party"}}


def test_marked_and_secret_named_fields_are_left_out_and_counted() -> None:
    r = Redactor.for_system(shop())
    out = r.fields(
        "customer",
        {"email": "a@b.c", "tax_number": "DE123", "referrer_name": "Bob", "password_hash": "x", "security_answer": "Rex", "note": "hi"},
    )
    assert out == {"email": "a@b.c", "note": "hi"}
    assert r.withheld == {"government_id": 1, "third_party": 1, "credential": 1, "security_answer": 1}
    assert r.withheld_fields["customer"]["password_hash"] == "credential"


@pytest.mark.parametrize(
    ("text", "mark"),
    [
        ("my SSN is 123-45-6789, thanks", SSN_MARK),
        ("ITIN 912-70-1234", SSN_MARK),
        ("ssn: 123456789", SSN_MARK),
        ("Social Security number 078051120", SSN_MARK),
        (f"card {VISA} expires", CARD_MARK),
        ("card 4111-1111-1111-1111", CARD_MARK),
        ("amex 378282246310005.", CARD_MARK),
    ],
)
def test_numbers_in_free_text_are_replaced(text: str, mark: str) -> None:
    r = Redactor()
    out = r.text(text)
    assert mark in out
    assert not any(d in out for d in ("6789", "1234", "1111", "0005", "1120"))


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112 (not Luhn-valid)",
        "call +44 20 7946 0958",
        "invoice 2026-000123",
        "000-12-3456 is not an SSN",
        "just text",
    ],
)
def test_other_numbers_stay(text: str) -> None:
    assert Redactor().text(text) == text


def test_nested_values_are_scanned_and_secret_keys_dropped_at_any_depth() -> None:
    r = Redactor()
    out = r.scrub({"tickets": [{"body": f"pay with {VISA}", "password": "hunter2"}], "n": 5})
    assert out == {"tickets": [{"body": f"pay with {CARD_MARK}"}], "n": 5}


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005") and not luhn_valid("4111111111111112")


# --- the fast paths give the same answers as the plain scan -----------------------------------

import re  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dsar.services import redaction  # noqa: E402


def plain_text(r: Redactor, value: str) -> str:
    """The scan without its pre-check: the three patterns over the whole value."""
    value = redaction._SSN_WORD.sub(r._ssn_word, value)
    value = redaction._SSN.sub(r._ssn, value)
    return redaction._CARD.sub(r._card, value)


# Texts dense in what the patterns look at: digits (also non-ASCII ones), separators, the words
# before an SSN, and every line break str.splitlines() knows.
_PIECES = st.sampled_from(
    [
        *"0123456789",
        "4111",
        "1111 ",
        "123-45-",
        "6789",
        " ",
        "-",
        "--",
        "SSN ",
        "itin: ",
        "tax id #",
        "a",
        "x",
        ".",
        ",",
        "\n",
        "\r\n",
        "\r",
        "\v",
        "\f",
        "\x1c",
        "\x85",
        "\u2028",
        "\u2029",
        "\u0663",
        "\uff11",
        "\t",
    ]
)
_TEXTS = st.lists(_PIECES, max_size=60).map("".join)


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_the_pre_check_never_skips_a_number(value: str) -> None:
    fast, plain = Redactor(), Redactor()
    assert fast.text(value) == plain_text(plain, value)
    assert fast.scrubbed == plain.scrubbed


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_a_document_is_scrubbed_line_by_line_as_before(value: str) -> None:
    fast, plain = Redactor(), Redactor()
    assert fast.lines(value) == "".join(plain_text(plain, line) for line in value.splitlines(keepends=True))
    assert fast.scrubbed == plain.scrubbed


def test_the_pre_check_covers_every_pattern() -> None:
    # every shape the three patterns take holds the candidate (nine digits, single separators)
    for shape in ("123-45-6789", "123 45 6789", "SSN 123456789", VISA, "4111-1111-1111-1", "4 1 1 1 1 1 1 1 1 1 1 1 1"):
        assert re.search(redaction._CANDIDATE, shape) and re.search(redaction._SHAPE, shape), shape
    long_quiet = "order 12345678 of 2025-01-01, at 12:00. " * 2000  # no candidate, and longer than the old 4,096-character cut
    assert Redactor().text(long_quiet) is long_quiet
    assert Redactor().text(long_quiet + VISA).endswith(CARD_MARK)
