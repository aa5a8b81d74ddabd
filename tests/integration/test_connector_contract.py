"""One contract, every connector type: locate, export, erase, correct; erasing or correcting
twice is harmless; hostile identity values match nothing extra and break nothing; hostile new
values are stored literally; other subjects stay intact.

Each provider below builds a real system holding records of the subject, of someone else and
of people who only look alike, and returns the connector: SQLite and PostgreSQL (``sql-*``),
an S3 bucket in moto, unversioned and versioned, and a local folder (``s3-*``: a blob set per
account and shared JSON Lines objects), DynamoDB in moto (a table found through an email index
and a single-table design), and the demo helpdesk served over local HTTP (``http-local``). The
seed data comes from each connector's own tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dsar.connectors.base import Connector, SubjectKeys
from dsar.connectors.dynamodb import DynamoDbConnector
from dsar.connectors.http import HttpConnector
from dsar.connectors.s3 import S3Connector
from dsar.connectors.sql import SqlConnector
from dsar.demo.helpdesk import seed_helpdesk, start_helpdesk
from dsar.domain.request import Correction
from tests.integration import test_dynamodb_connector as ddb_tests
from tests.integration import test_http_connector as http_tests
from tests.integration import test_s3_connector as s3_tests
from tests.integration.test_dynamodb_connector import ddb  # noqa: F401 - fixture, used through request.getfixturevalue
from tests.integration.test_s3_connector import aws, s3, vs3  # noqa: F401 - fixtures, used through request.getfixturevalue
from tests.integration.test_sql_connector import _load, with_rules

SUBJECT = SubjectKeys(emails=("jane.doe@example.com",), account_id="acct-jane")
OTHER = SubjectKeys(emails=("ana.silva@example.com",), account_id="acct-ana")
HOSTILE = ["' OR 1=1 --", "%", "*", "_", "../", "../../etc/passwd", "a\x00b", "x" * 100_000, "jane.doe@example.com' --"]


@dataclass
class System:
    connector: Connector
    close: Callable[[], None]
    # an attribute the provider's data map marks correctable on the subject's records
    correctable: str = "name"


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


def _s3(url: str) -> Iterator[System]:
    # avatars/{account_id}/ (blob) and events/ (jsonl, matched on email and user_id, nick correctable as name)
    c = S3Connector(s3_tests.correctable(), url, s3_tests.KEY)
    yield System(c, lambda: None)


@provider("s3-moto")
def s3_moto(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    client = request.getfixturevalue("s3")
    client.put_object(Bucket=s3_tests.BUCKET, Key="events/profiles.jsonl", Body=s3_tests.PROFILES)
    yield from _s3(s3_tests.URL)


@provider("s3-moto-versioned")
def s3_moto_versioned(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    client = request.getfixturevalue("vs3")  # older versions and a delete marker under the current objects
    for body in (s3_tests.PROFILES.replace(b"Janie", b"Jane (old)"), s3_tests.PROFILES):
        client.put_object(Bucket=s3_tests.BUCKET, Key="events/profiles.jsonl", Body=body)
    yield from _s3(s3_tests.URL)


@provider("s3-folder")
def s3_folder(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    store = s3_tests.Store(folder=tmp_path / "bucket")
    for key, data in {**s3_tests.OBJECTS, "events/profiles.jsonl": s3_tests.PROFILES}.items():
        store.put(key, data)
    yield from _s3(store.url)


@provider("dynamodb-moto")
def dynamodb_moto(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    request.getfixturevalue("ddb")  # customers (by_email index, hash key = account id) and events (pk = USER#<account id>)
    c = DynamoDbConnector(ddb_tests.correctable(), ddb_tests.URL, ddb_tests.KEY)
    yield System(c, lambda: None)


HELPDESK_CONTACTS = [
    {"id": 1, "email": "jane.doe@example.com", "name": "Jane Doe", "phone": "+49 30 1", "account_id": "acct-jane"},
    {"id": 2, "email": "ana.silva@example.com", "name": "Ana Silva", "phone": "+351 2", "account_id": "acct-ana"},
    {"id": 3, "email": "Jane.Doe@Example.com", "name": "J. Doe", "phone": None, "account_id": "acct-jane"},
    {"id": 4, "email": "jane.doe@example.com.evil.test", "name": "Not Jane", "phone": "+1 4", "account_id": "acct-jane-2"},
    {"id": 5, "email": "lee@example.com", "name": "Lee Chan", "phone": "+65 5", "account_id": "acct-lee"},
]


@provider("http-local")
def http_local(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    contacts = [{**c, "address": {"city": "Paris", "street": f"{c['id']} Rue de la Paix"}} for c in HELPDESK_CONTACTS]
    seed_helpdesk(tmp_path, contacts)
    helpdesk = start_helpdesk(tmp_path, "s3cret", page_size=2)
    try:
        c = HttpConnector(http_tests.system_map(), helpdesk.url, b"k", helpdesk.auth_value)
        yield System(c, c.close)
    finally:
        helpdesk.stop()


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


NEW_VALUES = ["Jane Q. Doe-Smith", "' OR 1=1 --", "{{ 7*7 }}", "../../etc/passwd", "%_*", "Zoë Ñandú 李"]


@pytest.mark.parametrize("new", NEW_VALUES)
def test_correct_sets_the_value_twice_harmlessly_with_a_receipt_that_holds_no_values(system: System, new: str) -> None:
    c = system.connector
    wanted = [Correction(system.correctable, new)]
    found = c.locate(SUBJECT)
    before_other = [dict(r.fields) for r in c.export(c.locate(OTHER))]
    plan = c.plan_correction(found, wanted)
    assert plan and all(a.attribute == system.correctable and a.rows > 0 for a in plan)
    receipt = c.correct(found, plan, wanted)
    assert receipt.total > 0
    assert all(ch.old_hash.startswith("hmac-sha256:") and ch.old_hash != ch.new_hash for ch in receipt.changes)
    assert new not in repr(receipt) and "Jane Doe" not in repr(receipt)
    after = [dict(r.fields) for r in c.export(c.locate(SUBJECT))]
    assert any(new in (str(v) for v in fields.values()) for fields in after), "the new value is stored literally"
    again = c.correct(c.locate(SUBJECT), plan, wanted)
    assert again.total == 0 and again.unchanged > 0
    assert [dict(r.fields) for r in c.export(c.locate(OTHER))] == before_other


def test_a_correction_the_system_does_not_hold_plans_nothing(system: System) -> None:
    c = system.connector
    assert c.plan_correction(c.locate(SUBJECT), [Correction("loyalty_tier", "gold")]) == []
    assert c.plan_correction(c.locate(SubjectKeys(emails=("nobody@example.com",))), [Correction(system.correctable, "x")]) == []
