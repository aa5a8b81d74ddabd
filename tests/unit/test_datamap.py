"""The data map: validated, with errors that name the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsar.connectors.datamap import load_data_map, load_system_map
from dsar.domain.errors import InvalidInput
from tests.conftest import ROOT

VALID = """\
system: crm
title: CRM
type: sql
connection: CRM_URL
purposes: [Support]
legal_basis: Contract
retention: 2 years
source: You
entities:
  contact:
    table: contact
    key: id
    identity: {email: email}
    fields:
      email: {category: contact}
  ticket:
    table: ticket
    key: id
    parent: {entity: contact, column: contact_id, parent_column: id}
    fields:
      body: {category: correspondence}
"""


def write(tmp_path: Path, text: str, name: str = "crm.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def problems(path: Path) -> list[str]:
    with pytest.raises(InvalidInput) as info:
        load_system_map(path)
    return info.value.problems


def test_the_demo_map_and_a_valid_map_load(tmp_path: Path) -> None:
    shop = load_system_map(ROOT / "connectors" / "shop.yaml")
    assert shop.roots() == ["customer"]
    assert shop.children("orders") == ["order_line"]
    crm = load_system_map(write(tmp_path, VALID))
    assert crm.entities["ticket"].parent is not None


def test_an_unknown_key_is_reported_at_its_line(tmp_path: Path) -> None:
    text = VALID.replace("      body: {category: correspondence}", "      body: {category: correspondence, colour: blue}")
    found = problems(write(tmp_path, text))
    assert len(found) == 1
    line = text.splitlines().index("      body: {category: correspondence, colour: blue}") + 1
    assert found[0].startswith(f"{tmp_path / 'crm.yaml'}:{line}: entities.ticket.fields.body.colour:")
    assert "colour" in found[0]


def test_a_hostile_table_or_column_name_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("    table: contact\n", '    table: "contact; DROP TABLE contact"\n')
    found = problems(write(tmp_path, text))
    assert any(":11:" in p and "not a plain SQL identifier" in p for p in found), found
    text = VALID.replace("      email: {category: contact}", '      "email--": {category: contact}')
    assert any("not a plain SQL identifier" in p for p in problems(write(tmp_path, text)))


def test_a_secret_in_place_of_the_variable_name_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("connection: CRM_URL", "connection: postgresql://user:pw@db/crm")
    found = problems(write(tmp_path, text))
    assert any(":4:" in p and "connection" in p for p in found)
    assert not any("pw@db" in p for p in found)  # the secret is not echoed back


def test_graph_errors(tmp_path: Path) -> None:
    missing_parent = VALID.replace("parent: {entity: contact,", "parent: {entity: account,")
    assert any("parent 'account' is not an entity" in p for p in problems(write(tmp_path, missing_parent)))
    orphan = VALID.replace("    identity: {email: email}\n", "")
    assert any("neither identity fields nor a parent" in p for p in problems(write(tmp_path, orphan)))
    unknown_kind = VALID.replace("identity: {email: email}", "identity: {passport: email}")
    assert any("identity kind 'passport'" in p for p in problems(write(tmp_path, unknown_kind)))


def test_a_cycle_is_refused(tmp_path: Path) -> None:
    text = (
        VALID
        + """\
  a:
    table: a
    key: id
    parent: {entity: b, column: b_id, parent_column: id}
    fields: {}
  b:
    table: b
    key: id
    parent: {entity: a, column: a_id, parent_column: id}
    fields: {}
"""
    )
    assert any("cycle" in p for p in problems(write(tmp_path, text)))


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("  ticket:\n", "  ticket: [\n"))
    with pytest.raises(InvalidInput) as info:
        load_system_map(path)
    assert "not valid YAML" in str(info.value)
    assert f"{path}:" in str(info.value)


def test_a_system_defined_twice_is_refused(tmp_path: Path) -> None:
    write(tmp_path, VALID, "a.yaml")
    write(tmp_path, VALID, "b.yaml")
    with pytest.raises(InvalidInput, match="defined twice"):
        load_data_map(tmp_path)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="must be a mapping"):
        load_system_map(write(tmp_path, "- just\n- a list\n"))


@pytest.mark.parametrize(
    ("name", "needle", "replacement", "message"),
    [
        ("files.yaml", "    format: blob\n", "    format: blob\n    colour: red\n", "objects.uploads.colour"),
        ("files.yaml", "correctable: {first_name: name}", "correctable: {first_name: Name}", "objects.newsletter.correctable"),
        (
            "helpdesk.yaml",
            "  name: {category: identity, correctable: name}",
            "  name: {category: identity, correctable: 7}",
            "fields.name.correctable",
        ),
        ("helpdesk.yaml", 'correct: {method: PATCH, path: "/contacts/{id}"}', 'correct: {method: GET, path: "/contacts/{id}"}', "correct"),
        ("warehouse.yaml", "categories: [identity, postal_address, returns]", "categories: []", "categories"),
    ],
)
def test_every_connector_type_reports_errors_at_their_line(tmp_path: Path, name: str, needle: str, replacement: str, message: str) -> None:
    text = (ROOT / "connectors" / name).read_text()
    assert needle in text
    bad = text.replace(needle, replacement)
    changed = replacement.strip().splitlines()[-1].strip()
    line = next(i for i, x in enumerate(bad.splitlines(), 1) if x.strip() == changed)
    path = write(tmp_path, bad, name)
    with pytest.raises(InvalidInput) as err:
        load_system_map(path)
    problems = err.value.problems
    assert any(p.startswith(f"{path}:{line}: ") and message in p for p in problems), problems


def test_a_dynamodb_key_attribute_cannot_be_correctable(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
system: profiles
title: Profiles
type: dynamodb
connection: PROFILES_URL
purposes: [Accounts]
legal_basis: Contract
retention: 2 years
source: You
tables:
  profiles:
    table: profiles
    hash_key: customer_id
    lookup:
      account_id: {attribute: customer_id}
    erase: delete
    fields:
      customer_id: {category: identity, correctable: account_id}
""",
        "profiles.yaml",
    )
    with pytest.raises(InvalidInput) as err:
        load_system_map(path)
    assert "key attribute" in " ".join(err.value.problems)


# --- texts in several languages -------------------------------------------------------------

LANGUAGES_MAP = VALID.replace(
    "title: CRM\n",
    "title: {en: CRM, de: Kundenverwaltung, fr: Gestion clients, es: Gestión de clientes}\n",
).replace(
    "retention: 2 years\n",
    "retention:\n  en: 2 years\n  de: 2 Jahre\n",
)


def test_a_text_is_a_string_or_one_per_language_with_english_as_the_default(tmp_path: Path) -> None:
    crm = load_system_map(write(tmp_path, LANGUAGES_MAP))
    assert crm.title == "CRM" and str(crm.title) == "CRM"  # everything but a letter sees the English
    assert crm.title.in_language("fr") == "Gestion clients"
    assert crm.retention.in_language("de") == "2 Jahre" and crm.retention.in_language("es") == "2 years"  # no Spanish: English
    assert crm.purposes[0].in_language("de") == "Support" and dict(crm.purposes[0].variants) == {}
    dumped = crm.model_dump()
    assert dumped["title"].in_language("es") == "Gestión de clientes"  # letters get the model as a dict
    assert crm.model_dump(mode="json")["title"] == "CRM"


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        ("title: CRM\n", "title: {en: CRM, it: Clienti}\n", "title", "unknown language 'it': the languages are en, de, fr, es"),
        ("title: CRM\n", "title: {en: CRM, de: ''}\n", "title", "the 'de' text is empty"),
        ("title: CRM\n", "title: {de: Kunden}\n", "title", "needs its 'en' text (the default)"),
        ("retention: 2 years\n", "retention: '  '\n", "retention", "the text is empty"),
        ("purposes: [Support]\n", "purposes: [{en: Support, fr: [a, b]}]\n", "purposes.0", "the 'fr' text is not a string"),
        (
            "      body: {category: correspondence}\n",
            "      body: {category: correspondence, description: {en: Body, xx: B}}\n",
            "entities.ticket.fields.body.description",
            "unknown language 'xx'",
        ),  # fmt: skip
    ],
)
def test_a_text_with_an_unknown_language_or_empty_is_refused_at_its_line(
    tmp_path: Path, old: str, new: str, where: str, message: str
) -> None:
    text = VALID.replace(old, new)
    line = text.splitlines().index(new.splitlines()[0]) + 1
    found = problems(write(tmp_path, text))
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'crm.yaml'}:{line}: {where}:"), found
    assert message in found[0]


def _texts(value: object, where: str = "") -> list[tuple[str, object]]:
    """Every text of a system map that a letter may print, with where it is."""
    from pydantic import BaseModel

    from dsar.domain.texts import LocalText

    if isinstance(value, LocalText):
        return [(where, value)]
    if isinstance(value, BaseModel):
        return [t for name in type(value).model_fields for t in _texts(getattr(value, name), f"{where}.{name}")]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _texts(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _texts(v, f"{where}.{i}")]
    return []


def test_the_demo_map_gives_every_text_in_german_french_and_spanish() -> None:
    systems = load_data_map(ROOT / "connectors")
    texts = [(f"{m.system}{where}", t) for m in systems for where, t in _texts(m)]
    assert len(texts) > 30
    missing = [where for where, t in texts if set(t.variants) != {"de", "fr", "es"}]  # type: ignore[attr-defined]
    assert missing == []


def test_a_german_letter_from_the_demo_map_prints_its_german_texts_and_none_of_the_english() -> None:
    from datetime import date

    from dsar.letters.render import LetterRenderer

    systems = load_data_map(ROOT / "connectors")
    request = {"reference": "DSR-2026-000001", "type": "access", "regime": "gdpr", "received": date(2026, 11, 2), "subject_name": "J"}
    context = {
        "request": request, "organisation": "O", "contact": "c@example.test", "sent_on": date(2026, 11, 20),
        "systems": [m.model_dump() for m in systems], "categories": ["contact"], "record_count": 3,
        "found": True, "package": None, "manual": [{"title": m.title, "records": 1} for m in systems if m.type == "manual"],
    }  # fmt: skip
    for language in ("de", "fr", "es"):
        letter = LetterRenderer(ROOT / "templates").render("access_response", "gdpr", context, language)
        body = " ".join(letter.body.split())
        for where, t in [(f"{m.system}{w}", t) for m in systems for w, t in _texts(m)]:
            if ".entities." in where or ".fields." in where:
                continue  # retention reasons and field descriptions: the deletion letters and the package
            assert t.in_language(language) in body, (language, where)  # type: ignore[attr-defined]
            assert str(t) not in body, (language, where)


# --- recipients' addresses and languages ------------------------------------------------------

RECIPIENTS_MAP = VALID.replace("purposes: [Support]\n", "purposes: [Support]\nrecipients: [Parcel carrier, Tax adviser]\n")


def test_a_recipient_s_contact_is_an_address_or_an_address_and_a_language(tmp_path: Path) -> None:
    text = RECIPIENTS_MAP + (
        "recipient_contacts:\n  Parcel carrier: {address: dpo@carrier.test, language: fr}\n  Tax adviser: office@tax.test\n"
    )
    crm = load_system_map(write(tmp_path, text))
    carrier, adviser = crm.recipient_contacts["Parcel carrier"], crm.recipient_contacts["Tax adviser"]
    assert (carrier.address, carrier.language) == ("dpo@carrier.test", "fr")
    assert (adviser.address, adviser.language) == ("office@tax.test", "en")  # the address alone: English


@pytest.mark.parametrize(
    ("contact", "message"),
    [
        ("{address: dpo@carrier.test, language: it}", "unknown language 'it': the languages are en, de, fr, es"),
        ("{address: 'a@b.test, c@d.test', language: de}", "not one email address"),
        ("'a@b.test; c@d.test'", "not one email address"),
        ("{address: dpo@carrier.test, lang: de}", "lang"),
    ],
)
def test_a_recipient_s_contact_that_does_not_fit_is_refused_at_its_line(tmp_path: Path, contact: str, message: str) -> None:
    line = f"  Parcel carrier: {contact}"
    text = RECIPIENTS_MAP + f"recipient_contacts:\n{line}\n"
    found = problems(write(tmp_path, text))
    assert len(found) == 1 and message in found[0], found
    assert found[0].startswith(f"{tmp_path / 'crm.yaml'}:{text.splitlines().index(line) + 1}: recipient_contacts.Parcel carrier"), found
