"""The folder backend answers the versioned calls of the S3 interface as S3 answers them for an
unversioned bucket (each object once, as version ``null``), so it is a whole ``S3Api``. The
connector never makes those calls on a folder (a folder reports no versioning); the other
calls are tested with the connector in test_s3_connector.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from dsar.connectors.folder_store import FolderClient
from dsar.connectors.s3_api import S3Api, open_backend
from dsar.domain.errors import PermanentConnectorError


def folder(tmp_path: Path, *keys: str) -> FolderClient:
    client = FolderClient(tmp_path)
    for key in keys:
        client.put_object(Bucket="any", Key=key, Body=key.encode())
    return client


def test_versions_of_a_folder_are_its_objects_as_version_null(tmp_path: Path) -> None:
    client = folder(tmp_path, "a/1", "a/2", "a/3", "b/1")
    first = client.list_object_versions(Bucket="any", Prefix="a/", MaxKeys=2)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in first["Versions"]] == [("a/1", "null", True), ("a/2", "null", True)]
    assert first["IsTruncated"] and first["NextKeyMarker"] == "a/2" and "DeleteMarkers" not in first
    rest = client.list_object_versions(Bucket="any", Prefix="a/", KeyMarker=first["NextKeyMarker"], MaxKeys=2)
    assert [v["Key"] for v in rest["Versions"]] == ["a/3"] and not rest["IsTruncated"]
    assert "Versions" not in client.list_object_versions(Bucket="any", Prefix="c/")


def test_deleting_objects_in_a_batch_answers_per_key_as_s3_does(tmp_path: Path) -> None:
    client = folder(tmp_path, "a/1", "a/2")
    answer = client.delete_objects(
        Bucket="any",
        Delete={"Objects": [{"Key": "a/1", "VersionId": "null"}, {"Key": "a/2"}, {"Key": "a/2", "VersionId": "v7"}, {"Key": "../x"}]},
    )
    assert answer["Deleted"] == [{"Key": "a/1", "VersionId": "null"}, {"Key": "a/2"}]
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("a/2", "NoSuchVersion"), ("../x", "InvalidArgument")]
    assert list(tmp_path.iterdir()) == []
    assert client.delete_objects(Bucket="any", Delete={"Objects": [{"Key": "a/1"}], "Quiet": True}) == {}
    with pytest.raises(ClientError) as info:
        client.delete_objects(Bucket="any", Delete={"Objects": [{"Key": f"k{i}"} for i in range(1001)]})
    assert info.value.response["Error"]["Code"] == "MalformedXML"


def test_a_file_url_opens_the_folder_backend_and_an_s3_url_the_given_client(tmp_path: Path) -> None:
    local = open_backend("files", f"file://{tmp_path}")
    assert local.local and isinstance(local.client, FolderClient) and local.root == "" and local.store == "folder"
    given: S3Api = FolderClient(tmp_path)
    remote = open_backend("files", "s3://bucket-a/tenant/x/", given)
    assert remote.client is given and remote.bucket == "bucket-a" and remote.root == "tenant/x/" and remote.service == "S3"
    with pytest.raises(PermanentConnectorError, match="s3://<bucket>"):
        open_backend("files", "s3://bucket-a/../x")
