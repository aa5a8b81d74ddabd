"""A zip archive written front to back into any sink, in constant memory.

Each entry is written as it is produced: a local header without sizes (general purpose flag
bit 3), the deflated (or stored) data, then a data descriptor with the CRC-32 and the sizes. The
central directory at the end repeats everything, so readers that seek (every unzip tool) read
it from there. Entries carry a ZIP64 extra field in their local header and 8-byte sizes in their
data descriptor, so an entry or an archive past 4 GiB (or past 65,535 entries) needs no second
pass; the central directory and the end record use ZIP64 only when a value needs it.

Names are made safe here, whoever gives them: :func:`safe_name` keeps letters, digits and
``._-`` in each part, drops empty, ``.`` and ``..`` parts, absolute roots, drive letters and
backslashes, and bounds the length, so no entry can be extracted outside its folder (path
traversal, "zip slip"); a name given twice gets a numbered suffix.
"""

from __future__ import annotations

import re
import struct
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

# Intel ISA-L through python-isal: zlib-compatible CRC-32 and raw deflate, several times zlib's
# speed (the zip's checksums and compression would otherwise cost more than the AES-GCM seal).
from isal import isal_zlib

STORED = 0
DEFLATED = 8
_ZIP64_LIMIT = 0xFFFFFFFF
_COUNT_LIMIT = 0xFFFF
_VERSION_ZIP64 = 45
_FLAGS = 0x0008 | 0x0800  # sizes in the data descriptor; names in UTF-8
_PART = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 200


class Sink(Protocol):
    def write(self, data: bytes | bytearray | memoryview, /) -> object: ...


def safe_name(name: str) -> str:
    """A relative path of plain parts, safe to extract anywhere (see the module's docstring)."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    parts: list[str] = []
    for raw in re.split(r"[\\/]+", text):
        part = _PART.sub("_", raw).strip("._ ")
        if not part or part in (".", ".."):
            continue
        if re.fullmatch(r"[A-Za-z]_?", part) and not parts and ":" in raw:
            continue  # a drive letter (C:)
        parts.append(part[:80])
    out = "/".join(parts)[:MAX_NAME].strip("/")
    return out or "file"


def _dos_time(t: float) -> tuple[int, int]:
    lt = time.gmtime(t)
    year = max(1980, lt.tm_year)
    return (lt.tm_hour << 11) | (lt.tm_min << 5) | (lt.tm_sec // 2), ((year - 1980) << 9) | (lt.tm_mon << 5) | lt.tm_mday


@dataclass
class _Entry:
    name: bytes
    method: int
    offset: int
    dos_time: int
    dos_date: int
    crc: int = 0
    compressed: int = 0
    size: int = 0


class ZipStreamWriter:
    """Write entries one after the other; :meth:`close` writes the central directory.

    ``level`` is ISA-L's deflate level (0 to 3; 1 compresses JSON about as well as zlib's 6, at
    many times its speed). ``zip64_limit`` is where ZIP64 starts in the central directory
    (tests lower it to cover that path without writing 4 GiB)."""

    def __init__(
        self,
        sink: Sink,
        *,
        mtime: float | None = None,
        level: int = 1,
        zip64_limit: int = _ZIP64_LIMIT,
        count_limit: int = _COUNT_LIMIT,
    ) -> None:
        self._sink = sink
        self._offset = 0
        self._entries: list[_Entry] = []
        self._names: set[str] = set()
        self._time = _dos_time(time.time() if mtime is None else mtime)
        self._zip64_limit = zip64_limit
        self._count_limit = count_limit
        self._open: _EntryWriter | None = None
        self._closed = False
        self._level = level

    @property
    def bytes_written(self) -> int:
        return self._offset

    def _write(self, data: bytes | bytearray | memoryview) -> None:
        if data:
            self._sink.write(data)
            self._offset += len(data)

    def unique_name(self, name: str) -> str:
        """The safe form of ``name``, numbered when it is already in the archive."""
        base = safe_name(name)
        candidate, n = base, 1
        stem, dot, ext = base.rpartition(".")
        if not dot or "/" in ext:
            stem, dot, ext = base, "", ""
        while candidate.lower() in self._names:
            n += 1
            candidate = f"{stem}-{n}{dot}{ext}"
        return candidate

    def open_entry(self, name: str, *, compress: bool = True) -> _EntryWriter:
        """A file object for one entry; write to it, then close it before the next entry.
        Returns the writer; its ``name`` is the name the entry got in the archive."""
        if self._closed:
            raise ValueError("the archive is closed")
        if self._open is not None:
            raise ValueError("close the previous entry first")
        final = self.unique_name(name)
        self._names.add(final.lower())
        encoded = final.encode("utf-8")
        method = DEFLATED if compress else STORED
        entry = _Entry(encoded, method, self._offset, *self._time)
        # ZIP64 extra in the local header: sizes unknown yet (0), given in the data descriptor.
        extra = struct.pack("<HHQQ", 0x0001, 16, 0, 0)
        header = struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            _VERSION_ZIP64,
            _FLAGS,
            method,
            entry.dos_time,
            entry.dos_date,
            0,
            _ZIP64_LIMIT,
            _ZIP64_LIMIT,
            len(encoded),
            len(extra),
        )
        self._write(header + encoded + extra)
        self._open = _EntryWriter(self, entry, final, self._level)
        return self._open

    def write_entry(self, name: str, chunks: Iterable[bytes], *, compress: bool = True) -> str:
        with self.open_entry(name, compress=compress) as w:
            for c in chunks:
                w.write(c)
        return w.name

    def _finish(self, entry: _Entry) -> None:
        self._write(struct.pack("<IIQQ", 0x08074B50, entry.crc, entry.compressed, entry.size))
        self._entries.append(entry)
        self._open = None

    def close(self) -> None:
        if self._closed:
            return
        if self._open is not None:
            raise ValueError("an entry is still open")
        start = self._offset
        limit = self._zip64_limit
        for e in self._entries:
            big = [v for v in (e.size, e.compressed, e.offset) if v >= limit]
            extra = struct.pack("<HH", 0x0001, 8 * len(big)) + b"".join(struct.pack("<Q", v) for v in big) if big else b""
            self._write(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    (3 << 8) | _VERSION_ZIP64,  # made by: Unix, so unzip applies the modes below
                    _VERSION_ZIP64,
                    _FLAGS,
                    e.method,
                    e.dos_time,
                    e.dos_date,
                    e.crc,
                    _ZIP64_LIMIT if e.compressed >= limit else e.compressed,
                    _ZIP64_LIMIT if e.size >= limit else e.size,
                    len(e.name),
                    len(extra),
                    0,
                    0,
                    0,
                    0o100600 << 16,  # a regular file, readable by its owner only
                    _ZIP64_LIMIT if e.offset >= limit else e.offset,
                )
                + e.name
                + extra
            )
        size = self._offset - start
        count = len(self._entries)
        if count >= self._count_limit or size >= limit or start >= limit:
            eocd64 = self._offset
            made_by = (3 << 8) | _VERSION_ZIP64
            self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, made_by, _VERSION_ZIP64, 0, 0, count, count, size, start))
            self._write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, _ZIP64_LIMIT, _ZIP64_LIMIT, 0))
        else:
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0))
        self._closed = True


class _EntryWriter:
    def __init__(self, archive: ZipStreamWriter, entry: _Entry, name: str, level: int) -> None:
        self._archive = archive
        self._entry = entry
        self.name = name
        self._deflate = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15) if entry.method == DEFLATED else None
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("entry closed")
        e = self._entry
        e.crc = isal_zlib.crc32(data, e.crc)
        e.size += len(data)
        out = self._deflate.compress(data) if self._deflate is not None else data
        if out:
            e.compressed += len(out)
            self._archive._write(out)
        return len(data)

    def close(self) -> None:
        if self._closed:
            return
        if self._deflate is not None:
            out = self._deflate.flush()
            self._entry.compressed += len(out)
            self._archive._write(out)
        self._closed = True
        self._archive._finish(self._entry)

    def __enter__(self) -> _EntryWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
