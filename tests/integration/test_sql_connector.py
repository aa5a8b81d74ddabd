"""The `sql` connector against the demo shop schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from dsar.connectors.base import SubjectKeys
from dsar.connectors.datamap import load_system_map
from dsar.connectors.sql import SqlConnector
from dsar.demo import shop
from dsar.domain.errors import PermanentConnectorError
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
