"""The `dynamodb` connector against moto: a plain `customers` table found through a global
secondary index on `email`, and a single-table design `events` (``pk = "USER#<account_id>"``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from moto import mock_aws
from pydantic import ValidationError

from dsar.connectors.base import Capability, CorrectionAction, ErasureAction, SubjectKeys, receipt_key, value_hash
from dsar.connectors.dynamodb import DynamoDbConnector, DynamoSystem
from dsar.domain.errors import PermanentConnectorError, RetryableConnectorError
from dsar.domain.request import Correction

REGION = "eu-central-1"
URL = f"dynamodb://{REGION}"
JANE = SubjectKeys(emails=("jane.doe@example.com",), account_id="acct-jane")
ANA = SubjectKeys(emails=("ana.silva@example.com",), account_id="acct-ana")
KEY = b"k" * 32
HOSTILE = ["' OR 1=1 --", "%", "*", "../", "a\x00b", "x" * 100_000, "", "USER#", "jane.doe@example.com' --"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def ddb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName="customers",
        KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "customer_id", "AttributeType": "S"}, {"AttributeName": "email", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_email",
                "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.create_table(
        TableName="events",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    customers = boto3.resource("dynamodb", region_name=REGION).Table("customers")
    customers.put_item(
        Item={
            "customer_id": "acct-jane",
            "email": "jane.doe@example.com",  # stored lower-cased
            "name": "Jane Doe",
            "loyalty_points": Decimal("120.5"),
            "tags": {"vip", "early"},
            "avatar": b"\x01\xff",
            "internal_score": 97,  # not in the data map: never exported
        }
    )
    customers.put_item(Item={"customer_id": "acct-ana", "email": "ana.silva@example.com", "name": "Ana Silva"})
    events = boto3.resource("dynamodb", region_name=REGION).Table("events")
    for pk, sk, kind in [
        ("USER#acct-jane", "PROFILE", "profile"),
        ("USER#acct-jane", "ORDER#0001", "order"),
        ("USER#acct-jane", "ORDER#0002", "order"),
        ("USER#acct-jane-2", "PROFILE", "profile"),  # a prefix of Jane's key is not Jane
        ("USER#acct-ana", "PROFILE", "profile"),
    ]:
        events.put_item(Item={"pk": pk, "sk": sk, "kind": kind, "total": Decimal("9.99"), "secret": "unmapped"})
    return client


def config(customers_erase: Any = "delete", events_erase: Any = "delete", **overrides: Any) -> DynamoSystem:
    data: dict[str, Any] = {
        "system": "app-ddb",
        "title": "App DynamoDB",
        "type": "dynamodb",
        "connection": "DSAR_TEST_DDB",
        "purposes": ["running the app"],
        "legal_basis": "contract (Art. 6(1)(b))",
        "retention": "while the account exists",
        "source": "the data subject",
        "tables": {
            "customer": {
                "table": "customers",
                "hash_key": "customer_id",
                "lookup": {"email": {"attribute": "email", "index": "by_email"}, "account_id": {"attribute": "customer_id"}},
                "fields": {
                    "email": {"category": "contact"},
                    "name": {"category": "identity"},
                    "loyalty_points": {"category": "commercial"},
                    "tags": {"category": "commercial"},
                    "avatar": {"category": "identity"},
                    "nickname": {"category": "identity"},  # mapped, absent from the item
                },
                "erase": customers_erase,
            },
            "event": {
                "table": "events",
                "hash_key": "pk",
                "range_key": "sk",
                "lookup": {"account_id": {"attribute": "pk", "value_prefix": "USER#"}},
                "fields": {"kind": {"category": "usage"}, "total": {"category": "commercial"}},
                "erase": events_erase,
            },
        },
    }
    for name, patch in overrides.items():
        data["tables"][name].update(patch)
    return DynamoSystem.model_validate(data)


def count(client: Any, table: str) -> int:
    return int(client.scan(TableName=table, Select="COUNT")["Count"])


def test_locates_by_email_through_the_index_and_by_account_id_through_the_hash_key(ddb: Any) -> None:
    c = DynamoDbConnector(config(), URL)
    found = c.locate(SubjectKeys(emails=("Jane.Doe@Example.COM",)))
    assert [(m.entity, m.key, m.matched_on) for m in found.matches] == [("customer", '{"customer_id":"acct-jane"}', ("email",))]
    both = c.locate(JANE)
    assert [(m.entity, m.key, m.matched_on) for m in both.matches] == [
        ("customer", '{"customer_id":"acct-jane"}', ("account_id", "email")),  # deduplicated
        ("event", '{"pk":"USER#acct-jane","sk":"ORDER#0001"}', ("account_id",)),
        ("event", '{"pk":"USER#acct-jane","sk":"ORDER#0002"}', ("account_id",)),
        ("event", '{"pk":"USER#acct-jane","sk":"PROFILE"}', ("account_id",)),
    ]
    assert c.locate(SubjectKeys(emails=("nobody@example.com",), account_id="acct-nobody")).matches == ()
    assert c.locate(SubjectKeys(phone="+49 30 5550101")).matches == ()  # no phone lookup mapped


def test_exports_only_mapped_fields_as_plain_json(ddb: Any) -> None:
    c = DynamoDbConnector(config(), URL)
    records = list(c.export(c.locate(JANE)))
    customer = [r for r in records if r.entity == "customer"]
    assert len(customer) == 1
    assert customer[0].fields == {
        "email": "jane.doe@example.com",
        "name": "Jane Doe",
        "loyalty_points": "120.5",
        "tags": ["early", "vip"],
        "avatar": "01ff",
        "nickname": None,
    }
    assert customer[0].categories["email"] == "contact"
    events = [r for r in records if r.entity == "event"]
    assert sorted(r.fields["kind"] for r in events) == ["order", "order", "profile"]
    assert all(set(r.fields) == {"kind", "total"} and r.fields["total"] == "9.99" for r in events)
    text = repr(records)
    assert "internal_score" not in text and "unmapped" not in text
    assert "Ana" not in text and "acct-jane-2" not in text


def test_paginates_through_large_partitions(ddb: Any) -> None:
    events = boto3.resource("dynamodb", region_name=REGION).Table("events")
    with events.batch_writer() as batch:
        for i in range(25):
            batch.put_item(Item={"pk": "USER#acct-many", "sk": f"EVT#{i:04d}", "kind": "click"})

    class SmallPages:
        """A real moto client whose queries return at most three items per page."""

        def __init__(self, inner: Any) -> None:
            self.inner, self.queries = inner, 0

        def query(self, **kw: Any) -> Any:
            self.queries += 1
            return self.inner.query(Limit=3, **kw)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    client = SmallPages(ddb)
    c = DynamoDbConnector(config(), URL, client=client)
    found = c.locate(SubjectKeys(account_id="acct-many"))
    assert len(found.matches) == 25 and client.queries >= 9


def test_erasure_deletes_exactly_the_subjects_items_and_is_idempotent(ddb: Any) -> None:
    c = DynamoDbConnector(config(), URL)
    located = c.locate(JANE)
    plan = c.plan_erasure(located)
    assert [(a.entity, a.action, a.rows) for a in plan] == [("customer", "delete", 1), ("event", "delete", 3)]
    receipt = c.erase(located, plan)
    assert receipt.counts == {"customer": {"delete": 1}, "event": {"delete": 3}}
    assert count(ddb, "customers") == 1 and count(ddb, "events") == 2
    assert (
        ddb.query(TableName="events", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "USER#acct-jane"}})["Count"]
        == 0
    )
    # the others are untouched
    assert [m.entity for m in c.locate(ANA).matches] == ["customer", "event"]
    assert len(c.locate(SubjectKeys(account_id="acct-jane-2")).matches) == 1
    # erasing twice is harmless: with the old located keys and with a fresh locate
    assert c.erase(located, plan).total == 0
    fresh = c.locate(JANE)
    assert fresh.matches == () and c.plan_erasure(fresh) == [] and c.erase(fresh, plan).total == 0


def test_retained_tables_are_kept_and_unmapped_ones_are_never_erased(ddb: Any) -> None:
    c = DynamoDbConnector(config(customers_erase=None, events_erase={"retain": "orders: 10 years, HGB s.257"}), URL)
    located = c.locate(JANE)
    plan = c.plan_erasure(located)
    assert [(a.entity, a.action) for a in plan] == [("customer", "unmapped"), ("event", "retain")]
    assert plan[1].reason.startswith("orders")
    with pytest.raises(PermanentConnectorError, match="without an erasure rule"):
        c.erase(located, plan)
    receipt = c.erase(located, [a for a in plan if a.action == "retain"])
    assert receipt.counts == {"event": {"retain": 3}}
    assert count(ddb, "customers") == 2 and count(ddb, "events") == 5
    with pytest.raises(PermanentConnectorError, match="anonymise"):
        c.erase(located, [ErasureAction("event", "anonymise", 3)])


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_identity_values_match_nothing_and_break_nothing(ddb: Any, hostile: str) -> None:
    c = DynamoDbConnector(config(), URL)
    located = c.locate(SubjectKeys(emails=(hostile,), account_id=hostile, phone=hostile))
    assert located.matches == ()
    assert c.plan_erasure(located) == [] and c.erase(located, []).total == 0
    assert list(c.export(located)) == []
    assert count(ddb, "customers") == 2 and count(ddb, "events") == 5
    assert len(c.locate(JANE).matches) == 4  # the real subject is still found


@pytest.mark.parametrize(
    "url",
    ["postgresql://user:hunter2@db/x", "dynamodb://", "dynamodb://hunter2:x@eu-central-1", "dynamodb://eu-central-1?key=hunter2", ""],
)
def test_a_bad_url_is_a_permanent_error_that_names_the_system_and_hides_the_url(aws: None, url: str) -> None:
    with pytest.raises(PermanentConnectorError) as info:
        DynamoDbConnector(config(), url)
    assert "app-ddb" in str(info.value) and "hunter2" not in str(info.value)


def test_check_is_ok_for_the_mapped_tables(ddb: Any) -> None:
    health = DynamoDbConnector(config(), URL).check()
    assert health.ok, health.detail
    assert health.warnings == ()


def test_check_fails_when_a_table_is_missing(ddb: Any) -> None:
    c = DynamoDbConnector(config(event={"table": "no_such_table"}), URL)
    health = c.check()
    assert not health.ok and "no_such_table" in health.detail
    with pytest.raises(PermanentConnectorError, match="no_such_table"):
        c.locate(JANE)


def test_check_fails_when_the_key_schema_differs(ddb: Any) -> None:
    health = DynamoDbConnector(config(event={"range_key": None}), URL).check()
    assert not health.ok and "key schema" in health.detail


def test_check_warns_about_a_missing_index_and_locating_through_it_fails_permanently(ddb: Any) -> None:
    c = DynamoDbConnector(
        config(customer={"lookup": {"email": {"attribute": "email", "index": "by_mail"}, "account_id": {"attribute": "customer_id"}}}), URL
    )
    health = c.check()
    assert health.ok
    assert any("by_mail" in w and "does not exist" in w for w in health.warnings)
    with pytest.raises(PermanentConnectorError) as info:
        c.locate(JANE)
    assert "customers" in str(info.value) and "jane" not in str(info.value)


def test_check_warns_when_the_lookup_attribute_is_not_the_index_key(ddb: Any) -> None:
    c = DynamoDbConnector(config(customer={"lookup": {"phone": {"attribute": "phone", "index": "by_email"}}}), URL)
    health = c.check()
    assert health.ok and any("phone" in w and "by_email" in w for w in health.warnings)


class FailingClient:
    def __init__(self, code: str) -> None:
        self.code = code

    def _raise(self, **kw: Any) -> Any:
        raise ClientError({"Error": {"Code": self.code, "Message": "jane.doe@example.com"}}, "Query")

    describe_table = query = get_item = delete_item = update_item = _raise


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("ProvisionedThroughputExceededException", RetryableConnectorError),
        ("ThrottlingException", RetryableConnectorError),
        ("RequestLimitExceeded", RetryableConnectorError),
        ("InternalServerError", RetryableConnectorError),
        ("ServiceUnavailable", RetryableConnectorError),
        ("ResourceNotFoundException", PermanentConnectorError),
        ("AccessDeniedException", PermanentConnectorError),
        ("ValidationException", PermanentConnectorError),
        ("SomethingNew", PermanentConnectorError),
    ],
)
def test_service_errors_map_to_retryable_or_permanent_and_never_echo_values(code: str, error: type[Exception]) -> None:
    c = DynamoDbConnector(config(), URL, client=FailingClient(code))
    with pytest.raises(error) as info:
        c.locate(JANE)
    assert type(info.value) is error
    assert "app-ddb" in str(info.value) and "customers" in str(info.value) and "jane" not in str(info.value)


@pytest.mark.parametrize(
    "patch",
    [
        {"lookup": {"ssn": {"attribute": "customer_id"}}},  # not an identity kind
        {"lookup": {"email": {"attribute": "email"}}},  # not the hash key and no index: would need a Scan
        {"lookup": {"email": {"attribute": "email", "index": "by email"}}},
        {"lookup": {}},
        {"table": "cust omers"},
        {"table": "x"},
        {"hash_key": "customer id"},
        {"fields": {"na me": {"category": "identity"}}},
        {"erase": "anonymise"},
        {"surprise": True},
    ],
)
def test_implausible_configurations_are_refused(patch: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        config(customer=patch)


def test_an_unreachable_endpoint_is_retryable(aws: None) -> None:
    client = boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",  # nothing listens on the discard port
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    with pytest.raises(RetryableConnectorError, match="unreachable"):
        DynamoDbConnector(config(), URL, client=client).check()


# --- correction -----------------------------------------------------------------------------


def correctable(phone_field: str = "phone", **fields: Any) -> DynamoSystem:
    """The customer table with ``name`` and a phone field correctable, events' ``kind`` correctable as ``kind``."""
    return config(
        customer={
            "fields": {
                "email": {"category": "contact"},
                "name": {"category": "identity", "correctable": "name"},
                phone_field: {"category": "contact", "correctable": "phone"},
                "loyalty_points": {"category": "commercial"},
                **fields,
            }
        },
        event={"fields": {"kind": {"category": "usage", "correctable": "kind"}, "total": {"category": "commercial"}}},
    )


def item(client: Any, table: str, **key: str) -> dict[str, Any]:
    got = client.get_item(TableName=table, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True)
    return dict(got.get("Item", {}))


def test_correction_is_a_capability(aws: None) -> None:
    assert Capability.CORRECT in DynamoDbConnector(config(), URL).capabilities


def test_plans_one_action_per_requested_correctable_field_of_located_tables(ddb: Any) -> None:
    c = DynamoDbConnector(correctable(), URL, KEY)
    located = c.locate(JANE)
    plan = c.plan_correction(located, [Correction("phone", "+49 30 1"), Correction("name", "Jane Roe"), Correction("postcode", "10115")])
    assert plan == [CorrectionAction("customer", "name", "name", 1), CorrectionAction("customer", "phone", "phone", 1)]
    assert c.plan_correction(located, [Correction("kind", "x")]) == [CorrectionAction("event", "kind", "kind", 3)]
    assert c.plan_correction(located, [Correction("postcode", "10115")]) == []
    assert c.plan_correction(c.locate(SubjectKeys(account_id="acct-nobody")), [Correction("name", "x")]) == []
    # a table without located items is not planned
    only_customer = c.locate(SubjectKeys(emails=("jane.doe@example.com",)))
    assert c.plan_correction(only_customer, [Correction("kind", "x")]) == []


def test_corrects_the_approved_fields_hashes_the_receipt_and_a_second_run_changes_nothing(ddb: Any) -> None:
    c = DynamoDbConnector(correctable(), URL, KEY)
    located = c.locate(JANE)
    corrections = [Correction("name", "Jane Roe"), Correction("phone", "+49 30 5550199")]
    plan = c.plan_correction(located, corrections)
    receipt = c.correct(located, plan, corrections)
    jane = item(ddb, "customers", customer_id="acct-jane")
    assert jane["name"] == {"S": "Jane Roe"} and jane["phone"] == {"S": "+49 30 5550199"}
    # the rest of the item is untouched
    assert (
        jane["email"] == {"S": "jane.doe@example.com"}
        and jane["loyalty_points"] == {"N": "120.5"}
        and jane["internal_score"] == {"N": "97"}
    )
    assert item(ddb, "customers", customer_id="acct-ana")["name"] == {"S": "Ana Silva"}
    assert receipt.counts() == {"customer": {"name": 1, "phone": 1}} and receipt.unchanged == 0
    rk = receipt_key(KEY, "app-ddb")
    by_field = {ch.field: ch for ch in receipt.changes}
    assert by_field["name"].key == '{"customer_id":"acct-jane"}' and by_field["name"].entity == "customer"
    assert by_field["name"].old_hash == value_hash(rk, "Jane Doe") and by_field["name"].new_hash == value_hash(rk, "Jane Roe")
    assert by_field["phone"].old_hash == value_hash(rk, None)  # the item had no phone yet
    # no plain values in the receipt
    text = repr(receipt) + json.dumps([ch.as_json() for ch in receipt.changes])
    for plain in ("Jane Doe", "Jane Roe", "+49 30 5550199", "5550199"):
        assert plain not in text
    # twice: nothing more changes, and it says so
    again = c.correct(located, plan, corrections)
    assert again.changes == () and again.unchanged == 2
    assert c.correct(c.locate(JANE), plan, corrections).total == 0


def test_a_field_not_requested_and_an_action_not_approved_are_untouched(ddb: Any) -> None:
    c = DynamoDbConnector(correctable(), URL, KEY)
    located = c.locate(JANE)
    corrections = [Correction("name", "Jane Roe"), Correction("kind", "rewritten")]
    plan = c.plan_correction(located, corrections)
    assert {(a.entity, a.field) for a in plan} == {("customer", "name"), ("event", "kind")}
    receipt = c.correct(located, [a for a in plan if a.entity == "customer"], corrections)
    assert receipt.counts() == {"customer": {"name": 1}}
    jane = item(ddb, "customers", customer_id="acct-jane")
    assert jane["name"] == {"S": "Jane Roe"} and "phone" not in jane  # phone was not requested
    events = ddb.query(TableName="events", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "USER#acct-jane"}})
    assert sorted(i["kind"]["S"] for i in events["Items"]) == ["order", "order", "profile"]  # not approved
    # approving the events action later corrects all three items
    later = c.correct(located, [a for a in plan if a.entity == "event"], corrections)
    assert later.counts() == {"event": {"kind": 3}}
    assert item(ddb, "events", pk="USER#acct-jane-2", sk="PROFILE")["kind"] == {"S": "profile"}


def test_a_deleted_item_is_not_recreated(ddb: Any) -> None:
    c = DynamoDbConnector(correctable(), URL, KEY)
    located = c.locate(JANE)
    corrections = [Correction("name", "Jane Roe")]
    plan = c.plan_correction(located, corrections)
    ddb.delete_item(TableName="customers", Key={"customer_id": {"S": "acct-jane"}})
    receipt = c.correct(located, plan, corrections)
    assert receipt.total == 0 and receipt.unchanged == 0
    assert item(ddb, "customers", customer_id="acct-jane") == {}


@pytest.mark.parametrize("hostile", ["' OR 1=1 --", "${x}", "#attr", ":new", "#f = :old", "x" * 100_000, "Zoë 🙂\n\t\\"])
def test_hostile_new_values_are_stored_literally(ddb: Any, hostile: str) -> None:
    c = DynamoDbConnector(correctable(), URL, KEY)
    located = c.locate(JANE)
    corrections = [Correction("name", hostile), Correction("phone", hostile)]
    receipt = c.correct(located, c.plan_correction(located, corrections), corrections)
    assert receipt.total == 2
    jane = item(ddb, "customers", customer_id="acct-jane")
    assert jane["name"] == {"S": hostile} and jane["phone"] == {"S": hostile}
    assert item(ddb, "customers", customer_id="acct-ana")["name"] == {"S": "Ana Silva"}
    assert count(ddb, "customers") == 2 and count(ddb, "events") == 5
    assert hostile not in repr(receipt) + json.dumps([ch.as_json() for ch in receipt.changes])
    assert c.correct(located, c.plan_correction(located, corrections), corrections).unchanged == 2


def test_a_key_attribute_cannot_be_correctable(ddb: Any) -> None:
    with pytest.raises(ValidationError, match="key attribute"):
        correctable(customer_id={"category": "identity", "correctable": "account_id"})
    with pytest.raises(ValidationError, match="key attribute"):
        config(event={"fields": {"sk": {"category": "usage", "correctable": "kind"}}})
    c = DynamoDbConnector(correctable(), URL, KEY)
    located = c.locate(JANE)
    corrections = [Correction("account_id", "acct-evil"), Correction("kind", "x")]
    for action in (CorrectionAction("customer", "customer_id", "account_id", 1), CorrectionAction("event", "sk", "kind", 3)):
        with pytest.raises(PermanentConnectorError, match="key attribute") as info:
            c.correct(located, [action], corrections)
        assert "acct-evil" not in str(info.value) and "acct-jane" not in str(info.value)
    assert item(ddb, "customers", customer_id="acct-jane")["name"] == {"S": "Jane Doe"}


@pytest.mark.parametrize(
    "action",
    [
        CorrectionAction("customer", "email", "email", 1),  # not correctable in the data map
        CorrectionAction("customer", "name", "phone", 1),  # a different attribute than mapped
        CorrectionAction("nope", "name", "name", 1),
        CorrectionAction("customer", "phone", "phone", 1),  # the request asks no new phone
    ],
)
def test_an_approved_action_that_does_not_fit_is_refused_before_anything_changes(ddb: Any, action: CorrectionAction) -> None:
    c = DynamoDbConnector(correctable(), URL, KEY)
    located = c.locate(JANE)
    corrections = [Correction("name", "Jane Roe"), Correction("email", "evil@example.com")]
    with pytest.raises(PermanentConnectorError) as info:
        c.correct(located, [CorrectionAction("customer", "name", "name", 1), action], corrections)
    assert "Jane" not in str(info.value) and "evil" not in str(info.value)
    assert item(ddb, "customers", customer_id="acct-jane")["name"] == {"S": "Jane Doe"}


class Interfering:
    """A real moto client; before its first UpdateItem another writer changes the field (or,
    with ``code``, every UpdateItem fails with that error)."""

    def __init__(self, inner: Any, code: str | None = None) -> None:
        self.inner, self.code, self.updates = inner, code, 0

    def update_item(self, **kw: Any) -> Any:
        self.updates += 1
        if self.code is not None:
            raise ClientError({"Error": {"Code": self.code, "Message": "Jane Roe"}}, "UpdateItem")
        if self.updates == 1:
            self.inner.put_item(TableName="customers", Item={"customer_id": {"S": "acct-jane"}, "name": {"S": "Jane Meanwhile"}})
        return self.inner.update_item(**kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_concurrent_change_is_read_again_so_the_receipt_hashes_the_real_old_value(ddb: Any) -> None:
    client = Interfering(ddb)
    c = DynamoDbConnector(correctable(), URL, KEY, client=client)
    located = c.locate(JANE)
    corrections = [Correction("name", "Jane Roe")]
    receipt = c.correct(located, c.plan_correction(located, corrections), corrections)
    assert client.updates == 2  # the first write was refused by its condition
    assert receipt.changes[0].old_hash == value_hash(receipt_key(KEY, "app-ddb"), "Jane Meanwhile")
    assert item(ddb, "customers", customer_id="acct-jane")["name"] == {"S": "Jane Roe"}


@pytest.mark.parametrize(
    ("code", "error"), [("ThrottlingException", RetryableConnectorError), ("ValidationException", PermanentConnectorError)]
)
def test_correction_errors_are_mapped_and_never_echo_values(ddb: Any, code: str, error: type[Exception]) -> None:
    c = DynamoDbConnector(correctable(), URL, KEY, client=Interfering(ddb, code))
    located = c.locate(JANE)
    corrections = [Correction("name", "Jane Roe")]
    with pytest.raises(error) as info:
        c.correct(located, c.plan_correction(located, corrections), corrections)
    assert type(info.value) is error
    assert "customers" in str(info.value) and "jane" not in str(info.value).lower()
    assert item(ddb, "customers", customer_id="acct-jane")["name"] == {"S": "Jane Doe"}
