"""A folder used as an object store. Keys are checked so no key can leave the folder."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from dsar.domain.errors import InvalidInput, NotFound
from dsar.services.ports import ObjectStore

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class LocalObjectStore(ObjectStore):
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if len(key) > 300 or not _KEY.match(key) or ".." in key.split("/"):
            raise InvalidInput("object key is not allowed", ["key: letters, digits, . _ - and / only"])
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Write then rename: a crash leaves the old object or none, never half of one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"no object {key}")
        return path.read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()
