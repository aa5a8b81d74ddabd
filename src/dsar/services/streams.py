"""Where large sealed streams are kept (access packages and their spools): written front to
back and read front to back, never whole in memory.

A stream written through :meth:`StreamStore.writer` appears only when the ``with`` block ends
without an error: a crash or an exception mid-write leaves no object at all (the local store
renames a temporary file; S3 completes a multipart upload only then), so a half-built package
can never be served. The callers seal what they write (:mod:`dsar.crypto.stream`).
"""

from __future__ import annotations

import io
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import BinaryIO

from dsar.domain.errors import NotFound


class StreamStore(ABC):
    @abstractmethod
    def writer(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A sink for the stream ``key``; it replaces any stream of that key when the block
        ends without an error, and is discarded otherwise."""

    @abstractmethod
    def reader(self, key: str) -> AbstractContextManager[BinaryIO]:
        """The stream ``key`` to read (``read(n)``). Raises NotFound."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove the stream; False when there was none."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def keys(self, prefix: str) -> list[str]:
        """The keys under ``prefix`` (for clean-up)."""


class MemoryStreamStore(StreamStore):
    """Streams in a dict (unit tests and the in-memory wiring)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        buf = io.BytesIO()
        yield buf
        with self._lock:
            self.objects[key] = buf.getvalue()

    @contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        with self._lock:
            data = self.objects.get(key)
        if data is None:
            raise NotFound(f"no stream {key}")
        yield io.BytesIO(data)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self.objects.pop(key, None) is not None

    def exists(self, key: str) -> bool:
        return key in self.objects

    def keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))
