"""Stream stores (:class:`dsar.services.streams.StreamStore`): a local folder, or an S3
bucket with SSE-KMS.

Local: written to a temporary file beside the target (0600) and renamed into place when
complete, so a crash leaves the old stream or none. S3: a multipart upload, every part
encrypted by S3 under the configured KMS key (``ServerSideEncryption=aws:kms``) on top of the
engine's own sealing; it is completed only when the writer's block ends without an error, and
aborted otherwise, so no half-written object ever exists.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from dsar.domain.errors import ConfigurationError, InvalidInput, NotFound
from dsar.services.streams import StreamStore

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


def checked_key(key: str) -> str:
    if len(key) > 300 or not _KEY.match(key) or ".." in key.split("/"):
        raise InvalidInput("stream key is not allowed", ["key: letters, digits, . _ - and / only"])
    return key


class LocalStreamStore(StreamStore):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / checked_key(key)

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb", buffering=1 << 20) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        path = self._path(key)
        try:
            fh = path.open("rb", buffering=1 << 20)
        except FileNotFoundError:
            raise NotFound(f"no stream {key}") from None
        with fh:
            yield fh

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys(self, prefix: str) -> list[str]:
        base = self.root
        if not base.is_dir():
            return []
        out = []
        for p in base.rglob("*"):
            if p.is_file() and not p.name.startswith(".tmp-"):
                k = p.relative_to(base).as_posix()
                if k.startswith(prefix):
                    out.append(k)
        return sorted(out)


PART_SIZE = 8 << 20  # S3 parts (at least 5 MiB but the last)


class _MultipartSink:
    def __init__(self, client: Any, bucket: str, key: str, upload_id: str) -> None:
        self._s3, self._bucket, self._key, self._upload = client, bucket, key, upload_id
        self._buf = bytearray()
        self.parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> int:
        self._buf += data
        while len(self._buf) >= PART_SIZE:
            self._send(bytes(self._buf[:PART_SIZE]))
            del self._buf[:PART_SIZE]
        return len(data)

    def _send(self, body: bytes) -> None:
        n = len(self.parts) + 1
        r = self._s3.upload_part(Bucket=self._bucket, Key=self._key, UploadId=self._upload, PartNumber=n, Body=body)
        self.parts.append({"PartNumber": n, "ETag": r["ETag"]})

    def finish(self) -> None:
        if self._buf or not self.parts:
            self._send(bytes(self._buf))
            self._buf = bytearray()


class S3StreamStore(StreamStore):
    """Streams in ``bucket`` under ``prefix``, encrypted at rest by S3 with the KMS key."""

    def __init__(self, client: Any, bucket: str, kms_key_id: str | None, prefix: str = "dsar-streams/") -> None:
        self._s3, self._bucket, self._kms, self._prefix = client, bucket, kms_key_id, prefix

    def _key(self, key: str) -> str:
        return self._prefix + checked_key(key)

    def _fail(self, exc: Exception, what: str) -> ConfigurationError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        return ConfigurationError(f"package store: {what} failed ({code})")

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        full = self._key(key)
        sse: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
        if self._kms:
            sse["SSEKMSKeyId"] = self._kms
        try:
            upload = self._s3.create_multipart_upload(Bucket=self._bucket, Key=full, **sse)["UploadId"]
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, "starting an upload") from None
        sink = _MultipartSink(self._s3, self._bucket, full, upload)
        try:
            yield cast(BinaryIO, sink)
            sink.finish()
            self._s3.complete_multipart_upload(Bucket=self._bucket, Key=full, UploadId=upload, MultipartUpload={"Parts": sink.parts})
        except BaseException as exc:
            try:
                self._s3.abort_multipart_upload(Bucket=self._bucket, Key=full, UploadId=upload)
            except Exception:  # noqa: BLE001, S110 - the upload is discarded either way
                pass
            if isinstance(exc, BotoCoreError | ClientError):
                raise self._fail(exc, "writing") from None
            raise

    @contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=self._key(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound(f"no stream {key}") from None
            raise self._fail(exc, "reading") from None
        except BotoCoreError as exc:
            raise self._fail(exc, "reading") from None
        try:
            yield cast(BinaryIO, body)
        finally:
            body.close()

    def delete(self, key: str) -> bool:
        existed = self.exists(key)
        self._s3.delete_object(Bucket=self._bucket, Key=self._key(key))
        return existed

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._s3.head_object(Bucket=self._bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise self._fail(exc, "looking up") from None
        return True

    def keys(self, prefix: str) -> list[str]:
        out: list[str] = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=self._prefix + prefix)
        for page in pages:
            out.extend(o["Key"][len(self._prefix) :] for o in page.get("Contents", []))
        return sorted(out)
