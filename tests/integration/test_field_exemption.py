"""Legal keeps one field of an entity out of a deletion (issue 11): the rows stay, that field
keeps its value, and every other field the data map lists is erased by its rule, on a real
SQLite and a real PostgreSQL database; the sign-off form, the receipt and the letter say so."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from dsar.app import App
from dsar.connectors.base import SubjectKeys
from dsar.connectors.datamap import SqlSystem
from dsar.connectors.sql import SqlConnector
from dsar.demo.run import latest_code
from dsar.domain.decisions import sign_off
from dsar.domain.errors import PermanentConnectorError
from dsar.domain.exemptions import GROUND_TEXT, Exemption, LegalGround, apply_exemptions
from dsar.domain.plan import EraseStep, ErasureAction, ErasureKind
from dsar.domain.request import Status
from dsar.services import processing as svc
from dsar.services.intake import log_request
from tests.integration.test_processing import flat, outbox, read_mail
from tests.integration.test_sql_connector import SHOP_MAP, _load
from tests.signoff import approve_letter, sign

HOLD = LegalGround.LEGAL_HOLD
JANE = SubjectKeys(emails=("jane.doe@example.com",))
COLUMNS = {"customer": "id, email, name, phone, address_id", "address": "id, street, city, postcode, country"}


@pytest.fixture(params=["sqlite", "postgres"])
def shop_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = str(request.getfixturevalue("pg_database")) if request.param == "postgres" else f"sqlite:///{tmp_path / 'shop.db'}"
    _load(url)
    return url


def rows(url: str, entity: str, key: int) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return dict(c.execute(text(f"SELECT {COLUMNS[entity]} FROM {entity} WHERE id = :k"), {"k": key}).mappings().one())
    finally:
        engine.dispose()


def approved(connector: SqlConnector, system: SqlSystem, *exempt: Exemption) -> list[ErasureAction]:
    """The plan the connector makes, revised as legal's sign-off revises it."""
    step = EraseStep(system.system, 1, tuple(connector.plan_erasure(connector.locate(JANE))))
    erasable = {(system.system, a.entity): system.anonymisable(a.entity) for a in step.actions}
    (revised,) = apply_exemptions([step], list(exempt), erasable)
    assert isinstance(revised, EraseStep)
    return list(revised.actions)


@pytest.fixture
def connector(shop_url: str) -> Iterator[SqlConnector]:
    c = SqlConnector(SHOP_MAP, shop_url, b"k" * 32)
    try:
        yield c
    finally:
        c.close()


def test_an_anonymised_entity_keeps_the_exempt_field_and_loses_every_other(connector: SqlConnector, shop_url: str) -> None:
    before = {e: rows(shop_url, e, 1) for e in COLUMNS}
    other = rows(shop_url, "customer", 2)
    actions = approved(connector, SHOP_MAP, Exemption("shop/customer.phone", HOLD), Exemption("shop/address.postcode", HOLD))
    by = {a.entity: a for a in actions}
    assert (by["customer"].fields, by["customer"].keep) == (("email", "name"), ("phone",))
    assert (by["address"].fields, by["address"].keep) == (("street", "city", "country"), ("postcode",))
    receipt = connector.erase(connector.locate(JANE), actions)
    assert receipt.counts["customer"] == {"anonymise": 1} and receipt.counts["address"] == {"anonymise": 1}
    customer, address = rows(shop_url, "customer", 1), rows(shop_url, "address", 1)
    # the exempt fields hold their values; the key and the link to the address are intact
    assert customer["phone"] == before["customer"]["phone"] == "+49 30 5550101"
    assert address["postcode"] == before["address"]["postcode"]
    assert (customer["id"], customer["address_id"]) == (before["customer"]["id"], before["customer"]["address_id"])
    # every other field is erased by its rule: a keyed pseudonym, a fixed text, emptied
    assert customer["email"].startswith("pseu_") and customer["name"] == "Deleted customer"
    assert address["street"] is None and address["city"] is None and address["country"] is None
    assert rows(shop_url, "customer", 2) == other  # nobody else was touched


def test_an_entity_the_map_deletes_stays_with_the_exempt_field_and_the_rest_anonymised(shop_url: str) -> None:
    entities = {**SHOP_MAP.entities, "customer": SHOP_MAP.entities["customer"].model_copy(update={"erase": "delete"})}
    deleting = SHOP_MAP.model_copy(update={"entities": entities})
    c = SqlConnector(deleting, shop_url, b"k" * 32)
    try:
        # legal keeps the email: the one identifier the subject is found by
        actions = approved(c, deleting, Exemption("shop/customer.email", LegalGround.GDPR_17_3_E))
        customer_action = next(a for a in actions if a.entity == "customer")
        assert customer_action.action is ErasureKind.ANONYMISE and customer_action.fields == ("name", "phone")
        c.erase(c.locate(JANE), actions)
        customer = rows(shop_url, "customer", 1)
        assert customer["email"] == "jane.doe@example.com" and customer["name"] == "Deleted customer" and customer["phone"] is None
        # the row was not deleted, so the orders kept for their retention still point at it
        engine = create_engine(shop_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM orders WHERE customer_id = 1")).scalar_one() == 3
        engine.dispose()
        # running it again changes nothing more
        c.erase(c.locate(JANE), actions)
        assert rows(shop_url, "customer", 1) == customer
    finally:
        c.close()


def test_an_approved_anonymisation_the_map_does_not_allow_changes_nothing(connector: SqlConnector, shop_url: str) -> None:
    before = rows(shop_url, "customer", 1)
    for fields in (("name", "address_id"), ("name", "nickname")):  # a link column; a field the map does not hold
        bad = ErasureAction("customer", ErasureKind.ANONYMISE, 1, "kept", fields=fields, keep=("phone",))
        with pytest.raises(PermanentConnectorError, match="customer: the approved anonymisation does not match the data map"):
            connector.erase(connector.locate(JANE), [bad])
    assert rows(shop_url, "customer", 1) == before


def test_a_deletion_with_a_field_exemption_runs_through_sign_off_execution_receipt_and_letter(engine_app: App) -> None:
    ctx = engine_app.ctx
    r = log_request(
        ctx, {"type": "deletion", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}}
    ).request
    svc.start_verification(ctx, r.id)
    code = latest_code(outbox(engine_app), r.reference)
    assert code is not None
    svc.confirm_code(ctx, r.id, code)
    assert svc.plan_request(ctx, r.id) is Status.AWAITING_SIGN_OFF
    assert "shop/customer.phone" in svc.exemptable(ctx, r.id)
    assert sign(ctx, r.id, sign_off("approve", exempt=[("shop/customer.phone", "legal-hold")])).recorded
    # what legal sees once it is approved (the form, the console): the stored plan says it
    summary = svc.plan_summary(ctx, r.id)
    assert "customer: anonymise 1, fields email, name" in summary
    assert f"customer: keep field phone because {GROUND_TEXT[HOLD]}" in summary and "jane" not in summary.lower()
    assert svc.execute_plan(ctx, r.id) is Status.RESPONDING
    with sqlite3.connect(engine_app.settings.demo_shop_path) as db:
        email, name, phone = db.execute("SELECT email, name, phone FROM customer WHERE id = 1").fetchone()
    assert email.startswith("pseu_") and name == "Deleted customer" and phone == "+49 30 5550101"
    with ctx.uow() as uow:
        erased = next(e for e in uow.audit.events(r.id) if e.kind == "SystemErased")
    assert erased.details["counts"]["customer"] == {"anonymise": 1}
    assert erased.details["fields"] == {"customer": {"anonymised": ["email", "name"], "kept": ["phone"]}}
    assert "5550101" not in str(erased.details)
    svc.send_response(ctx, r.id)
    approve_letter(ctx, r.id)
    assert svc.send_response(ctx, r.id) is Status.CLOSED
    body = flat(read_mail(outbox(engine_app) / f"{r.reference}.deletion_response_dsar.eml").get_body(("plain",)).get_content())
    assert (
        "your customer account (1 record): anonymised (erased: email address, name); kept: phone number, "
        f"because the law requires it: {GROUND_TEXT[HOLD]}."
    ) in body
    assert f"customer, the field phone: kept out because {GROUND_TEXT[HOLD]}" in body
    refusal = flat(read_mail(outbox(engine_app) / f"{r.reference}.partial_refusal_dsar.eml").get_body(("plain",)).get_content())
    assert f"your customer account (1 record): the field phone must be kept: {GROUND_TEXT[HOLD]}" in refusal
