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
