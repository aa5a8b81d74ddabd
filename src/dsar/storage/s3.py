"""Checkpoints written to an S3 bucket with Object Lock in compliance mode: once written, no
one — not even the account's root user — can delete or overwrite them before their retention
date, so the signed history of the audit log cannot be rewritten."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dsar.domain.errors import ConfigurationError
from dsar.services.ports import CheckpointArchive


class S3ObjectLockArchive(CheckpointArchive):
    def __init__(
        self, client: Any, bucket: str, retention_days: int, prefix: str = "dsar/", clock: Callable[[], datetime] | None = None
    ) -> None:
        self._s3, self._bucket, self._days, self._prefix = client, bucket, retention_days, prefix
        self._clock = clock or (lambda: datetime.now(UTC))

    def check(self) -> None:
        """The bucket must exist with Object Lock enabled, or checkpoints would be deletable."""
        from botocore.exceptions import ClientError  # type: ignore[import-untyped]

        try:
            conf = self._s3.get_object_lock_configuration(Bucket=self._bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise ConfigurationError(f"checkpoint bucket {self._bucket}: Object Lock is not available ({code})") from None
        if conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise ConfigurationError(f"checkpoint bucket {self._bucket} does not have Object Lock enabled")

    def put(self, name: str, document: bytes) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._prefix + name
        try:
            result = self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=document,
                ContentType="application/json",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=self._clock() + timedelta(days=self._days),
                ChecksumAlgorithm="SHA256",
            )
        except ClientError as exc:
            raise ConfigurationError(f"could not archive the checkpoint ({exc.response.get('Error', {}).get('Code', 'error')})") from None
        except BotoCoreError as exc:
            raise ConfigurationError(f"could not archive the checkpoint ({type(exc).__name__})") from None
        return f"s3://{self._bucket}/{key}?versionId={result.get('VersionId', '')}"
