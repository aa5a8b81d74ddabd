"""The S3 calls the ``s3`` connector makes (:class:`S3Api`), and the backend that answers them
for a connection URL: boto3's client for ``s3://<bucket>[/<root prefix>]``, or
:class:`~dsar.connectors.folder_store.FolderClient` for ``file:///<absolute folder>``.

The interface is S3's own (boto3's method names, keyword arguments, answers and
``botocore.exceptions.ClientError`` codes), so the connector has one code path and the folder
is checked against the same tests as a bucket. Errors are read by :mod:`dsar.connectors.aws`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]

from dsar.connectors.folder_store import FolderClient
from dsar.domain.errors import PermanentConnectorError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/([^?#\x00-\x1f\x7f]*))?$")
FOLDER_BUCKET = "local-folder"  # the bucket name a folder answers to (any name does)


class S3Api(Protocol):
    """What the connector calls, each with ``Bucket=`` and S3's keyword arguments; failures
    raise ``ClientError`` with S3's codes (``NoSuchBucket``, ``NoSuchKey``/``404``,
    ``PreconditionFailed`` ...). boto3's S3 client and :class:`FolderClient` both answer it."""

    def head_bucket(self, *, Bucket: str, **params: Any) -> dict[str, Any]: ...

    def get_bucket_versioning(self, *, Bucket: str, **params: Any) -> dict[str, Any]: ...

    def list_objects_v2(self, *, Bucket: str, **params: Any) -> dict[str, Any]: ...

    def list_object_versions(self, *, Bucket: str, **params: Any) -> dict[str, Any]: ...

    def head_object(self, *, Bucket: str, Key: str, **params: Any) -> dict[str, Any]: ...

    def get_object(self, *, Bucket: str, Key: str, **params: Any) -> dict[str, Any]: ...

    def put_object(self, *, Bucket: str, Key: str, **params: Any) -> dict[str, Any]: ...

    def delete_object(self, *, Bucket: str, Key: str, **params: Any) -> dict[str, Any]: ...

    def delete_objects(self, *, Bucket: str, Delete: dict[str, Any], **params: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class S3Backend:
    """Where a connector's objects live: the client, the bucket, the root prefix put before
    every key (``""`` or ``"tenant-a/"``), and whether it is a local folder."""

    client: S3Api
    bucket: str
    root: str
    local: bool

    @property
    def store(self) -> str:
        """What a message calls the container: ``folder`` or ``bucket``."""
        return "folder" if self.local else "bucket"

    @property
    def service(self) -> str:
        """What a message calls the service: ``the folder`` or ``S3``."""
        return "the folder" if self.local else "S3"


def s3_client() -> Any:
    """boto3's S3 client, region, credentials and endpoint from the standard AWS environment."""
    return boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=60))


def open_backend(system: str, url: str, client: S3Api | None = None) -> S3Backend:
    """The backend of a connection URL; ``client`` replaces the one it would build (tests).
    A URL that is neither form is a permanent error that never repeats the URL."""
    if (url or "").startswith("file://"):
        path = url.removeprefix("file://")
        if not path.startswith("/") or _CONTROL.search(path):
            raise PermanentConnectorError(system, "connection URL is not file:///<absolute path of the folder>")
        return S3Backend(client if client is not None else FolderClient(path), FOLDER_BUCKET, "", local=True)
    m = _URL.match(url or "")
    root = (m.group(2) or "").strip("/") if m is not None else ""
    if m is None or (root and any(part in ("", ".", "..") for part in root.split("/"))):
        raise PermanentConnectorError(system, "connection URL is not s3://<bucket>, s3://<bucket>/<root prefix> or file:///<folder>")
    if client is None:
        try:
            client = s3_client()
        except BotoCoreError as exc:
            raise PermanentConnectorError(system, f"cannot create an S3 client ({type(exc).__name__})") from None
    return S3Backend(client, m.group(1), f"{root}/" if root else "", local=False)
