"""A local folder as an S3 bucket: the ``file://`` backend of the ``s3`` connector.

:class:`FolderClient` answers the S3 calls of :class:`~dsar.connectors.s3_api.S3Api` the way
boto3's client does (method names, keyword arguments, answers, ``ClientError`` codes), so the
connector runs the same code on a bucket and on a folder. It needs no AWS at all: a folder is
an unversioned bucket whose object keys are ``/``-separated paths relative to it. How keys are
kept inside the folder is in the class docstring.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, ResponseStreamingError  # type: ignore[import-untyped]
from isal import isal_zlib

from dsar.connectors.aws import error_code as _code

_MAX_KEY_BYTES = 1024  # S3's limit for an object key
_READ_CHUNK = 1024 * 1024
_MIME = mimetypes.MimeTypes()  # content types of folder objects, from the built-in table only
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys, as on S3


def _folder_error(code: str, status: int, operation: str) -> ClientError:
    """A botocore ClientError as S3 raises it (never naming the key)."""
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


def _etag_of(crc: int, size: int, mtime_ns: int) -> str:
    """A folder object's ETag: the CRC-32 of its content (ISA-L, tens of GB/s), its size and its
    modification time. Opaque, as S3's are (an upload in parts or under SSE-KMS has no MD5 for
    ETag either): it names one content of the file, and changes when a write changes it."""
    return f'"{crc:08x}{size:012x}{mtime_ns:x}"'


def _etag_matches(if_match: str, etag: str) -> bool:
    return if_match == "*" or if_match.strip().removeprefix("W/").strip('"') == etag.strip('"')


def _checksum(fd: int) -> tuple[int, int]:
    """(CRC-32, size) of the file's content, read through one reused buffer."""
    buf = bytearray(_READ_CHUNK)
    view = memoryview(buf)
    crc = size = 0
    with os.fdopen(os.dup(fd), "rb", buffering=0) as f:
        while n := f.readinto(view):
            crc = isal_zlib.crc32(view[:n], crc)
            size += n
    return crc, size


class _FileBody:
    """The part of botocore's StreamingBody the connector uses, over the file as it was when its
    ETag was taken: read straight from the file (no copy of it is made), and checked on the way
    (CRC-32 and size): a file changed in place meanwhile fails the read, as S3 fails a transfer
    whose checksum does not match, instead of handing over bytes the ETag does not name."""

    def __init__(self, fd: int, crc: int, size: int) -> None:
        self._file = os.fdopen(fd, "rb")
        self._want = (crc, size)
        self._crc = self._size = 0

    def read(self, amt: int | None = None) -> bytes:
        data = self._file.read() if amt is None else self._file.read(amt)
        if data:
            self._crc = isal_zlib.crc32(data, self._crc)
            self._size += len(data)
        if self._size > self._want[1] or ((not data or amt is None) and (self._crc, self._size) != self._want):
            raise ResponseStreamingError(error="the object changed while it was read")
        return data

    def iter_chunks(self, chunk_size: int = _READ_CHUNK) -> Iterator[bytes]:
        while chunk := self.read(chunk_size):
            yield chunk

    def close(self) -> None:
        self._file.close()


class FolderClient:
    """A local folder as an unversioned S3 bucket: object keys are ``/``-separated paths relative
    to the folder. Offers the calls of :class:`~dsar.connectors.s3_api.S3Api`, with S3's answers
    and error codes (``NoSuchBucket`` when the folder is missing, ``NoSuchKey``/``404`` for a
    missing object, ``PreconditionFailed`` when If-Match fails), so the connector runs the same
    code on both; the versioned calls answer as S3 does for an unversioned bucket.

    ETags are opaque, as on S3: the CRC-32 of the content (ISA-L), its size and its modification
    time (:func:`_etag_of`; the MD5 they once were cost more than reading the file). A read
    checks the file first (its ETag) and then streams it straight from the file, checked again
    on the way, so what is streamed is exactly what the ETag names, or the read fails (a file
    changed in place meanwhile); no copy of the file is made. A write goes to a temporary file in
    the same directory and replaces the object with ``os.replace`` (readers see the old or the new content, never a mix); with If-Match, the
    current content is compared just before the replace (a writer that is not this engine can
    still slip into that moment, as with any folder). A deletion also removes the directories it
    leaves empty: a subject's directory is named after their identifier.

    Keys never leave the folder: a key with an empty, ``.`` or ``..`` segment, a backslash, NUL
    or more than 1024 bytes is refused, symlinked directories are neither listed nor followed, and
    a symlinked file counts only when it resolves (``Path.resolve``) to a regular file inside the
    folder. Files that are not regular (FIFOs, devices) are never opened for reading.
    """

    _TMP = ".dsar-tmp-"  # our temporary files: never listed as objects

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    # --- paths ------------------------------------------------------------------------------
    def _root(self, operation: str) -> Path:
        root = self.folder.resolve()
        if not root.is_dir():
            raise _folder_error("NoSuchBucket", 404, operation)
        return root

    @staticmethod
    def _parts(key: Any) -> list[str] | None:
        """The key's path segments, or None when no object of a folder can have this key."""
        if not isinstance(key, str) or not key or "\x00" in key or "\\" in key:
            return None
        try:
            if len(key.encode()) > _MAX_KEY_BYTES:
                return None
        except UnicodeEncodeError:
            return None
        parts = key.split("/")
        if any(p in ("", ".", "..") or len(p.encode()) > 255 for p in parts):
            return None
        return parts

    @staticmethod
    def _plain_dir(root: Path, parts: Sequence[str]) -> Path | None:
        """root/parts when no segment of it is a symlink (it need not exist)."""
        path = root.joinpath(*parts)
        try:
            return path if path.resolve() == path else None
        except (OSError, RuntimeError):  # a symlink loop
            return None

    def _entry(self, root: Path, key: Any) -> tuple[Path, Path] | None:
        """(the key's directory entry, the file it resolves to), both inside the folder; None
        when the key is malformed, lies under a symlinked directory or points out of the folder."""
        parts = self._parts(key)
        if parts is None:
            return None
        parent = self._plain_dir(root, parts[:-1])
        if parent is None:
            return None
        entry = parent / parts[-1]
        try:
            target = entry.resolve()
        except (OSError, RuntimeError):
            return None
        if target == root or not target.is_relative_to(root):
            return None
        return entry, target

    def _open(self, target: Path, operation: str, missing: str = "NoSuchKey") -> tuple[int, os.stat_result]:
        """A read-only descriptor of a regular file (the final component never a symlink)."""
        try:
            fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise _folder_error(missing, 404, operation) from None
        except OSError as exc:
            raise self._os_error(exc, operation) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise _folder_error(missing, 404, operation)
        return fd, st

    def _refused(self, key: Any, operation: str) -> ClientError:
        if self._parts(key) is None:
            return _folder_error("InvalidArgument", 400, operation)  # no file of a folder can have this key
        return _folder_error("AccessDenied", 403, operation)  # under a symlinked directory or pointing out of the folder

    @staticmethod
    def _os_error(exc: OSError, operation: str) -> ClientError:
        if isinstance(exc, PermissionError):
            return _folder_error("AccessDenied", 403, operation)
        if exc.errno == errno.ELOOP:
            return _folder_error("AccessDenied", 403, operation)  # a symlink appeared where none was
        return _folder_error("InternalError", 500, operation)

    def _etag(self, target: Path, operation: str) -> str | None:
        """The current content's ETag, or None when there is no such object."""
        try:
            fd, _ = self._open(target, operation)
        except ClientError as exc:
            if _code(exc) == "NoSuchKey":
                return None
            raise
        try:
            return self._checked(fd, operation)[0]
        finally:
            os.close(fd)

    def _checked(self, fd: int, operation: str) -> tuple[str, int, int]:
        """(ETag, CRC-32, size) of an open file's content; a file that changed while it was
        read is read again (a few times, then an error S3 would give: retry later)."""
        for _ in range(3):
            try:
                before = os.fstat(fd)
                crc, size = _checksum(fd)
                after = os.fstat(fd)
            except OSError as exc:
                raise self._os_error(exc, operation) from None
            if (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns) == (size, after.st_mtime_ns):
                return _etag_of(crc, size, after.st_mtime_ns), crc, size
        raise _folder_error("InternalError", 500, operation)

    def _walk(self, root: Path, prefix: str) -> Iterator[str]:
        """Every object key under prefix (unsorted)."""
        directory, _, _ = prefix.rpartition("/")
        parts = directory.split("/") if directory else []
        if parts and self._parts(directory) is None:
            return
        start = self._plain_dir(root, parts)
        if start is None:
            return
        stack = [(start, f"{directory}/" if directory else "")]
        while stack:
            path, rel = stack.pop()
            try:
                with os.scandir(path) as it:
                    entries = list(it)
            except (FileNotFoundError, NotADirectoryError):
                continue  # gone meanwhile, or not a directory at all
            except OSError as exc:
                raise self._os_error(exc, "ListObjectsV2") from None  # never skip data silently
            for e in entries:
                key = rel + e.name
                if e.name.startswith(self._TMP) or not key.startswith(prefix[: len(key)]):
                    continue
                try:
                    key.encode()
                except UnicodeEncodeError:
                    continue  # not a UTF-8 name: no S3 key can name it
                if e.is_dir(follow_symlinks=False):
                    stack.append((Path(e.path), key + "/"))
                elif e.is_file(follow_symlinks=False):
                    yield key
                elif e.is_symlink() and (found := self._entry(root, key)) is not None and found[1].is_file():
                    yield key

    # --- the S3 calls -----------------------------------------------------------------------
    def head_bucket(self, *, Bucket: str, **_: Any) -> dict[str, Any]:
        root = self._root("HeadBucket")
        if not os.access(root, os.R_OK | os.X_OK):
            raise _folder_error("AccessDenied", 403, "HeadBucket")
        return {}

    def get_bucket_versioning(self, *, Bucket: str, **_: Any) -> dict[str, Any]:
        self._root("GetBucketVersioning")
        return {}  # never versioned (S3 answers without a Status for such a bucket)

    def list_objects_v2(
        self,
        *,
        Bucket: str,
        Prefix: str = "",
        ContinuationToken: str | None = None,
        MaxKeys: int = 1000,
        **_: Any,
    ) -> dict[str, Any]:
        root = self._root("ListObjectsV2")
        keys = sorted(k for k in self._walk(root, Prefix) if k.startswith(Prefix) and (ContinuationToken is None or k > ContinuationToken))
        page = keys[: max(MaxKeys, 1)]
        contents = []
        for key in page:
            try:
                st = (root / key).stat()
            except OSError:
                continue  # gone since it was listed
            contents.append({"Key": key, "Size": st.st_size, "LastModified": datetime.fromtimestamp(st.st_mtime, UTC)})
        out: dict[str, Any] = {"KeyCount": len(contents), "IsTruncated": len(keys) > len(page), "Prefix": Prefix}
        if contents:
            out["Contents"] = contents
        if out["IsTruncated"]:
            out["NextContinuationToken"] = page[-1]
        return out

    def list_object_versions(
        self,
        *,
        Bucket: str,
        Prefix: str = "",
        KeyMarker: str | None = None,
        MaxKeys: int = 1000,
        **_: Any,
    ) -> dict[str, Any]:
        """As S3 lists an unversioned bucket: each object once, as version ``null``, no delete markers."""
        page = self.list_objects_v2(Bucket=Bucket, Prefix=Prefix, ContinuationToken=KeyMarker or None, MaxKeys=MaxKeys)
        versions = [{**o, "VersionId": "null", "IsLatest": True} for o in page.get("Contents", [])]
        out: dict[str, Any] = {"IsTruncated": page["IsTruncated"], "Prefix": Prefix}
        if versions:
            out["Versions"] = versions
        if page["IsTruncated"]:
            out["NextKeyMarker"] = page["NextContinuationToken"]
            out["NextVersionIdMarker"] = "null"
        return out

    def delete_objects(self, *, Bucket: str, Delete: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Deletes each key (version ``null`` or none: a folder keeps no other); per-key failures
        are answered in ``Errors``, as S3 does."""
        objects = list(Delete.get("Objects") or [])
        if len(objects) > _DELETE_BATCH:
            raise _folder_error("MalformedXML", 400, "DeleteObjects")
        deleted: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for o in objects:
            key, version = o.get("Key"), o.get("VersionId")
            if version not in (None, "null"):
                errors.append({"Key": key, "VersionId": version, "Code": "NoSuchVersion", "Message": "NoSuchVersion"})
                continue
            try:
                self.delete_object(Bucket=Bucket, Key=key)
            except ClientError as exc:
                errors.append({"Key": key, "Code": _code(exc), "Message": _code(exc)})
                continue
            deleted.append({"Key": key} | ({"VersionId": version} if version else {}))
        out: dict[str, Any] = {}
        if deleted and not Delete.get("Quiet"):
            out["Deleted"] = deleted
        if errors:
            out["Errors"] = errors
        return out

    def head_object(self, *, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        found = self._entry(self._root("HeadObject"), Key)
        if found is None:
            raise _folder_error("404", 404, "HeadObject")
        fd, st = self._open(found[1], "HeadObject", missing="404")
        os.close(fd)
        return {"ContentLength": st.st_size, "LastModified": datetime.fromtimestamp(st.st_mtime, UTC)}

    def get_object(self, *, Bucket: str, Key: str, IfMatch: str | None = None, **_: Any) -> dict[str, Any]:
        found = self._entry(self._root("GetObject"), Key)
        if found is None:
            raise _folder_error("NoSuchKey", 404, "GetObject")
        fd, st = self._open(found[1], "GetObject")
        try:
            etag, crc, size = self._checked(fd, "GetObject")
            if IfMatch is not None and not _etag_matches(IfMatch, etag):
                raise _folder_error("PreconditionFailed", 412, "GetObject")
            os.lseek(fd, 0, os.SEEK_SET)
            body = _FileBody(fd, crc, size)  # closes fd with the body
        except BaseException:
            os.close(fd)
            raise
        content_type = _MIME.guess_type(found[0].name)[0] or "application/octet-stream"
        return {
            "Body": body,
            "ETag": etag,
            "ContentLength": size,
            "LastModified": datetime.fromtimestamp(st.st_mtime, UTC),
            "ContentType": content_type,
        }

    def put_object(self, *, Bucket: str, Key: str, Body: Any = b"", IfMatch: str | None = None, **_: Any) -> dict[str, Any]:
        root = self._root("PutObject")
        found = self._entry(root, Key)
        if found is None:
            raise self._refused(Key, "PutObject")
        entry, target = found  # a symlinked key gets its own file: the file it pointed to stays as it is
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._os_error(exc, "PutObject") from None
        if self._plain_dir(root, Key.split("/")[:-1]) is None:
            raise _folder_error("AccessDenied", 403, "PutObject")  # a symlink appeared meanwhile
        try:
            fd, tmp = tempfile.mkstemp(prefix=self._TMP, dir=entry.parent)
        except OSError as exc:
            raise self._os_error(exc, "PutObject") from None
        replaced = False
        try:
            crc = size = 0
            with os.fdopen(fd, "wb") as out:
                for chunk in _chunks(Body):
                    crc = isal_zlib.crc32(chunk, crc)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
                etag = _etag_of(crc, size, os.fstat(out.fileno()).st_mtime_ns)  # os.replace keeps it
            if target.is_file():
                os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))  # keep the object's permissions
            if IfMatch is not None:
                current = self._etag(target, "PutObject")
                if current is None:
                    raise _folder_error("NoSuchKey", 404, "PutObject")
                if not _etag_matches(IfMatch, current):
                    raise _folder_error("PreconditionFailed", 412, "PutObject")
            os.replace(tmp, entry)
            replaced = True
        except OSError as exc:
            raise self._os_error(exc, "PutObject") from None
        finally:
            if not replaced:
                _unlink(tmp)
        _fsync_dir(entry.parent)
        return {"ETag": etag}

    def delete_object(self, *, Bucket: str, Key: str, IfMatch: str | None = None, **_: Any) -> dict[str, Any]:
        root = self._root("DeleteObject")
        found = self._entry(root, Key)
        if found is None:
            raise self._refused(Key, "DeleteObject")
        entry, target = found
        if IfMatch is not None:
            current = self._etag(target, "DeleteObject")
            if current is None:
                raise _folder_error("NoSuchKey", 404, "DeleteObject")
            if not _etag_matches(IfMatch, current):
                raise _folder_error("PreconditionFailed", 412, "DeleteObject")
        try:
            entry.unlink()
        except FileNotFoundError:
            return {}  # S3 answers a deletion of a missing key with success
        except OSError as exc:
            raise self._os_error(exc, "DeleteObject") from None
        for directory in entry.parents:  # S3 has no empty "directories": a prefix goes with its last object
            if directory == root or not directory.is_relative_to(root):
                break
            try:
                directory.rmdir()
            except OSError:
                break
        return {}


def _chunks(body: Any) -> Iterator[bytes]:
    if isinstance(body, str):
        yield body.encode()
    elif isinstance(body, bytes | bytearray | memoryview):
        yield bytes(body)
    else:
        while chunk := body.read(_READ_CHUNK):
            yield bytes(chunk)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_dir(directory: Path) -> None:
    """Make a replace durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
