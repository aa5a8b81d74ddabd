"""KMS envelope encryption and S3 Object Lock through moto; key rotation of the local ring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from sqlalchemy import text

from dsar.app import App, build_app, build_checkpoint_archive, build_signer
from dsar.crypto import KmsKeyProvider, LocalKeyProvider, new_data_key
from dsar.demo.run import latest_code
from dsar.domain.errors import ConfigurationError, IntegrityError
from dsar.domain.request import PrivacyRequest
from dsar.services import audit, processing
from dsar.services.intake import log_request
from dsar.services.keys import key_ids_in_use, rewrap_all
from tests.conftest import build_migrated_app, make_settings


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-central-1",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def submission(name: str = "Jane Doe", email: str = "jane.doe@example.com") -> dict[str, Any]:
    return {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": name, "emails": [email]}}


def verified(app: App, raw: dict[str, Any]) -> PrivacyRequest:
    """Log and verify a request with the code from the outbox (records its verified contact's
    blind-index token)."""
    from dsar.demo.shop import seed_shop

    seed_shop(app.settings.demo_shop_path)  # the system of record verification looks the subject up in
    r = log_request(app.ctx, raw).request
    processing.start_verification(app.ctx, r.id)
    code = latest_code(app.settings.effective_outbox_dir, r.reference)
    assert code is not None
    assert processing.confirm_code(app.ctx, r.id, code) is processing.VerificationOutcome.VERIFIED
    return r


def linked_to(app: App, request_id: str) -> str | None:
    with app.ctx.uow() as uow:
        return uow.requests.facts(request_id).linked_to


# --- KMS ------------------------------------------------------------------------------------


def test_kms_wraps_and_unwraps_bound_to_the_request(aws: None, tmp_path: Path) -> None:
    kms = boto3.client("kms")
    key = kms.create_key(Description="dsar test")["KeyMetadata"]["KeyId"]
    provider = KmsKeyProvider(kms, key, tmp_path / "derive.bin")
    dk = new_data_key()
    wrapped = provider.wrap(dk, b"request-key/r1")
    assert dk not in wrapped
    assert provider.unwrap(wrapped, b"request-key/r1") == dk
    with pytest.raises(IntegrityError):
        provider.unwrap(wrapped, b"request-key/r2")  # another request's context
    # keyed hashes are stable across instances (the derivation secret is kept KMS-encrypted)
    again = KmsKeyProvider(kms, key, tmp_path / "derive.bin")
    assert again.derive("blind-index") == provider.derive("blind-index")
    assert dk not in (tmp_path / "derive.bin").read_bytes()


def test_the_engine_runs_on_kms_and_moves_local_keys_to_it(aws: None, tmp_path: Path) -> None:
    home = tmp_path / "home"
    local = build_migrated_app(make_settings(home))
    before = verified(local, submission())
    local_key_id = next(iter(key_ids_in_use(local.ctx)))
    local.engine.dispose()

    key = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
    on_kms = build_app(make_settings(home, kms_key_id=key))
    with on_kms.ctx.uow() as uow:
        assert uow.requests.get(before.id).subject.name == "Jane Doe"  # the legacy ring still unwraps
    after = log_request(on_kms.ctx, submission("Max Mustermann", "max.mustermann@example.de")).request
    assert key_ids_in_use(on_kms.ctx) == {local_key_id, f"kms:{key}"}
    assert rewrap_all(on_kms.ctx) == 1
    assert key_ids_in_use(on_kms.ctx) == {f"kms:{key}"}
    with on_kms.ctx.uow() as uow:
        assert uow.requests.get(before.id).subject.name == "Jane Doe"
        assert uow.requests.get(after.id).subject.name == "Max Mustermann"
    # blind-index tokens did not change: a repeat verified with the same address is still linked to it
    assert linked_to(on_kms, verified(on_kms, submission()).id) == before.id
    on_kms.engine.dispose()


def test_kms_unavailable_is_a_configuration_error(aws: None, tmp_path: Path) -> None:
    provider = KmsKeyProvider(boto3.client("kms"), "alias/does-not-exist", tmp_path / "d.bin")
    with pytest.raises(ConfigurationError, match="KMS encrypt failed"):
        provider.wrap(new_data_key(), b"ctx")


# --- local key rotation ---------------------------------------------------------------------


def test_local_rotation_rewraps_every_key_and_retires_unused_ones(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = make_settings(home)
    app = build_migrated_app(settings)
    first = verified(app, submission())
    original = next(iter(key_ids_in_use(app.ctx)))
    token_key = LocalKeyProvider.from_file(settings.effective_key_file).derive("blind-index")
    app.engine.dispose()

    middle = LocalKeyProvider.rotate_file(settings.effective_key_file)
    assert middle.key_id != original and set(middle.key_ids) == {original, middle.key_id}
    app = build_app(settings)
    assert rewrap_all(app.ctx) == 1
    assert key_ids_in_use(app.ctx) == {middle.key_id}
    app.engine.dispose()

    newest = LocalKeyProvider.rotate_file(settings.effective_key_file)
    app = build_app(settings)
    assert rewrap_all(app.ctx) == 1
    assert rewrap_all(app.ctx) == 0  # safe to run again
    assert key_ids_in_use(app.ctx) == {newest.key_id}
    # the middle key wraps nothing any more and goes; the first stays only to derive the
    # keyed hashes (blind index, codes), which must not change
    assert newest.retire_file(settings.effective_key_file, key_ids_in_use(app.ctx)) == [middle.key_id]
    ring = LocalKeyProvider.from_file(settings.effective_key_file, create=False)
    assert set(ring.key_ids) == {original, newest.key_id}
    assert ring.derive("blind-index") == token_key
    app.engine.dispose()

    fresh = build_app(settings)
    with fresh.ctx.uow() as uow:
        assert uow.requests.get(first.id).subject.name == "Jane Doe"
    assert linked_to(fresh, verified(fresh, submission()).id) == first.id  # tokens unchanged
    assert (settings.effective_key_file.stat().st_mode & 0o777) == 0o600
    fresh.engine.dispose()


def test_a_key_file_of_the_first_format_still_loads(tmp_path: Path) -> None:
    import base64
    import os

    path = tmp_path / "master.key"
    path.write_text(json.dumps({"version": 1, "key_id": "local-old", "master_key": base64.b64encode(os.urandom(32)).decode()}))
    ring = LocalKeyProvider.from_file(path)
    assert ring.key_id == "local-old"
    assert ring.unwrap(ring.wrap(b"k" * 32, b"c"), b"c") == b"k" * 32


def test_a_data_key_under_an_unknown_master_key_is_refused(tmp_path: Path) -> None:
    a = LocalKeyProvider.from_file(tmp_path / "a.key")
    b = LocalKeyProvider.from_file(tmp_path / "b.key")
    with pytest.raises(IntegrityError, match="not in the key ring"):
        b.unwrap(a.wrap(new_data_key(), b"c"), b"c")


# --- Object Lock ----------------------------------------------------------------------------


def test_checkpoints_are_archived_under_compliance_object_lock(aws: None, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(
        Bucket="dsar-checkpoints", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}, ObjectLockEnabledForBucket=True
    )
    app = build_migrated_app(make_settings(tmp_path / "home", checkpoint_bucket="dsar-checkpoints", checkpoint_retention_days=30))
    log_request(app.ctx, submission())
    archive = build_checkpoint_archive(app)
    assert archive is not None
    cp = audit.sign_checkpoint(app.ctx, build_signer(app), archive)
    assert cp.archived_as is not None and cp.archived_as.startswith("s3://dsar-checkpoints/dsar/checkpoints/")
    key, _, version = cp.archived_as.removeprefix("s3://dsar-checkpoints/").partition("?versionId=")
    head = s3.head_object(Bucket="dsar-checkpoints", Key=key, VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    days = (head["ObjectLockRetainUntilDate"] - datetime.now(UTC)).days
    assert 28 <= days <= 30  # the configured 30 days
    stored = json.loads(s3.get_object(Bucket="dsar-checkpoints", Key=key)["Body"].read())
    assert json.loads(cp.statement) == stored["statement"] and stored["signature"] == cp.signature
    with pytest.raises(ClientError):
        s3.delete_object(Bucket="dsar-checkpoints", Key=key, VersionId=version)  # history cannot be rewritten
    with app.engine.connect() as c:
        assert c.execute(text("SELECT archived_as FROM audit_checkpoint")).scalar_one() == cp.archived_as
    app.engine.dispose()


def test_a_bucket_without_object_lock_is_refused(aws: None, tmp_path: Path) -> None:
    boto3.client("s3").create_bucket(Bucket="plain", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    app = build_migrated_app(make_settings(tmp_path / "home", checkpoint_bucket="plain"))
    with pytest.raises(ConfigurationError, match="Object Lock"):
        build_checkpoint_archive(app)
    app.engine.dispose()
