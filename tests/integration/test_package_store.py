"""Where packages are kept: S3 with SSE-KMS (through moto) and the local folder; a stream
interrupted mid-write leaves no object; the whole access request with its package on S3; and
`dsar packages purge`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from dsar.app import build_app
from dsar.services import package
from dsar.services.intake import log_request
from dsar.storage.streams import PART_SIZE, LocalStreamStore, S3StreamStore
from tests.conftest import build_migrated_app, make_settings
from tests.integration.test_processing import run_everything_once
from tests.packages import download


def packages_left(objects: Path) -> list[Path]:
    """Sealed objects in the local store other than the letters' PDFs (kept, sealed under the
    request's key, for the evidence bundle until the request's key is shredded)."""
    return [p for p in objects.rglob("*.sealed") if "letters" not in p.relative_to(objects).parts]


BUCKET = "dsar-packages"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-central-1",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        yield boto3.client("kms").create_key(Description="packages")["KeyMetadata"]["KeyId"]


def test_s3_streams_are_multipart_uploads_under_sse_kms(aws: str) -> None:
    s3 = boto3.client("s3")
    store = S3StreamStore(s3, BUCKET, aws)
    data = os.urandom(2 * PART_SIZE + 12345)
    with store.writer("packages/r1/package.zip.sealed") as sink:
        for i in range(0, len(data), 1 << 20):
            sink.write(data[i : i + (1 << 20)])
    head = s3.head_object(Bucket=BUCKET, Key="dsar-streams/packages/r1/package.zip.sealed")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith(aws)
    with store.reader("packages/r1/package.zip.sealed") as src:
        assert src.read() == data
    assert store.keys("packages/") == ["packages/r1/package.zip.sealed"]
    assert store.delete("packages/r1/package.zip.sealed") and not store.exists("packages/r1/package.zip.sealed")


def test_an_interrupted_upload_leaves_no_object_and_no_upload(aws: str) -> None:
    s3 = boto3.client("s3")
    store = S3StreamStore(s3, BUCKET, aws)
    with pytest.raises(RuntimeError, match="crash"), store.writer("packages/r1/package.zip.sealed") as sink:
        sink.write(os.urandom(PART_SIZE + 10))
        raise RuntimeError("crash")
    assert not store.exists("packages/r1/package.zip.sealed")
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_a_local_stream_interrupted_leaves_nothing(tmp_path: Path) -> None:
    store = LocalStreamStore(tmp_path)
    with pytest.raises(RuntimeError), store.writer("packages/r1/p") as sink:
        sink.write(b"half")
        raise RuntimeError("crash")
    assert not store.exists("packages/r1/p") and [p for p in tmp_path.rglob("*") if p.is_file()] == []
    with store.writer("packages/r1/p") as sink:
        sink.write(b"whole")
    assert (tmp_path / "packages/r1/p").stat().st_mode & 0o777 == 0o600


def test_an_access_request_with_its_package_on_s3(aws: str, home: Path) -> None:
    from dsar.demo.shop import seed_shop

    settings = make_settings(home, package_bucket=BUCKET, package_kms_key_id=aws)
    seed_shop(settings.demo_shop_path)
    app = build_migrated_app(settings)
    try:
        r = log_request(
            app.ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane", "emails": ["jane.doe@example.com"]}}
        ).request
        run_everything_once(app, r.id, r.reference)
        keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        assert keys == [f"dsar-streams/packages/{r.id}/package.zip.sealed"]  # the spools are gone
        files = download(app.ctx, settings.effective_outbox_dir, r.reference)
        assert any(n.endswith("shop/customer.json") for n in files)
        assert not packages_left(settings.effective_object_store_dir)  # nothing local
    finally:
        app.engine.dispose()


def test_packages_purge_from_the_command_line(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dsar.cli import app as cli
    from dsar.demo.shop import seed_shop

    settings = make_settings(home)
    seed_shop(settings.demo_shop_path)
    engine = build_migrated_app(settings)
    try:
        r = log_request(
            engine.ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "J", "emails": ["jane.doe@example.com"]}}
        ).request
        run_everything_once(engine, r.id, r.reference)
        download(engine.ctx, settings.effective_outbox_dir, r.reference)  # the link is spent
    finally:
        engine.engine.dispose()
    for name, value in {
        "DSAR_HOME": str(home),
        "DSAR_DATA_MAP_DIR": str(settings.data_map_dir),
        "DSAR_TEMPLATES_DIR": str(settings.templates_dir),
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["packages", "purge", "--json"])
    assert result.exit_code == 0, result.output
    assert '"deleted": 1' in result.output
    again = build_app(settings)
    try:
        with again.ctx.uow() as uow:
            kinds = [e.kind for e in uow.audit.events(r.id)]
            assert uow.packages.for_request(r.id) is None
        assert kinds[-1] == "PackageDeleted"
        assert not packages_left(settings.effective_object_store_dir)
        assert package.purge_packages(again.ctx) == 0
    finally:
        again.engine.dispose()


def test_the_deadline_watch_deletes_expired_packages(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.utilities.importtools import import_object

    from dsar.demo.shop import seed_shop
    from dsar.orchestration import runtime
    from dsar.resources import entrypoint

    settings = make_settings(home, package_link_days=1, package_keep_days=0)
    seed_shop(settings.demo_shop_path)
    app = build_migrated_app(settings)
    try:
        r = log_request(
            app.ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "J", "emails": ["jane.doe@example.com"]}}
        ).request
        run_everything_once(app, r.id, r.reference)
        purge_task = import_object(entrypoint("deadline_watch.py", "purge_packages"))
        monkeypatch.setattr(runtime, "_app", app)  # the flow process's engine: this one
        assert purge_task.fn() == 0  # the link still works
        later = app.ctx.clock() + timedelta(days=1, seconds=1)
        monkeypatch.setattr(runtime, "_app", replace(app, ctx=replace(app.ctx, clock=lambda: later)))
        assert purge_task.fn() == 1
        with app.ctx.uow() as uow:
            (deleted,) = [e.details for e in uow.audit.events(r.id) if e.kind == "PackageDeleted"]
        assert deleted["reason"] == "expired" and not packages_left(settings.effective_object_store_dir)
    finally:
        app.engine.dispose()
