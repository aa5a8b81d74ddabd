"""The `sql` connector against the demo shop schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from dsar.connectors.base import SubjectKeys
from dsar.connectors.datamap import SqlSystem, load_system_map
from dsar.connectors.sql import SqlConnector
from dsar.demo import shop
from dsar.domain.errors import PermanentConnectorError
from dsar.domain.request import Correction
from tests.conftest import ROOT

SHOP_MAP = load_system_map(ROOT / "connectors" / "shop.yaml")


def _load(url: str) -> None:
    addresses, customers, orders, lines = shop._rows()
    engine = create_engine(url)
    with engine.begin() as c:
        for statement in filter(None, (s.strip() for s in shop._DDL.split(";"))):
            c.execute(text(statement))
        c.execute(text("INSERT INTO address VALUES (:a, :b, :c, :d, :e)"), [dict(zip("abcde", r, strict=True)) for r in addresses])
        c.execute(text("INSERT INTO customer VALUES (:a, :b, :c, :d, :e)"), [dict(zip("abcde", r, strict=True)) for r in customers])
        c.execute(text("INSERT INTO orders VALUES (:a, :b, :c, CAST(:d AS NUMERIC))"), [dict(zip("abcd", r, strict=True)) for r in orders])
        c.execute(
            text("INSERT INTO order_line VALUES (:a, :b, :c, :d, :e, CAST(:f AS NUMERIC))"),
            [dict(zip("abcdef", r, strict=True)) for r in lines],
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def connector(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlConnector]:
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database")
    else:
        url = f"sqlite:///{tmp_path / 'shop.db'}"
    _load(url)
    c = SqlConnector(SHOP_MAP, url)
    try:
        yield c
    finally:
        c.close()


def keys(*emails: str) -> SubjectKeys:
    return SubjectKeys(emails=emails)


def test_locates_by_email_case_insensitively(connector: SqlConnector) -> None:
    found = connector.locate(keys("Jane.Doe@Example.com".lower()))
    assert [(m.entity, m.key, m.matched_on) for m in found.matches] == [("customer", "1", ("email",))]
    assert connector.locate(keys("nobody@example.com")).matches == ()


def test_exports_the_subject_and_follows_references(connector: SqlConnector) -> None:
    records = list(connector.export(connector.locate(keys("jane.doe@example.com"))))
    by_entity: dict[str, list[dict[str, object]]] = {}
    for r in records:
        by_entity.setdefault(r.entity, []).append(r.fields)
    assert by_entity["customer"] == [{"email": "jane.doe@example.com", "name": "Jane Doe", "phone": "+49 30 5550101"}]
    assert [a["city"] for a in by_entity["address"]] == ["Paris"]
    assert len(by_entity["orders"]) == 3  # the demo subject's three orders
    assert len(by_entity["order_line"]) >= 3
    # nothing of another customer comes along
    exported_text = repr(records)
    assert "Ana Silva" not in exported_text and "customer1@example.net" not in exported_text
    assert {r.categories["email"] for r in records if r.entity == "customer"} == {"contact"}


def test_subject_without_orders_exports_only_account_and_address(connector: SqlConnector) -> None:
    records = list(connector.export(connector.locate(keys("lee.chan@example.com"))))
    assert sorted({r.entity for r in records}) == ["address", "customer"]


@pytest.mark.parametrize(
    "hostile",
    [
        "' OR 1=1 --",
        "%",
        "%@example.com",
        "*",
        "_",
        "../../etc/passwd",
        "jane.doe@example.com\x00",
        "a" * 100_000,
        "jane.doe@example.com' --",
    ],
)
def test_hostile_identity_values_match_nothing_and_break_nothing(connector: SqlConnector, hostile: str) -> None:
    assert connector.locate(keys(hostile)).matches == ()
    # the table is intact and the real subject is still found afterwards
    assert len(connector.locate(keys("jane.doe@example.com")).matches) == 1


def test_check_reports_health_and_warns_about_unindexed_identity_columns(connector: SqlConnector, tmp_path: Path) -> None:
    health = connector.check()
    assert health.ok, health.detail
    assert health.warnings == ()  # customer.email has an expression index on lower(email)


def test_check_warns_when_the_identity_column_has_no_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    _load(url)
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("DROP INDEX customer_email_idx"))
    engine.dispose()
    c2 = SqlConnector(SHOP_MAP, url)
    try:
        health = c2.check()
        assert health.ok
        assert any("customer.email" in w and "no index" in w for w in health.warnings)
    finally:
        c2.close()


def test_check_fails_when_a_mapped_table_is_missing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    create_engine(url).connect().close()
    c = SqlConnector(SHOP_MAP, url)
    try:
        health = c.check()
        assert not health.ok
        assert "customer" in health.detail
    finally:
        c.close()


def test_a_bad_url_is_a_permanent_error_that_names_the_system() -> None:
    with pytest.raises(PermanentConnectorError) as info:
        SqlConnector(SHOP_MAP, "not a url")
    assert "shop" in str(info.value)


# --- erasure --------------------------------------------------------------------------------


def with_rules(**rules: object) -> SqlSystem:
    entities = {name: e.model_copy(update={"erase": rules.get(name, e.erase)}) for name, e in SHOP_MAP.entities.items()}
    return SHOP_MAP.model_copy(update={"entities": entities})


def count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return int(c.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def shop_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = request.getfixturevalue("pg_database") if request.param == "postgres" else f"sqlite:///{tmp_path / 'shop.db'}"
    _load(url)
    return url


def test_deleting_everything_respects_foreign_keys_and_touches_no_one_else(shop_url: str) -> None:
    c = SqlConnector(with_rules(customer="delete", address="delete", orders="delete", order_line="delete"), shop_url, b"k")
    try:
        located = c.locate(keys("jane.doe@example.com"))
        plan = c.plan_erasure(located)
        # rows that reference others go first: lines, orders, the customer, then its address
        assert [(a.entity, a.action) for a in plan] == [
            ("order_line", "delete"),
            ("orders", "delete"),
            ("customer", "delete"),
            ("address", "delete"),
        ]
        before = count(shop_url, "SELECT count(*) FROM customer")
        receipt = c.erase(located, plan)
        assert receipt.counts["customer"] == {"delete": 1} and receipt.counts["orders"] == {"delete": 3}
        assert count(shop_url, "SELECT count(*) FROM customer") == before - 1
        assert count(shop_url, "SELECT count(*) FROM orders WHERE customer_id = 1") == 0
        assert count(shop_url, "SELECT count(*) FROM customer WHERE email = 'ana.silva@example.com'") == 1
        # erasing twice is harmless
        again = c.erase(c.locate(keys("jane.doe@example.com")), plan)
        assert again.total == 0
    finally:
        c.close()


def test_anonymising_pseudonymises_consistently_and_keeps_what_the_map_keeps(shop_url: str) -> None:
    c = SqlConnector(SHOP_MAP, shop_url, b"secret")
    try:
        located = c.locate(keys("jane.doe@example.com"))
        receipt = c.erase(located, c.plan_erasure(located))
        assert receipt.counts["orders"] == {"retain": 3}
        engine = create_engine(shop_url)
        with engine.connect() as conn:
            email, name = conn.execute(text("SELECT email, name FROM customer WHERE id = 1")).one()
        engine.dispose()
        assert name == "Deleted customer" and email.startswith("pseu_") and "jane" not in email
        # the same value and key give the same pseudonym; another key another one
        assert c._pseudonym("customer", "email", "jane.doe@example.com") == email
        assert SqlConnector(SHOP_MAP, shop_url, b"other")._pseudonym("customer", "email", "jane.doe@example.com") != email
    finally:
        c.close()


def test_a_failure_halfway_through_an_erasure_changes_nothing(shop_url: str) -> None:
    # orders.placed_at is NOT NULL: anonymising orders (after the lines were deleted) fails
    broken = with_rules(order_line="delete", orders="anonymise", customer="delete", address="delete")
    c = SqlConnector(broken, shop_url, b"k")
    try:
        located = c.locate(keys("jane.doe@example.com"))
        lines_before = count(shop_url, "SELECT count(*) FROM order_line")
        with pytest.raises(PermanentConnectorError, match="shop"):
            c.erase(located, c.plan_erasure(located))
        assert count(shop_url, "SELECT count(*) FROM order_line") == lines_before  # rolled back
        assert count(shop_url, "SELECT count(*) FROM customer WHERE email = 'jane.doe@example.com'") == 1
    finally:
        c.close()


@pytest.mark.parametrize("hostile", ["' OR 1=1 --", "%", "*", "../", "x\x00y"])
def test_hostile_identity_values_erase_nothing(shop_url: str, hostile: str) -> None:
    c = SqlConnector(with_rules(customer="delete", address="delete", orders="delete", order_line="delete"), shop_url, b"k")
    try:
        before = count(shop_url, "SELECT count(*) FROM customer")
        located = c.locate(keys(hostile))
        assert c.plan_erasure(located) == []
        assert c.erase(located, []).total == 0
        assert count(shop_url, "SELECT count(*) FROM customer") == before
    finally:
        c.close()


def test_an_unmapped_entity_is_planned_as_such_and_never_erased(shop_url: str) -> None:
    c = SqlConnector(with_rules(address=None), shop_url, b"k")
    try:
        located = c.locate(keys("jane.doe@example.com"))
        plan = c.plan_erasure(located)
        assert ("address", "unmapped") in [(a.entity, a.action) for a in plan]
        with pytest.raises(PermanentConnectorError, match="without an erasure rule"):
            c.erase(located, plan)
    finally:
        c.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_digit_only_text_keys_stay_text(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    """A TEXT key like '00123' is neither turned into 123 (which matches nothing) nor compared
    as an integer (which PostgreSQL refuses)."""
    url = request.getfixturevalue("pg_database") if backend == "postgres" else f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE member (code TEXT PRIMARY KEY, email TEXT NOT NULL, nickname TEXT)"))
        c.execute(text("CREATE TABLE visit (id INTEGER PRIMARY KEY, member_code TEXT NOT NULL REFERENCES member(code))"))
        c.execute(text("INSERT INTO member VALUES ('00123', 'kai@example.com', 'K'), ('123', 'other@example.com', 'O')"))
        c.execute(text("INSERT INTO visit VALUES (1, '00123'), (2, '123')"))
    engine.dispose()
    system = SqlSystem.model_validate(
        {
            "system": "club",
            "title": "Club",
            "type": "sql",
            "connection": "CLUB_URL",
            "purposes": ["membership"],
            "legal_basis": "contract",
            "retention": "while a member",
            "source": "the member",
            "entities": {
                "member": {
                    "table": "member",
                    "key": "code",
                    "identity": {"email": "email"},
                    "erase": "delete",
                    "fields": {"email": {"category": "contact"}, "nickname": {"category": "identity", "correctable": "nickname"}},
                },
                "visit": {
                    "table": "visit",
                    "key": "id",
                    "parent": {"entity": "member", "column": "member_code", "parent_column": "code"},
                    "erase": "delete",
                    "fields": {"id": {"category": "activity"}},
                },
            },
        }
    )
    c = SqlConnector(system, url, b"k")
    try:
        found = c.locate(keys("kai@example.com"))
        records = list(c.export(found))
        assert [(r.entity, r.key) for r in records] == [("member", "00123"), ("visit", "1")]
        plan = c.plan_correction(found, [Correction("nickname", "Kai")])
        assert c.correct(found, plan, [Correction("nickname", "Kai")]).total == 1
        assert c.erase(found, c.plan_erasure(found)).total == 2
        assert c.locate(keys("other@example.com")).found
    finally:
        c.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_numeric_keys_compare_as_numbers(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    url = request.getfixturevalue("pg_database") if backend == "postgres" else f"sqlite:///{tmp_path / 'n.db'}"
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("CREATE TABLE ledger (no NUMERIC(12, 0) PRIMARY KEY, email TEXT NOT NULL, holder TEXT)"))
        c.execute(text("INSERT INTO ledger VALUES (700123, 'kai@example.com', 'K'), (700124, 'other@example.com', 'O')"))
    engine.dispose()
    system = SqlSystem.model_validate(
        {
            "system": "ledger",
            "title": "Ledger",
            "type": "sql",
            "connection": "LEDGER_URL",
            "purposes": ["accounts"],
            "legal_basis": "legal obligation",
            "retention": "10 years",
            "source": "the holder",
            "entities": {
                "ledger": {
                    "table": "ledger",
                    "key": "no",
                    "identity": {"email": "email"},
                    "erase": "delete",
                    "fields": {"holder": {"category": "identity", "correctable": "name"}},
                }
            },
        }
    )
    c = SqlConnector(system, url, b"k")
    try:
        found = c.locate(keys("kai@example.com"))
        assert [r.fields["holder"] for r in c.export(found)] == ["K"]
        assert c.correct(found, c.plan_correction(found, [Correction("name", "Kai")]), [Correction("name", "Kai")]).total == 1
        assert c.erase(found, c.plan_erasure(found)).total == 1
        assert c.locate(keys("other@example.com")).found
    finally:
        c.close()
