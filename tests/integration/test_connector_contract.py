"""One contract, every connector type: locate, export, erase; erasing twice is harmless;
hostile identity values match nothing extra and break nothing; other subjects stay intact.

Each provider below builds a real system (SQLite, PostgreSQL, moto S3 and DynamoDB, a local
HTTP server) holding records of the subject and of someone else, and returns the connector."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dsar.connectors.base import Connector, SubjectKeys
from dsar.connectors.sql import SqlConnector
from tests.integration.test_sql_connector import _load, with_rules

SUBJECT = SubjectKeys(emails=("jane.doe@example.com",), account_id="acct-jane")
OTHER = SubjectKeys(emails=("ana.silva@example.com",), account_id="acct-ana")
HOSTILE = ["' OR 1=1 --", "%", "*", "_", "../", "../../etc/passwd", "a\x00b", "x" * 100_000, "jane.doe@example.com' --"]


@dataclass
class System:
    connector: Connector
    close: Callable[[], None]


Provider = Callable[[pytest.FixtureRequest, Path], Iterator[System]]
PROVIDERS: dict[str, Provider] = {}


def provider(name: str) -> Callable[[Provider], Provider]:
    def register(fn: Provider) -> Provider:
        PROVIDERS[name] = fn
        return fn

    return register


def _sql(url: str) -> Iterator[System]:
    _load(url)
    c = SqlConnector(with_rules(customer="delete", address="delete", orders="delete", order_line="delete"), url, b"k")
    yield System(c, c.close)


@provider("sql-sqlite")
def sql_sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    yield from _sql(f"sqlite:///{tmp_path / 'shop.db'}")


@provider("sql-postgres")
def sql_postgres(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    yield from _sql(request.getfixturevalue("pg_database"))


@pytest.fixture(params=sorted(PROVIDERS))
def system(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    gen = PROVIDERS[request.param](request, tmp_path)
    s = next(gen)
    try:
        yield s
    finally:
        s.close()
        for _ in gen:
            pass


def test_locate_and_export_find_the_subject_and_only_the_subject(system: System) -> None:
    c = system.connector
    found = c.locate(SUBJECT)
    assert found.found
    records = list(c.export(found))
    assert records
    assert all(r.categories for r in records)
    text = repr([dict(r.fields) for r in records])
    assert "ana.silva" not in text


def test_erase_removes_the_subject_twice_harmlessly_and_spares_others(system: System) -> None:
    c = system.connector
    found = c.locate(SUBJECT)
    plan = c.plan_erasure(found)
    assert plan and all(a.action == "delete" for a in plan)
    assert c.erase(found, plan).total > 0
    assert not c.locate(SUBJECT).found
    assert c.erase(c.locate(SUBJECT), plan).total == 0
    assert c.locate(OTHER).found


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_identity_values_match_nothing_and_break_nothing(system: System, value: str) -> None:
    c = system.connector
    hostile = c.locate(SubjectKeys(emails=(value,), account_id=value, phone=value))
    assert not hostile.found
    assert c.erase(hostile, c.plan_erasure(hostile)).total == 0
    assert c.locate(SUBJECT).found and c.locate(OTHER).found


def test_health_check_passes_on_a_reachable_system(system: System) -> None:
    health = system.connector.check()
    assert health.ok, health.detail
