"""The `s3` connector against moto and on a local folder (``file://``): per-subject prefixes
(``avatars/{account_id}/``, blob), key patterns (``bills/*/{account_id}/*.pdf``, blob) and
shared JSON Lines objects (``events/``, jsonl), in unversioned and versioned buckets. The
contract tests run on both backends (``store``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from isal import isal_zlib
from moto import mock_aws
from pydantic import ValidationError

from dsar.connectors.base import (
    Capability,
    CorrectionAction,
    ErasureAction,
    FieldChange,
    LocateResult,
    Match,
    SubjectKeys,
    receipt_key,
    value_hash,
)
from dsar.connectors.folder_store import FolderClient
from dsar.connectors.s3 import S3Connector, S3System
from dsar.domain.errors import PermanentConnectorError, RetryableConnectorError
from dsar.domain.request import Correction

REGION = "eu-central-1"
BUCKET = "dsar-test"
URL = f"s3://{BUCKET}"
JANE = SubjectKeys(emails=("jane.doe@example.com",), account_id="acct-jane")
ANA = SubjectKeys(emails=("ana.silva@example.com",), account_id="acct-ana")
KEY = b"k" * 32
HOSTILE = [
    "' OR 1=1 --",
    "%",
    "*",
    ".",
    "..",
    "../",
    "../../etc",
    "%2e%2e",
    "%2e%2e/%2e%2e/etc",
    "a\x00b",
    "x" * 1000,
    "x" * 100_000,
    "",
    "acct-",
    "acct-jane/../acct-ana",
    "{email}",
]

EVENTS_JAN = (
    b'{"email": "Jane.Doe@Example.com", "event": "login"}\n'
    b'{"email": "ana.silva@example.com", "event": "login"}\n'
    b"not json at all\n"
    b"\n"
    b"[1, 2]\n"
    b'{"email": "jane.doe@example.com", "event": "purchase", "total": 9.99}\n'
    b'{"email": "jane.doe@example.com.evil", "event": "login"}\n'
    b'{"user_id": 7, "event": "no newline at the end"}'
)
EVENTS_JAN_WITHOUT_JANE = (
    b'{"email": "ana.silva@example.com", "event": "login"}\n'
    b"not json at all\n"
    b"\n"
    b"[1, 2]\n"
    b'{"email": "jane.doe@example.com.evil", "event": "login"}\n'
    b'{"user_id": 7, "event": "no newline at the end"}'
)
EVENTS_FEB = b'{"email": "ana.silva@example.com", "event": "logout"}\n{"user_id": "acct-jane", "email": "JANE.DOE@example.com"}\n'
EVENTS_MAR = b'{"email": "jane.doe@example.com", "event": "a"}\n{"email": "jane.doe@example.com", "event": "b"}\n'


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


OBJECTS: dict[str, bytes] = {
    "avatars/acct-jane/a.png": b"\x89PNG jane a",
    "avatars/acct-jane/b.png": b"\x89PNG jane b",
    "avatars/acct-jane-2/a.png": b"\x89PNG someone else whose id starts like Jane's",
    "avatars/acct-ana/a.png": b"\x89PNG ana",
    "invoices/jane.doe@example.com/2024-001.pdf": b"%PDF jane invoice",
    "invoices/ana.silva@example.com/2024-002.pdf": b"%PDF ana invoice",
    "notes/acct-jane/n.txt": b"support note about jane",
    "events/2024-01.jsonl": EVENTS_JAN,
    "events/2024-02.jsonl": EVENTS_FEB,
    "events/2024-03.jsonl": EVENTS_MAR,
    "other/events.jsonl": b'{"email": "jane.doe@example.com"}\n',  # outside every set
}


def content_type(key: str) -> str:
    return "image/png" if key.endswith(".png") else "application/octet-stream"


def seed(client: Any, bucket: str = BUCKET, root: str = "") -> None:
    for key, data in OBJECTS.items():
        client.put_object(Bucket=bucket, Key=root + key, Body=data, ContentType=content_type(key))


class Store:
    """Where a test's objects live: a moto bucket, or a folder read and written directly (never
    through the connector's own client)."""

    def __init__(self, client: Any = None, folder: Path | None = None) -> None:
        self.client, self.folder = client, folder

    @property
    def url(self) -> str:
        return URL if self.folder is None else f"file://{self.folder}"

    def put(self, key: str, data: bytes) -> None:
        if self.folder is None:
            self.client.put_object(Bucket=BUCKET, Key=key, Body=data, ContentType=content_type(key))
        else:
            path = self.folder / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    def body(self, key: str) -> bytes:
        if self.folder is None:
            return body(self.client, key)
        return (self.folder / key).read_bytes()

    def keys(self, prefix: str = "") -> list[str]:
        if self.folder is None:
            return keys_in(self.client, prefix)
        return sorted(k for k in files_in(self.folder) if k.startswith(prefix))


def files_in(folder: Path) -> list[str]:
    """Every file under folder (symlinks not followed), as /-separated relative paths."""
    out = []
    for directory, _, names in os.walk(folder):
        out += [(Path(directory) / n).relative_to(folder).as_posix() for n in names]
    return sorted(out)


def make_bucket(name: str, versioned: bool = False) -> Any:
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def s3(aws: None) -> Any:
    client = make_bucket(BUCKET)
    seed(client)
    return client


@pytest.fixture(params=["s3", "folder"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The seeded objects in a moto bucket or in a local folder (file://)."""
    if request.param == "s3":
        s3 = request.getfixturevalue("s3")
        yield Store(client=s3)
    else:
        folder = tmp_path / "bucket"
        st = Store(folder=folder)
        for key, data in OBJECTS.items():
            st.put(key, data)
        yield st


@pytest.fixture
def vs3(aws: None) -> Any:
    """A versioned bucket: Jane's avatar a.png has three versions and a delete marker, Ana's two
    versions, and the January events an older version that also holds Jane's lines."""
    client = make_bucket(BUCKET, versioned=True)
    for body in (b"v1", b"v2"):
        client.put_object(Bucket=BUCKET, Key="avatars/acct-jane/a.png", Body=body)
    client.delete_object(Bucket=BUCKET, Key="avatars/acct-jane/a.png")  # a delete marker
    client.put_object(Bucket=BUCKET, Key="avatars/acct-ana/a.png", Body=b"ana v1")
    client.put_object(Bucket=BUCKET, Key="events/2024-01.jsonl", Body=EVENTS_JAN.split(b"\n", 1)[0] + b"\n")
    seed(client)  # the current versions
    return client


def config(**overrides: Any) -> S3System:
    data: dict[str, Any] = {
        "system": "app-s3",
        "title": "App object storage",
        "type": "s3",
        "connection": "DSAR_TEST_S3",
        "purposes": ["running the app"],
        "legal_basis": "contract (Art. 6(1)(b))",
        "retention": "while the account exists",
        "source": "the data subject",
        "objects": {
            "avatars": {"prefix": "avatars/{account_id}/", "category": "profile", "erase": "delete"},
            "events": {
                "prefix": "events/",
                "format": "jsonl",
                "match": {"email": "email", "account_id": "user_id"},
                "category": "usage",
                "erase": "delete",
            },
            "invoices": {"prefix": "invoices/{email}/", "category": "commercial", "erase": {"retain": "invoices: 10 years, HGB s.257"}},
            "notes": {"prefix": "notes/{account_id}/", "category": "support"},
        },
    }
    for name, patch in overrides.items():
        if patch is None:
            del data["objects"][name]
        else:
            data["objects"].setdefault(name, {}).update(patch)
    return S3System.model_validate(data)


def deletable() -> S3System:
    return config(invoices=None, notes=None)


def body(client: Any, key: str) -> bytes:
    return bytes(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def keys_in(client: Any, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def versions_of(client: Any, key: str) -> tuple[list[str], list[str]]:
    """Version ids and delete-marker ids of exactly this key."""
    page = client.list_object_versions(Bucket=BUCKET, Prefix=key)
    return (
        [v["VersionId"] for v in page.get("Versions", []) if v["Key"] == key],
        [d["VersionId"] for d in page.get("DeleteMarkers", []) if d["Key"] == key],
    )


def all_versions(client: Any) -> int:
    page = client.list_object_versions(Bucket=BUCKET)
    return len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))


# --- locate and export ----------------------------------------------------------------------


def test_locates_blobs_by_prefix_and_jsonl_lines_by_field(store: Store) -> None:
    c = S3Connector(config(), store.url)
    found = c.locate(JANE)
    assert [(m.entity, m.key, m.matched_on) for m in found.matches] == [
        ("avatars", "avatars/acct-jane/a.png", ("account_id",)),
        ("avatars", "avatars/acct-jane/b.png", ("account_id",)),
        ("events", "events/2024-01.jsonl#1", ("email",)),  # case-insensitive
        ("events", "events/2024-01.jsonl#6", ("email",)),
        ("events", "events/2024-02.jsonl#2", ("account_id", "email")),  # one match for both kinds
        ("events", "events/2024-03.jsonl#1", ("email",)),
        ("events", "events/2024-03.jsonl#2", ("email",)),
        ("invoices", "invoices/jane.doe@example.com/2024-001.pdf", ("email",)),
        ("notes", "notes/acct-jane/n.txt", ("account_id",)),
    ]
    # an upper-case email finds the same lines and the same lower-cased prefix
    upper = c.locate(SubjectKeys(emails=("JANE.DOE@EXAMPLE.COM",)))
    assert {m.key for m in upper.matches} == {m.key for m in found.matches if "email" in m.matched_on}
    # a set whose prefix needs a kind the subject lacks is skipped
    assert {m.entity for m in c.locate(SubjectKeys(emails=("ana.silva@example.com",))).matches} == {"events", "invoices"}
    assert c.locate(SubjectKeys(emails=("nobody@example.com",), account_id="acct-nobody", phone="+1 555")).matches == ()


def test_exports_blob_metadata_and_content_and_jsonl_lines(store: Store) -> None:
    c = S3Connector(config(), store.url)
    records = list(c.export(c.locate(JANE)))
    avatars = [r for r in records if r.entity == "avatars"]
    assert [r.key for r in avatars] == ["avatars/acct-jane/a.png", "avatars/acct-jane/b.png"]
    a = avatars[0].fields
    assert set(a) == {"key", "size", "last_modified", "content_type"}
    assert avatars[0].content == b"\x89PNG jane a"  # the bytes as they are, beside the fields (no base64)
    assert a["size"] == len(b"\x89PNG jane a") and a["content_type"] == "image/png" and "T" in a["last_modified"]
    assert avatars[0].categories == {f: "profile" for f in [*a, "content_base64"]}
    events = [r for r in records if r.entity == "events"]
    assert [r.fields for r in events] == [
        {"email": "Jane.Doe@Example.com", "event": "login"},
        {"email": "jane.doe@example.com", "event": "purchase", "total": 9.99},
        {"user_id": "acct-jane", "email": "JANE.DOE@example.com"},
        {"email": "jane.doe@example.com", "event": "a"},
        {"email": "jane.doe@example.com", "event": "b"},
    ]
    assert events[1].categories == {"email": "usage", "event": "usage", "total": "usage"}
    text = repr(records)
    assert "ana" not in text and "acct-jane-2" not in text and "evil" not in text and "someone else" not in text


def test_large_blobs_are_exported_without_their_content(store: Store) -> None:
    big = b"\0" * (5 * 1024 * 1024 + 1)
    store.put("avatars/acct-big/huge.bin", big)
    store.put("avatars/acct-big/small.bin", b"ok")
    c = S3Connector(config(), store.url)
    fields = {r.key: r.fields for r in c.export(c.locate(SubjectKeys(account_id="acct-big")))}
    content = {r.key: r.content for r in c.export(c.locate(SubjectKeys(account_id="acct-big")))}
    assert fields["avatars/acct-big/huge.bin"]["size"] == len(big) and content["avatars/acct-big/huge.bin"] is None
    assert content["avatars/acct-big/small.bin"] == b"ok"


def test_a_root_prefix_in_the_url_is_put_before_every_set(aws: None) -> None:
    client = make_bucket(BUCKET)
    seed(client, root="tenant-a/")
    seed(client, root="tenant-b/")
    c = S3Connector(config(), f"s3://{BUCKET}/tenant-a/")
    found = c.locate(JANE)
    assert found.matches and all(m.key.startswith("tenant-a/") for m in found.matches)
    assert len(found.matches) == 9
    assert len(S3Connector(config(), f"s3://{BUCKET}").locate(JANE).matches) == 0  # nothing at the bucket's top


class SmallPages:
    """A real moto client whose listings return at most two entries per page."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.listings = inner, 0

    def list_objects_v2(self, **kw: Any) -> Any:
        self.listings += 1
        return self.inner.list_objects_v2(MaxKeys=2, **kw)

    def list_object_versions(self, **kw: Any) -> Any:
        self.listings += 1
        return self.inner.list_object_versions(MaxKeys=2, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_paginates_through_long_listings(store: Store) -> None:
    for i in range(7):
        store.put(f"avatars/acct-many/{i}.png", b"x")
        store.put(f"events/extra-{i}.jsonl", b'{"user_id": "acct-many"}\n')
    client = SmallPages(store.client if store.folder is None else FolderClient(store.folder))
    c = S3Connector(deletable(), store.url, client=client)
    found = c.locate(SubjectKeys(account_id="acct-many"))
    assert sum(m.entity == "avatars" for m in found.matches) == 7 and sum(m.entity == "events" for m in found.matches) == 7
    assert client.listings >= 4 + 5


# --- erasure --------------------------------------------------------------------------------


def test_erasure_in_an_unversioned_bucket_deletes_objects_and_rewrites_lines(store: Store) -> None:
    c = S3Connector(deletable(), store.url)
    located = c.locate(JANE)
    plan = c.plan_erasure(located)
    assert [(a.entity, a.action, a.rows) for a in plan] == [("avatars", "delete", 2), ("events", "delete", 5)]
    receipt = c.erase(located, plan)
    assert receipt.counts == {"avatars": {"delete": 2}, "events": {"delete": 5}}
    assert store.keys("avatars/") == ["avatars/acct-ana/a.png", "avatars/acct-jane-2/a.png"]
    assert store.body("events/2024-01.jsonl") == EVENTS_JAN_WITHOUT_JANE  # every other line byte for byte
    assert store.body("events/2024-02.jsonl") == b'{"email": "ana.silva@example.com", "event": "logout"}\n'
    assert "events/2024-03.jsonl" not in store.keys("events/")  # nothing was left: the object went
    assert store.body("other/events.jsonl") == b'{"email": "jane.doe@example.com"}\n'  # outside every set
    if store.folder is None:
        assert store.client.get_object(Bucket=BUCKET, Key="events/2024-01.jsonl")["ContentType"] == "application/octet-stream"
    else:  # no temporary files left, and no empty directory named after Jane's account
        assert not (store.folder / "avatars" / "acct-jane").exists()
        assert not [k for k in files_in(store.folder) if ".dsar-tmp-" in k]
    # the others are untouched
    assert {m.entity for m in c.locate(ANA).matches} == {"avatars", "events"}
    assert len(c.locate(SubjectKeys(account_id="acct-jane-2")).matches) == 1


def test_erasure_in_a_versioned_bucket_removes_every_version_and_delete_marker(vs3: Any) -> None:
    assert [len(x) for x in versions_of(vs3, "avatars/acct-jane/a.png")] == [3, 1]
    assert len(versions_of(vs3, "events/2024-01.jsonl")[0]) == 2
    client = SmallPages(vs3)
    c = S3Connector(deletable(), URL, client=client)
    located = c.locate(JANE)
    receipt = c.erase(located, c.plan_erasure(located))
    assert receipt.counts == {"avatars": {"delete": 2}, "events": {"delete": 5}}
    for key in ("avatars/acct-jane/a.png", "avatars/acct-jane/b.png", "events/2024-03.jsonl"):
        assert versions_of(vs3, key) == ([], []), key
    # the rewritten object keeps only its new version; the older ones held Jane's lines
    (only,), markers = versions_of(vs3, "events/2024-01.jsonl")
    assert markers == [] and body(vs3, "events/2024-01.jsonl") == EVENTS_JAN_WITHOUT_JANE
    assert vs3.get_object(Bucket=BUCKET, Key="events/2024-01.jsonl")["VersionId"] == only
    assert len(versions_of(vs3, "events/2024-02.jsonl")[0]) == 1
    # other subjects' objects and versions stay
    assert len(versions_of(vs3, "avatars/acct-ana/a.png")[0]) == 2
    assert versions_of(vs3, "avatars/acct-jane-2/a.png")[0] != []
    assert b"jane" in body(vs3, "other/events.jsonl")


@pytest.mark.parametrize("backend", ["s3", "s3-versioned", "folder"])
def test_erasing_twice_is_harmless(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    if backend == "folder":
        st = Store(folder=tmp_path / "bucket")
        for key, data in OBJECTS.items():
            st.put(key, data)
    else:
        request.getfixturevalue("aws")
        st = Store(client=make_bucket(BUCKET, versioned=backend == "s3-versioned"))
        seed(st.client)

    def snapshot() -> Any:
        return {k: st.body(k) for k in st.keys()} if st.folder is not None else all_versions(st.client)

    c = S3Connector(deletable(), st.url)
    located = c.locate(JANE)
    plan = c.plan_erasure(located)
    assert c.erase(located, plan).total == 7
    before = snapshot()
    # again with the old located keys (stale line numbers point at other people's lines now)
    assert c.erase(located, plan).total == 0
    # line numbers belong to the object version this connector located: another one refuses them
    with pytest.raises(PermanentConnectorError, match="connector that located them"):
        S3Connector(deletable(), st.url).erase(located, plan)
    # and with a fresh locate
    fresh = c.locate(JANE)
    assert fresh.matches == () and c.plan_erasure(fresh) == [] and c.erase(fresh, plan).total == 0
    assert snapshot() == before
    assert {m.entity for m in c.locate(ANA).matches} == {"avatars", "events"}


def test_an_object_changed_after_locate_is_not_rewritten_from_stale_line_numbers(store: Store) -> None:
    c = S3Connector(deletable(), store.url)
    located = c.locate(JANE)
    changed = b'{"email": "ana.silva@example.com", "event": "prepended"}\n' + EVENTS_JAN
    store.put("events/2024-01.jsonl", changed)
    with pytest.raises(RetryableConnectorError, match="locate again") as info:
        c.erase(located, c.plan_erasure(located))
    assert "jane" not in str(info.value) and "2024-01" not in str(info.value)
    assert store.body("events/2024-01.jsonl") == changed
    # the retry locates afresh and erases exactly Jane's lines
    fresh = c.locate(JANE)
    c.erase(fresh, c.plan_erasure(fresh))
    assert store.body("events/2024-01.jsonl") == b'{"email": "ana.silva@example.com", "event": "prepended"}\n' + EVENTS_JAN_WITHOUT_JANE


def test_retained_sets_are_kept_and_unmapped_ones_are_never_erased(store: Store) -> None:
    c = S3Connector(config(), store.url)
    located = c.locate(JANE)
    plan = c.plan_erasure(located)
    assert [(a.entity, a.action, a.rows) for a in plan] == [
        ("avatars", "delete", 2),
        ("events", "delete", 5),
        ("invoices", "retain", 1),
        ("notes", "unmapped", 1),
    ]
    assert plan[2].reason.startswith("invoices: 10 years")
    before = store.keys()
    with pytest.raises(PermanentConnectorError, match="without an erasure rule"):
        c.erase(located, plan)
    assert store.keys() == before  # refused before anything was deleted
    receipt = c.erase(located, [a for a in plan if a.entity == "invoices"])
    assert receipt.counts == {"invoices": {"retain": 1}}
    assert store.keys() == before
    with pytest.raises(PermanentConnectorError, match="anonymise"):
        c.erase(located, [ErasureAction("avatars", "anonymise", 2)])


def test_a_located_key_outside_the_sets_layout_is_refused(store: Store) -> None:
    c = S3Connector(deletable(), store.url)
    for match in (
        Match("avatars", "invoices/ana.silva@example.com/2024-002.pdf", ("account_id",)),
        Match("avatars", "avatars/", ("account_id",)),
        Match("events", "other/events.jsonl#1", ("email",)),
        Match("events", "events/2024-02.jsonl#0", ("email",)),
        Match("events", "events/2024-02.jsonl", ("email",)),
    ):
        forged = LocateResult("app-s3", (match,))
        with pytest.raises(PermanentConnectorError, match="does not fit") as info:
            c.erase(forged, [ErasureAction(match.entity, "delete", 1)])
        assert "ana" not in str(info.value) and "other" not in str(info.value)
        with pytest.raises(PermanentConnectorError, match="does not fit"):
            list(c.export(forged))
    assert len(store.keys()) == 11
    # a key that fits the layout but climbs out of it deletes nothing (S3 keys are literal; a
    # folder refuses the dot-dot segments)
    climbing = LocateResult("app-s3", (Match("avatars", "avatars/acct-x/../../other/events.jsonl", ("account_id",)),))
    assert c.erase(climbing, [ErasureAction("avatars", "delete", 1)]).total == 0
    assert len(store.keys()) == 11 and list(c.export(climbing)) == []


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_identity_values_match_nothing_and_break_nothing(store: Store, hostile: str) -> None:
    c = S3Connector(deletable(), store.url)
    located = c.locate(SubjectKeys(emails=(hostile,), account_id=hostile, phone=hostile))
    assert located.matches == ()
    assert c.plan_erasure(located) == [] and c.erase(located, []).total == 0
    assert list(c.export(located)) == []
    assert c.plan_correction(located, [Correction("phone", "+1")]) == [] and c.correct(located, [], []).total == 0
    assert len(store.keys()) == 11 and store.body("events/2024-01.jsonl") == EVENTS_JAN
    assert len(c.locate(JANE).matches) == 7  # the real subject is still found


def test_identity_values_are_url_quoted_in_keys(store: Store) -> None:
    store.put("avatars/a%2Fb/x.png", b"quoted")
    store.put("avatars/a/b/x.png", b"not this one")
    c = S3Connector(config(), store.url)
    assert [m.key for m in c.locate(SubjectKeys(account_id="a/b")).matches] == ["avatars/a%2Fb/x.png"]
    assert [m.key for m in c.locate(SubjectKeys(account_id="a")).matches] == ["avatars/a/b/x.png"]  # under a's prefix


# --- configuration, health and errors -------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://x",
        "s3://",
        "s3:///root",
        "s3://Bad_Bucket",
        "s3://user:hunter2@bucket",
        "s3://bucket?token=hunter2",
        "s3://bucket/../hunter2",
        "s3://bucket/a//hunter2",
        "postgresql://user:hunter2@db/x",
        "",
    ],
)
def test_a_bad_url_is_a_permanent_error_that_names_the_system_and_hides_the_url(aws: None, url: str) -> None:
    with pytest.raises(PermanentConnectorError) as info:
        S3Connector(config(), url)
    assert "app-s3" in str(info.value) and "hunter2" not in str(info.value)


def test_check_reports_versioning(aws: None) -> None:
    seed(make_bucket(BUCKET))
    health = S3Connector(config(), URL).check()
    assert health.ok, health.detail
    assert len(health.warnings) == 1 and "versioning" in health.warnings[0] and "disabled" in health.warnings[0]
    make_bucket("dsar-versioned", versioned=True)
    health = S3Connector(config(), "s3://dsar-versioned").check()
    assert health.ok and health.warnings == () and "enabled" in health.detail


def test_check_fails_when_the_bucket_is_missing(aws: None) -> None:
    c = S3Connector(config(), "s3://no-such-bucket")
    health = c.check()
    assert not health.ok and "does not exist" in health.detail
    with pytest.raises(PermanentConnectorError, match="does not exist"):
        c.locate(JANE)


class FailingClient:
    def __init__(self, code: str, status: int = 400) -> None:
        self.code, self.status = code, status

    def _raise(self, **kw: Any) -> Any:
        error = {"Error": {"Code": self.code, "Message": "jane.doe@example.com"}, "ResponseMetadata": {"HTTPStatusCode": self.status}}
        raise ClientError(error, "ListObjectsV2")

    list_objects_v2 = get_object = head_bucket = head_object = list_object_versions = delete_objects = _raise


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("SlowDown", 503, RetryableConnectorError),
        ("ServiceUnavailable", 503, RetryableConnectorError),
        ("InternalError", 500, RetryableConnectorError),
        ("RequestTimeout", 400, RetryableConnectorError),
        ("Throttling", 400, RetryableConnectorError),
        ("SomethingNew", 502, RetryableConnectorError),
        ("TooManyRequests", 429, RetryableConnectorError),
        ("AccessDenied", 403, PermanentConnectorError),
        ("NoSuchBucket", 404, PermanentConnectorError),
        ("InvalidArgument", 400, PermanentConnectorError),
        ("NotImplemented", 501, PermanentConnectorError),
    ],
)
def test_service_errors_map_to_retryable_or_permanent_and_never_echo_values(code: str, status: int, error: type[Exception]) -> None:
    c = S3Connector(config(), URL, client=FailingClient(code, status))
    with pytest.raises(error) as info:
        c.locate(JANE)
    assert type(info.value) is error
    assert "app-s3" in str(info.value) and "set avatars" in str(info.value)
    assert "jane" not in str(info.value) and "acct" not in str(info.value)


def test_check_reports_refused_access_and_raises_when_s3_is_busy() -> None:
    health = S3Connector(config(), URL, client=FailingClient("403", 403)).check()
    assert not health.ok and "refused" in health.detail
    with pytest.raises(RetryableConnectorError):
        S3Connector(config(), URL, client=FailingClient("503", 503)).check()


def test_an_unreachable_endpoint_is_retryable(aws: None) -> None:
    client = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",  # nothing listens on the discard port
        config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=1),
    )
    with pytest.raises(RetryableConnectorError, match="unreachable"):
        S3Connector(config(), URL, client=client).locate(JANE)


@pytest.mark.parametrize(
    ("name", "patch"),
    [
        ("avatars", {"prefix": "avatars/"}),  # a blob set needs a placeholder
        ("avatars", {"prefix": "avatars/{account_id}"}),  # would also list avatars/{account_id}0...
        ("avatars", {"prefix": "exports/{email}.json"}),
        ("avatars", {"prefix": "avatars/{ssn}/"}),
        ("avatars", {"prefix": "avatars/{account_id/"}),
        ("avatars", {"prefix": "avatars/{}/"}),
        ("avatars", {"prefix": "avatars/\x00{account_id}/"}),
        ("avatars", {"match": {"email": "email"}}),  # match is for jsonl sets
        ("avatars", {"erase": "anonymise"}),
        ("avatars", {"format": "csv"}),
        ("avatars", {"surprise": True}),
        ("events", {"match": {}}),  # a jsonl set needs match
        ("events", {"match": {"ssn": "ssn"}}),
        ("events", {"match": {"email": ""}}),
        ("bad name", {"prefix": "x/{email}/", "category": "x"}),
        ("events", {"category": ""}),
    ],
)
def test_implausible_configurations_are_refused(name: str, patch: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        config(**{name: patch})


def test_configuration_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValidationError, match="needs a placeholder"):
        config(avatars={"prefix": "avatars/"})
    with pytest.raises(ValidationError, match="jsonl set needs match"):
        config(events={"match": {}})
    with pytest.raises(ValidationError, match="must be followed by '/'"):
        config(avatars={"prefix": "avatars/{account_id}"})


def test_a_system_without_object_sets_is_refused() -> None:
    with pytest.raises(ValidationError):
        config(avatars=None, events=None, invoices=None, notes=None)


def test_jsonl_sets_may_carry_placeholders_and_list_their_literal_part(store: Store) -> None:
    store.put("logs/acct-ana/x.jsonl", json.dumps({"email": "jane.doe@example.com"}).encode())
    c = S3Connector(
        config(logs={"prefix": "logs/{account_id}/", "format": "jsonl", "match": {"email": "email"}, "category": "usage"}), store.url
    )
    assert [m.key for m in c.locate(SubjectKeys(emails=("jane.doe@example.com",))).matches if m.entity == "logs"] == [
        "logs/acct-ana/x.jsonl#1"
    ]


# --- correction -----------------------------------------------------------------------------

PROFILES = (
    b'{"email": "jane.doe@example.com", "phone": "+49 30 111", "nick": "Janie", "n": 1}\n'
    b'{"email": "ana.silva@example.com", "phone": "+49 30 222"}\n'
    b"not json at all\n"
    b'{"user_id": "acct-jane", "event": "login"}\n'  # Jane's, without the fields: left as it is
    b'{"email": "JANE.DOE@example.com", "phone": "+49 30 555", "nick": "Zo\xc3\xab"}\r\n'  # phone already right
    b'{"email": "jane.doe@example.com", "phone": 4930111, "nick": null}'  # no newline at the end
)
PHONE = "+49 30 555"


def correctable(**overrides: Any) -> S3System:
    return config(events={"correctable": {"phone": "phone", "nick": "name"}}, invoices=None, notes=None, **overrides)


def test_correction_is_a_capability() -> None:
    assert Capability.CORRECT in S3Connector.capabilities


def test_plans_one_action_per_requested_correctable_field_of_sets_with_located_lines(store: Store) -> None:
    store.put("events/profiles.jsonl", PROFILES)
    c = S3Connector(correctable(), store.url, KEY)
    located = c.locate(JANE)
    n = sum(m.entity == "events" for m in located.matches)
    assert n == 5 + 4
    plan = c.plan_correction(located, [Correction("phone", PHONE), Correction("name", "Jane"), Correction("postcode", "10115")])
    assert plan == [CorrectionAction("events", "phone", "phone", n), CorrectionAction("events", "nick", "name", n)]
    assert c.plan_correction(located, [Correction("postcode", "10115")]) == []  # an attribute the system does not hold
    assert c.plan_correction(c.locate(SubjectKeys(account_id="acct-nobody")), [Correction("phone", PHONE)]) == []
    # blob sets are never corrected: only their objects were located
    blobs = LocateResult("app-s3", tuple(m for m in located.matches if m.entity == "avatars"))
    assert c.plan_correction(blobs, [Correction("phone", PHONE)]) == []


def test_corrects_the_located_lines_hashes_the_receipt_and_a_second_run_changes_nothing(store: Store) -> None:
    store.put("events/profiles.jsonl", PROFILES)
    c = S3Connector(correctable(), store.url, KEY)
    located = c.locate(JANE)
    corrections = [Correction("phone", PHONE), Correction("name", "Jane Roe")]
    plan = c.plan_correction(located, corrections)
    receipt = c.correct(located, plan, corrections)
    h = receipt_key(KEY, "app-s3")
    assert sorted(receipt.changes, key=lambda ch: (ch.key, ch.field)) == [
        FieldChange("events", "events/profiles.jsonl#1", "nick", value_hash(h, "Janie"), value_hash(h, "Jane Roe")),
        FieldChange("events", "events/profiles.jsonl#1", "phone", value_hash(h, "+49 30 111"), value_hash(h, PHONE)),
        FieldChange("events", "events/profiles.jsonl#5", "nick", value_hash(h, "Zoë"), value_hash(h, "Jane Roe")),
        FieldChange("events", "events/profiles.jsonl#6", "nick", value_hash(h, None), value_hash(h, "Jane Roe")),
        FieldChange("events", "events/profiles.jsonl#6", "phone", value_hash(h, 4930111), value_hash(h, PHONE)),
    ]
    assert receipt.unchanged == 1 and receipt.counts() == {"events": {"nick": 3, "phone": 2}}
    assert "555" not in repr(receipt) and "Roe" not in repr(receipt) and "Janie" not in repr(receipt)
    lines = store.body("events/profiles.jsonl").split(b"\n")
    assert json.loads(lines[0]) == {"email": "jane.doe@example.com", "phone": PHONE, "nick": "Jane Roe", "n": 1}
    assert lines[0].startswith(b'{"email": "jane.doe@example.com", "phone": ')  # keys stay in their order
    assert lines[1:4] == PROFILES.split(b"\n")[1:4]  # other people's, malformed and field-less lines byte for byte
    assert lines[4].endswith(b"\r") and json.loads(lines[4])["nick"] == "Jane Roe"  # its line ending kept
    assert json.loads(lines[5]) == {"email": "jane.doe@example.com", "phone": PHONE, "nick": "Jane Roe"} and len(lines) == 6
    # EVENTS_* lines have neither field: those objects are not even rewritten
    assert store.body("events/2024-01.jsonl") == EVENTS_JAN and store.body("events/2024-03.jsonl") == EVENTS_MAR
    # export with the same located result reads the corrected version (same line numbers)
    exported = {r.key: r.fields for r in c.export(located) if r.key.startswith("events/profiles")}
    assert exported["events/profiles.jsonl#1"]["phone"] == PHONE
    # a second run with the same located result, then with a fresh one: nothing changes
    written = store.body("events/profiles.jsonl")
    again = c.correct(located, plan, corrections)
    assert again.changes == () and again.unchanged == 6
    fresh = c.locate(JANE)
    assert [m.key for m in fresh.matches] == [m.key for m in located.matches]
    again = c.correct(fresh, c.plan_correction(fresh, corrections), corrections)
    assert again.changes == () and again.unchanged == 6
    assert store.body("events/profiles.jsonl") == written


def test_a_correction_in_a_versioned_bucket_removes_the_versions_holding_the_old_values(vs3: Any) -> None:
    vs3.put_object(Bucket=BUCKET, Key="events/profiles.jsonl", Body=PROFILES.replace(b"+49 30 111", b"+49 30 000"))
    vs3.put_object(Bucket=BUCKET, Key="events/profiles.jsonl", Body=PROFILES)
    c = S3Connector(correctable(), URL, KEY)
    located = c.locate(JANE)
    corrections = [Correction("phone", PHONE)]
    assert c.correct(located, c.plan_correction(located, corrections), corrections).total == 2
    (only,), markers = versions_of(vs3, "events/profiles.jsonl")
    assert markers == [] and vs3.get_object(Bucket=BUCKET, Key="events/profiles.jsonl")["VersionId"] == only
    assert b"+49 30 111" not in body(vs3, "events/profiles.jsonl") and b"+49 30 222" in body(vs3, "events/profiles.jsonl")
    assert len(versions_of(vs3, "events/2024-01.jsonl")[0]) == 2  # not rewritten: nothing to correct there


def test_an_object_changed_after_locate_is_not_corrected_from_stale_line_numbers(store: Store) -> None:
    store.put("events/profiles.jsonl", PROFILES)
    c = S3Connector(correctable(), store.url, KEY)
    located = c.locate(JANE)
    changed = b'{"email": "ana.silva@example.com", "phone": "+1"}\n' + PROFILES
    store.put("events/profiles.jsonl", changed)
    corrections = [Correction("phone", PHONE)]
    with pytest.raises(RetryableConnectorError, match="locate again") as info:
        c.correct(located, c.plan_correction(located, corrections), corrections)
    assert "jane" not in str(info.value) and "profiles" not in str(info.value)
    assert store.body("events/profiles.jsonl") == changed
    fresh = c.locate(JANE)
    assert c.correct(fresh, c.plan_correction(fresh, corrections), corrections).total == 2
    assert json.loads(store.body("events/profiles.jsonl").split(b"\n")[0]) == {"email": "ana.silva@example.com", "phone": "+1"}


def test_lines_erased_here_are_not_corrected_and_corrected_lines_can_be_erased(store: Store) -> None:
    store.put("events/profiles.jsonl", PROFILES)
    c = S3Connector(correctable(), store.url, KEY)
    located = c.locate(JANE)
    corrections = [Correction("phone", PHONE)]
    plan = c.plan_correction(located, corrections)
    assert c.correct(located, plan, corrections).total == 2
    assert c.erase(located, c.plan_erasure(located)).counts == {"avatars": {"delete": 2}, "events": {"delete": 9}}
    assert store.body("events/profiles.jsonl") == b'{"email": "ana.silva@example.com", "phone": "+49 30 222"}\nnot json at all\n'
    receipt = c.correct(located, plan, corrections)  # stale line numbers would now point at Ana's line
    assert receipt.total == 0 and receipt.unchanged == 0
    assert store.body("events/profiles.jsonl") == b'{"email": "ana.silva@example.com", "phone": "+49 30 222"}\nnot json at all\n'


def test_a_correction_outside_the_data_map_or_the_request_is_refused(store: Store) -> None:
    store.put("events/profiles.jsonl", PROFILES)
    c = S3Connector(correctable(), store.url, KEY)
    located = c.locate(JANE)
    corrections = [Correction("phone", PHONE)]
    for forged in (
        CorrectionAction("events", "email", "email", 9),  # not correctable
        CorrectionAction("events", "phone", "name", 9),  # another attribute
        CorrectionAction("avatars", "phone", "phone", 2),  # a blob set
        CorrectionAction("nope", "phone", "phone", 1),
    ):
        with pytest.raises(PermanentConnectorError, match="does not match the data map") as info:
            c.correct(located, [forged], corrections)
        assert "555" not in str(info.value)
    with pytest.raises(PermanentConnectorError, match="asks no new value for name"):
        c.correct(located, [CorrectionAction("events", "nick", "name", 9)], corrections)
    assert store.body("events/profiles.jsonl") == PROFILES


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"correctable": {"phone": "phone"}}, "jsonl sets only"),  # on the blob set avatars
    ],
)
def test_correctable_is_for_jsonl_sets_only(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        config(avatars=patch)


@pytest.mark.parametrize("correctable", [{"phone": "Phone"}, {"phone": "1phone"}, {"phone": ""}, {"": "phone"}, {"a\nb": "phone"}])
def test_implausible_correctable_fields_are_refused(correctable: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="correctable"):
        config(events={"correctable": correctable})


# --- the local-folder backend ---------------------------------------------------------------


def test_a_folder_url_needs_no_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # would fail if anything called AWS
    folder = tmp_path / "objects"
    (folder / "avatars" / "acct-jane").mkdir(parents=True)
    (folder / "avatars" / "acct-jane" / "a.png").write_bytes(b"png")
    c = S3Connector(config(), "file://" + str(folder))
    health = c.check()
    assert health.ok and "folder" in health.detail and health.warnings == ()
    assert [m.key for m in c.locate(JANE).matches] == ["avatars/acct-jane/a.png"]


@pytest.mark.parametrize(
    "url", ["file://", "file://relative/hunter2", "file:relative", "file:///tmp/a\x00hunter2", "file:///tmp/\nhunter2"]
)
def test_a_bad_folder_url_is_a_permanent_error(url: str) -> None:
    with pytest.raises(PermanentConnectorError, match="file:///") as info:
        S3Connector(config(), url)
    assert "hunter2" not in str(info.value)


def test_a_missing_folder_fails_check_and_every_operation(tmp_path: Path) -> None:
    c = S3Connector(deletable(), f"file://{tmp_path}/no-such-folder")
    health = c.check()
    assert not health.ok and health.detail == "the folder does not exist (or is not a directory)"
    with pytest.raises(PermanentConnectorError, match="set avatars: the folder does not exist") as info:
        c.locate(JANE)
    assert "no-such-folder" not in str(info.value)
    (tmp_path / "a-file").write_bytes(b"x")
    assert not S3Connector(config(), f"file://{tmp_path}/a-file").check().ok


def test_the_folder_client_answers_as_s3_does(tmp_path: Path) -> None:
    client = FolderClient(tmp_path)
    written = client.put_object(Bucket="any", Key="a/b.jsonl", Body=b"one\n")
    crc = isal_zlib.crc32(b"one\n")
    assert written["ETag"].startswith(f'"{crc:08x}') and written["ETag"].endswith('"')  # opaque, as on S3
    assert client.get_object(Bucket="any", Key="a/b.jsonl")["ETag"] == written["ETag"]  # the same content: the same ETag
    got = client.get_object(Bucket="any", Key="a/b.jsonl", IfMatch=written["ETag"])
    assert got["Body"].read() == b"one\n" and got["ETag"] == written["ETag"] and got["ContentLength"] == 4
    cases: list[tuple[Any, dict[str, Any], str]] = [
        (client.get_object, {"Key": "a/b.jsonl", "IfMatch": '"0"'}, "PreconditionFailed"),
        (client.put_object, {"Key": "a/b.jsonl", "Body": b"two\n", "IfMatch": '"0"'}, "PreconditionFailed"),
        (client.delete_object, {"Key": "a/b.jsonl", "IfMatch": '"0"'}, "PreconditionFailed"),
        (client.get_object, {"Key": "a/missing"}, "NoSuchKey"),
        (client.put_object, {"Key": "a/missing", "Body": b"x", "IfMatch": written["ETag"]}, "NoSuchKey"),
        (client.head_object, {"Key": "a"}, "404"),  # a directory is not an object
    ]
    for call, kw, code in cases:
        with pytest.raises(ClientError) as info:
            call(Bucket="any", **kw)
        assert info.value.response["Error"]["Code"] == code
    assert (tmp_path / "a" / "b.jsonl").read_bytes() == b"one\n"
    assert not (tmp_path / "a" / "missing").exists()
    assert client.put_object(Bucket="any", Key="a/b.jsonl", Body=b"two\n", IfMatch=written["ETag"])["ETag"] != written["ETag"]
    assert client.get_bucket_versioning(Bucket="any") == {} and client.head_bucket(Bucket="any") == {}
    assert client.delete_object(Bucket="any", Key="a/b.jsonl") == {} and client.delete_object(Bucket="any", Key="a/b.jsonl") == {}
    assert list(tmp_path.iterdir()) == []  # the emptied directory went with its last object
    with pytest.raises(ClientError) as info:
        FolderClient(tmp_path / "missing").list_objects_v2(Bucket="any", Prefix="")
    assert info.value.response["Error"]["Code"] == "NoSuchBucket"


def test_a_rewrite_keeps_the_files_permissions(tmp_path: Path) -> None:
    st = Store(folder=tmp_path)
    for key, data in OBJECTS.items():
        st.put(key, data)
    path = tmp_path / "events" / "2024-01.jsonl"
    path.chmod(0o640)
    c = S3Connector(deletable(), st.url)
    located = c.locate(JANE)
    c.erase(located, c.plan_erasure(located))
    assert path.read_bytes() == EVENTS_JAN_WITHOUT_JANE and path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(
    "key",
    [
        "../outside/secret.jsonl",
        "events/../../outside/secret.jsonl",
        "/etc/passwd",
        "events//x",
        "./events/2024-01.jsonl",
        "events/./2024-01.jsonl",
        "events/..",
        "a\x00b",
        "a\\..\\..\\outside",
        "x" * 5000,
        "events/" + "x" * 300,
        "",
    ],
)
def test_the_folder_client_never_reaches_outside_the_folder(tmp_path: Path, key: str) -> None:
    root, outside = tmp_path / "bucket", tmp_path / "outside"
    (root / "events").mkdir(parents=True)
    (root / "events" / "2024-01.jsonl").write_bytes(EVENTS_JAN)
    outside.mkdir()
    (outside / "secret.jsonl").write_bytes(b"secret\n")
    client = FolderClient(root)
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket="any", Key=key)
    assert info.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as info:
        client.head_object(Bucket="any", Key=key)
    assert info.value.response["Error"]["Code"] == "404"
    for call in (client.put_object, client.delete_object):
        with pytest.raises(ClientError) as info:
            call(Bucket="any", Key=key, Body=b"overwritten\n")
        assert info.value.response["Error"]["Code"] in ("InvalidArgument", "AccessDenied")
    assert (outside / "secret.jsonl").read_bytes() == b"secret\n" and sorted(p.name for p in outside.iterdir()) == ["secret.jsonl"]
    assert files_in(root) == ["events/2024-01.jsonl"] and (root / "events" / "2024-01.jsonl").read_bytes() == EVENTS_JAN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bucket", "outside"]


def test_percent_encoded_dots_are_literal_names_inside_the_folder(tmp_path: Path) -> None:
    client = FolderClient(tmp_path / "bucket")
    (tmp_path / "bucket").mkdir()
    client.put_object(Bucket="any", Key="%2e%2e/%2e%2e/x", Body=b"inside")
    assert (tmp_path / "bucket" / "%2e%2e" / "%2e%2e" / "x").read_bytes() == b"inside"
    assert [o["Key"] for o in client.list_objects_v2(Bucket="any", Prefix="%2e%2e/")["Contents"]] == ["%2e%2e/%2e%2e/x"]


def test_symlinks_pointing_outside_the_folder_are_not_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "bucket", tmp_path / "outside"
    st = Store(folder=root)
    for key, data in OBJECTS.items():
        st.put(key, data)
    outside.mkdir()
    (outside / "secret.jsonl").write_bytes(b'{"email": "jane.doe@example.com", "phone": "+49 30 111"}\n')
    (outside / "a.png").write_bytes(b"\x89PNG outside")
    (root / "events" / "leak.jsonl").symlink_to(outside / "secret.jsonl")  # a file link out
    (root / "avatars" / "acct-mallory").symlink_to(outside, target_is_directory=True)  # a directory link out
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "loop").symlink_to(root / "loop")
    c = S3Connector(correctable(), st.url, KEY)
    located = c.locate(JANE)
    assert len(located.matches) == 7 and not [m for m in located.matches if "leak" in m.key]
    assert c.locate(SubjectKeys(account_id="acct-mallory")).matches == ()  # avatars/acct-mallory/ is a link out
    everything = {"prefix": "{email}/", "format": "jsonl", "match": {"email": "email"}, "category": "usage"}  # lists the whole folder
    top = S3Connector(config(avatars={"prefix": "{account_id}/"}, everything=everything), st.url)
    assert top.locate(SubjectKeys(account_id="escape")).matches == () and top.locate(SubjectKeys(account_id="loop")).matches == ()
    keys = [m.key for m in top.locate(JANE).matches if m.entity == "everything"]
    assert "other/events.jsonl#1" in keys and not [k for k in keys if k.startswith(("escape", "loop", "events/leak"))]
    corrections = [Correction("phone", PHONE)]
    c.correct(located, c.plan_correction(located, corrections), corrections)
    c.erase(located, c.plan_erasure(located))
    assert (outside / "secret.jsonl").read_bytes() == b'{"email": "jane.doe@example.com", "phone": "+49 30 111"}\n'
    assert (outside / "a.png").read_bytes() == b"\x89PNG outside" and sorted(p.name for p in outside.iterdir()) == ["a.png", "secret.jsonl"]
    assert (root / "events" / "leak.jsonl").is_symlink() and (root / "avatars" / "acct-mallory").is_symlink()
    client = FolderClient(root)
    for key in ("events/leak.jsonl", "avatars/acct-mallory/a.png", "escape/a.png", "loop", "loop/x"):
        with pytest.raises(ClientError) as info:
            client.get_object(Bucket="any", Key=key)
        assert info.value.response["Error"]["Code"] == "NoSuchKey"
        with pytest.raises(ClientError):
            client.put_object(Bucket="any", Key=key, Body=b"overwritten")
        with pytest.raises(ClientError):
            client.delete_object(Bucket="any", Key=key)
    assert (outside / "secret.jsonl").read_bytes().startswith(b'{"email"') and (outside / "a.png").read_bytes() == b"\x89PNG outside"
    # a symlink to a file inside the folder is an object like any other
    (root / "events" / "latest.jsonl").symlink_to(root / "events" / "2024-02.jsonl")
    assert client.get_object(Bucket="any", Key="events/latest.jsonl")["Body"].read() == st.body("events/2024-02.jsonl")


# --- key patterns (blob sets with pattern instead of prefix) --------------------------------

PATTERN_OBJECTS: dict[str, bytes] = {
    "profiles/acct-jane.json": b'{"name": "Jane"}',
    "profiles/acct-jane.json.bak": b"a backup: the pattern is matched whole",
    "profiles/acct-jane-2.json": b'{"name": "someone whose id starts like Jane\'s"}',
    "profiles/old/acct-jane.json": b"one segment deeper",
    "profiles/42.json": b"42",
    "profiles/420.json": b"420",
    "profiles/*.json": b"a key with a literal asterisk",
    "profiles/..json": b"dots",
    "profiles/x.json": b"x",
    "bills/2024/acct-jane/a.pdf": b"%PDF jane 2024",
    "bills/2025/acct-jane/b.pdf": b"%PDF jane 2025",
    "bills/2024/acct-jane/a.txt": b"not a pdf",
    "bills/2024/acct-jane/sub/c.pdf": b"* never crosses /",
    "bills/2024/acct-jane-2/a.pdf": b"%PDF someone else",
    "bills/acct-jane/a.pdf": b"%PDF a segment short",
    "receipts/acct-jane#1.pdf": b"%PDF jane receipt 1",
    "receipts/acct-jane#.pdf": b"%PDF jane receipt, * may be empty",
    "receipts/acct-jane-2#1.pdf": b"%PDF someone else",
    "receipts/42#x.pdf": b"42",
    "receipts/420#x.pdf": b"420",
}
JANE_BY_PATTERN = {
    "profiles": ["profiles/acct-jane.json"],
    "bills": ["bills/2024/acct-jane/a.pdf", "bills/2025/acct-jane/b.pdf"],
    "receipts": ["receipts/acct-jane#.pdf", "receipts/acct-jane#1.pdf"],
}


def patterned(**overrides: Any) -> S3System:
    """The deletable sets plus three pattern sets: exact (profiles), wildcards in two segments
    (bills) and a placeholder ended by a character no identifier holds (receipts)."""
    return config(
        invoices=None,
        notes=None,
        profiles={"pattern": "profiles/{account_id}.json", "category": "profile", "erase": "delete"},
        bills={"pattern": "bills/*/{account_id}/*.pdf", "category": "commercial", "erase": "delete"},
        receipts={"pattern": "receipts/{account_id}#*.pdf", "category": "commercial", "erase": "delete"},
        **overrides,
    )


def put_patterned(store: Store) -> None:
    for key, data in PATTERN_OBJECTS.items():
        store.put(key, data)


class Listings:
    """A client (moto or folder) that records the prefix of every listing."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.prefixes: list[str] = []

    def list_objects_v2(self, **kw: Any) -> Any:
        self.prefixes.append(kw.get("Prefix", ""))
        return self.inner.list_objects_v2(**kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def client_of(store: Store) -> Any:
    return store.client if store.folder is None else FolderClient(store.folder)


def by_entity(found: LocateResult, *entities: str) -> dict[str, list[str]]:
    return {e: [m.key for m in found.matches if m.entity == e] for e in entities}


def test_pattern_sets_match_whole_keys_exactly_and_with_wildcards(store: Store) -> None:
    put_patterned(store)
    c = S3Connector(patterned(), store.url)
    found = c.locate(JANE)
    assert by_entity(found, "profiles", "bills", "receipts") == JANE_BY_PATTERN
    assert {m.matched_on for m in found.matches if m.entity in JANE_BY_PATTERN} == {("account_id",)}
    assert by_entity(c.locate(SubjectKeys(account_id="acct-jane-2")), "profiles", "bills", "receipts") == {
        "profiles": ["profiles/acct-jane-2.json"],
        "bills": ["bills/2024/acct-jane-2/a.pdf"],
        "receipts": ["receipts/acct-jane-2#1.pdf"],
    }
    # the prefix sets find what they found before
    assert [m.key for m in found.matches if m.entity == "avatars"] == ["avatars/acct-jane/a.png", "avatars/acct-jane/b.png"]
    # a subject without an account id is skipped by sets whose pattern needs one
    assert {m.entity for m in c.locate(SubjectKeys(emails=("jane.doe@example.com",))).matches} == {"events"}


def test_a_pattern_never_matches_an_identifier_that_merely_starts_with_the_subjects(store: Store) -> None:
    put_patterned(store)
    c = S3Connector(patterned(), store.url)
    assert by_entity(c.locate(SubjectKeys(account_id="42")), "profiles", "bills", "receipts") == {
        "profiles": ["profiles/42.json"],
        "bills": [],
        "receipts": ["receipts/42#x.pdf"],
    }
    assert [m.key for m in c.locate(SubjectKeys(account_id="420")).matches] == ["profiles/420.json", "receipts/420#x.pdf"]
    assert c.locate(SubjectKeys(account_id="4")).matches == ()


def test_a_pattern_set_lists_only_under_its_literal_part(store: Store) -> None:
    put_patterned(store)
    client = Listings(client_of(store))
    c = S3Connector(patterned(avatars=None, events=None), store.url, client=client)
    c.locate(SubjectKeys(emails=("jane.doe@example.com",), account_id="acct-jane"))
    # filled up to the first wildcard: exactly the subject's key for profiles, the literal part for the others
    assert sorted(client.prefixes) == ["bills/", "profiles/acct-jane.json", "receipts/acct-jane#"]
    client.prefixes.clear()
    for hostile in HOSTILE:
        c.locate(SubjectKeys(account_id=hostile))
    assert client.prefixes and all(p.startswith(("bills/", "profiles/", "receipts/")) for p in client.prefixes)
    # with a root prefix, under the root
    if store.folder is None:
        client = Listings(store.client)
        S3Connector(patterned(avatars=None, events=None), f"{URL}/tenant-a", client=client).locate(JANE)
        assert sorted(client.prefixes) == ["tenant-a/bills/", "tenant-a/profiles/acct-jane.json", "tenant-a/receipts/acct-jane#"]


def test_pattern_sets_are_exported_like_prefix_sets(store: Store) -> None:
    put_patterned(store)
    c = S3Connector(patterned(), store.url)
    records = {r.key: r for r in c.export(c.locate(JANE)) if r.entity in JANE_BY_PATTERN}
    assert sorted(records) == sorted(k for keys in JANE_BY_PATTERN.values() for k in keys)
    profile = records["profiles/acct-jane.json"]
    assert set(profile.fields) == {"key", "size", "last_modified", "content_type"}
    assert profile.content == b'{"name": "Jane"}' and profile.categories["key"] == "profile"
    assert records["receipts/acct-jane#1.pdf"].content == b"%PDF jane receipt 1"
    assert "someone" not in repr(records) and "backup" not in repr(records)


def test_erasing_a_pattern_set_deletes_exactly_the_subjects_objects(store: Store) -> None:
    put_patterned(store)
    c = S3Connector(patterned(), store.url)
    located = c.locate(JANE)
    plan = c.plan_erasure(located)
    assert [(a.entity, a.action, a.rows) for a in plan] == [
        ("avatars", "delete", 2),
        ("events", "delete", 5),
        ("profiles", "delete", 1),
        ("bills", "delete", 2),
        ("receipts", "delete", 2),
    ]
    before = store.keys()
    assert c.erase(located, plan).counts["bills"] == {"delete": 2}
    gone = {k for keys in JANE_BY_PATTERN.values() for k in keys}
    assert set(before) - set(store.keys()) == gone | {"avatars/acct-jane/a.png", "avatars/acct-jane/b.png", "events/2024-03.jsonl"}
    for key in set(PATTERN_OBJECTS) - gone:
        assert store.body(key) == PATTERN_OBJECTS[key], key
    assert c.erase(located, plan).total == 0 and by_entity(c.locate(JANE), *JANE_BY_PATTERN) == {e: [] for e in JANE_BY_PATTERN}


def test_erasing_a_pattern_set_in_a_versioned_bucket_removes_every_version(vs3: Any) -> None:
    for data in (b"v1", b"v2"):
        vs3.put_object(Bucket=BUCKET, Key="profiles/acct-jane.json", Body=data)
        vs3.put_object(Bucket=BUCKET, Key="bills/2024/acct-jane/a.pdf", Body=data)
        vs3.put_object(Bucket=BUCKET, Key="profiles/acct-jane-2.json", Body=data)
    vs3.delete_object(Bucket=BUCKET, Key="bills/2024/acct-jane/a.pdf")  # a delete marker
    for key, data in PATTERN_OBJECTS.items():
        vs3.put_object(Bucket=BUCKET, Key=key, Body=data)
    assert [len(x) for x in versions_of(vs3, "bills/2024/acct-jane/a.pdf")] == [3, 1]
    c = S3Connector(patterned(), URL, client=SmallPages(vs3))
    located = c.locate(JANE)
    receipt = c.erase(located, c.plan_erasure(located))
    assert {e: receipt.counts[e] for e in JANE_BY_PATTERN} == {e: {"delete": len(k)} for e, k in JANE_BY_PATTERN.items()}
    for keys in JANE_BY_PATTERN.values():
        for key in keys:
            assert versions_of(vs3, key) == ([], []), key
    assert len(versions_of(vs3, "profiles/acct-jane-2.json")[0]) == 3  # another subject's versions stay
    assert versions_of(vs3, "profiles/acct-jane.json.bak")[0] != [] and versions_of(vs3, "bills/2024/acct-jane/sub/c.pdf")[0] != []


@pytest.mark.parametrize("hostile", HOSTILE + [".*", "acct-jane.json", "acct-jane#", "*/acct-jane", "4?", "[0-9]+", "42|420"])
def test_hostile_identity_values_match_nothing_in_pattern_sets(store: Store, hostile: str) -> None:
    put_patterned(store)
    c = S3Connector(patterned(), store.url)
    located = c.locate(SubjectKeys(emails=(hostile,), account_id=hostile, phone=hostile))
    assert located.matches == ()
    assert c.erase(located, c.plan_erasure(located)).total == 0 and list(c.export(located)) == []
    assert len(store.keys()) == len(OBJECTS) + len(PATTERN_OBJECTS)
    assert by_entity(c.locate(JANE), *JANE_BY_PATTERN) == JANE_BY_PATTERN  # the real subject is still found


IDENTIFIERS = ["4", "42", "420", "42-7", "42.7", "acct-jane", "acct-jane-2", "a", "a.b", "a@b.c", "jane+x@example.com", "%41"]
CROSS_PATTERNS = {
    "exact": "p/{account_id}.json",
    "wild": "w/*/{account_id}/*",
    "hash": "h/{account_id}#*.pdf",
    "tail": "t/pre-{account_id}",
    "two": "m/{account_id}#{email}.zip",
    "email": "e/*/{email}",
}


def test_no_valid_pattern_matches_one_subjects_key_for_another(store: Store) -> None:
    """Keys written for each identifier (wildcards filled with text that looks like more of an
    identifier) are located for exactly the subject they were written for."""
    sets = {name: {"pattern": p, "category": "x", "erase": "delete"} for name, p in CROSS_PATTERNS.items()}
    c = S3Connector(config(avatars=None, events=None, invoices=None, notes=None, **sets), store.url)
    owner: dict[str, str] = {}
    for ident in IDENTIFIERS:
        q = quote(ident, safe="@.+-_")
        for fill in ("", "0", "-7", ".json", "#x"):
            for key in (
                f"p/{q}.json",
                f"w/{fill or 'y'}/{q}/{fill or 'z'}",
                f"h/{q}#{fill}.pdf",
                f"t/pre-{q}",
                f"m/{q}#{q}.zip",
                f"e/{fill or 'y'}/{q}",
            ):
                assert owner.setdefault(key, ident) == ident
    for key in owner:
        store.put(key, b"x")
    for ident in IDENTIFIERS:
        found = {m.key for m in c.locate(SubjectKeys(emails=(ident,), account_id=ident)).matches}
        assert found == {k for k, o in owner.items() if o == ident}, ident


@pytest.mark.parametrize(
    "pattern",
    [
        "profiles/{account_id}.json",
        "invoices/*/{account_id}/*.pdf",
        "receipts/{account_id}#*.pdf",
        "r/{account_id} *.pdf",
        "r/{account_id}=*",
        "x/{account_id}",
        "{email}/",
        "a/{account_id}#{email}.zip",
        "a/pre-{account_id}.json",
        "a/*/{email}",
        "a/*_*/{phone}/*-*",
    ],
)
def test_valid_patterns(pattern: str) -> None:
    assert config(avatars={"prefix": None, "pattern": pattern}).objects["avatars"].pattern == pattern


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"pattern": "profiles/{account_id}.json"}, "exactly one of prefix .* or pattern"),  # and the prefix
        ({"prefix": None}, "exactly one of prefix"),
        ({"prefix": None, "pattern": "profiles/*.json"}, "blob set's pattern needs a placeholder"),
        ({"prefix": None, "pattern": "invoices/*/{account_id}-*.pdf"}, "must end where the identifier ends"),
        ({"prefix": None, "pattern": "x/{account_id}*"}, "must end where the identifier ends"),
        ({"prefix": None, "pattern": "x/{account_id}.*.json"}, "must end where the identifier ends"),
        ({"prefix": None, "pattern": "x/{account_id}{email}"}, "must end where the identifier ends"),
        ({"prefix": None, "pattern": "x/{account_id}.{email}.json"}, "must end where the identifier ends"),
        ({"prefix": None, "pattern": "x/{account_id}_{email}/"}, "must end where the identifier ends"),
        ({"prefix": None, "pattern": "x/*{account_id}.json"}, "a '\\*' before placeholder"),
        ({"prefix": None, "pattern": "x/a*b#{account_id}/"}, "a '\\*' before placeholder"),
        ({"prefix": None, "pattern": "x/{account_id}/**.pdf"}, "never two in a row"),
        ({"prefix": None, "pattern": "x/{account_id}/*a*b*"}, "at most 2"),
        ({"prefix": None, "pattern": "x/{ssn}.json"}, "not one of"),
        ({"prefix": None, "pattern": "x/{account_id.json"}, "unbalanced brace"),
        ({"prefix": None, "pattern": "x/\n{account_id}.json"}, "control characters"),
        ({"prefix": None, "pattern": ""}, "at least 1 character"),
    ],
)
def test_implausible_patterns_are_refused_with_a_reason(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        config(avatars=patch)


def test_patterns_are_for_blob_sets_only() -> None:
    with pytest.raises(ValidationError, match="pattern is for blob sets only"):
        config(events={"prefix": None, "pattern": "events/{email}.jsonl"})


def test_the_pattern_rule_is_explained() -> None:
    with pytest.raises(ValidationError) as info:
        config(avatars={"prefix": None, "pattern": "invoices/*/{account_id}-*.pdf"})
    text = str(info.value)
    assert "42-7" in text and "profiles/{account_id}.json" in text and "@ . + - _ ~ %" in text and "'/'" in text


def test_a_located_key_outside_a_patterns_layout_is_refused(store: Store) -> None:
    put_patterned(store)
    c = S3Connector(patterned(), store.url)
    for entity, key in (
        ("profiles", "profiles/acct-jane.json.bak"),
        ("profiles", "profiles/old/acct-jane.json"),
        ("profiles", "profiles/*.json"),
        ("bills", "bills/2024/acct-jane/sub/c.pdf"),
        ("bills", "bills/acct-jane/a.pdf"),
        ("bills", "bills/2024/acct-jane/a.txt"),
        ("receipts", "receipts/acct-jane.pdf"),
        ("receipts", "avatars/acct-jane/a.png"),
    ):
        forged = LocateResult("app-s3", (Match(entity, key, ("account_id",)),))
        with pytest.raises(PermanentConnectorError, match="does not fit the set's pattern") as info:
            c.erase(forged, [ErasureAction(entity, "delete", 1)])
        assert "jane" not in str(info.value)
        with pytest.raises(PermanentConnectorError, match="does not fit"):
            list(c.export(forged))
    assert len(store.keys()) == len(OBJECTS) + len(PATTERN_OBJECTS)


def test_a_jsonl_set_s_fields_give_categories_descriptions_and_withhold_marks_to_the_package(store: Store) -> None:
    """A jsonl set names its lines' fields like an SQL entity's: each field's category on the
    exported record, its description in the package's index, and `withhold` keeping it out of the
    package (redaction's marks and the index read the same data map)."""
    from dsar.domain.texts import LocalText
    from dsar.services.redaction import Redactor, field_maps

    system = config(
        events={
            "fields": {
                "event": {"category": "activity", "description": {"en": "What you did", "de": "Was Sie getan haben"}},
                "total": {"category": "payment", "withhold": "financial_account"},
            }
        }
    )
    c = S3Connector(system, store.url)
    events = [r for r in c.export(c.locate(JANE)) if r.entity == "events"]
    assert events[1].categories == {"email": "usage", "event": "activity", "total": "payment"}
    redactor = Redactor.for_system(system)
    kept = [redactor.fields(r.entity, r.fields) for r in events]
    assert all("total" not in k for k in kept) and kept[1] == {"email": "jane.doe@example.com", "event": "purchase"}
    assert redactor.withheld_fields == {"events": {"total": "financial_account"}}
    known = field_maps(system)["events"]
    described = known["event"].description
    assert isinstance(described, LocalText) and described == "What you did" and described.in_language("de") == "Was Sie getan haben"


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"fields": {"content_type": {"category": "x", "withhold": "credential"}}}, "fields is for jsonl sets only"),
    ],
)
def test_fields_belong_to_jsonl_sets_only(patch: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        config(avatars=patch)


@pytest.mark.parametrize("field", [{"category": "usage", "correctable": "phone"}, {"category": "usage", "erase": "pseudonymise"}])
def test_a_jsonl_field_takes_no_erasure_or_correction_of_its_own(field: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="a jsonl line is deleted or kept whole"):
        config(events={"fields": {"event": field}})


def test_a_folder_object_changed_in_place_while_it_is_read_fails_the_read(tmp_path: Path) -> None:
    from botocore.exceptions import BotoCoreError

    client = FolderClient(tmp_path)
    client.put_object(Bucket="any", Key="a/doc.bin", Body=b"x" * 3_000_000)
    got = client.get_object(Bucket="any", Key="a/doc.bin")
    assert got["Body"].read(1000) == b"x" * 1000  # read straight from the file, no copy made
    with (tmp_path / "a" / "doc.bin").open("r+b") as f:  # another program rewrites it in place
        f.seek(2_000_000)
        f.write(b"y")
    with pytest.raises(BotoCoreError):
        got["Body"].read()
    got["Body"].close()
    again = client.get_object(Bucket="any", Key="a/doc.bin")  # read again: the new content, with its own ETag
    assert again["ETag"] != got["ETag"] and again["Body"].read().count(b"y") == 1
