"""Streams sealed at rest in chunks: AES-256-GCM over 1 MiB pieces, written and read front to
back in constant memory, whatever the size (access packages and their spools).

Layout::

    header  = MAGIC (8) | chunk size (u32) | length of the wrapped key (u16) | wrapped key
    chunk i = AES-256-GCM(content key, nonce = i, plaintext piece i, aad = H(header) | i | last)

The content key is random per stream and reaches the disk only wrapped (here: sealed under the
request's data key by the caller, so shredding the request's key makes the stream unreadable).
Each chunk's associated data binds it to its stream's header, to its place (index) and to
whether it is the last one, so a reader refuses chunks that were reordered, dropped
(truncation, also at a chunk boundary), repeated, appended after the last one (extension) or
taken from another stream. Every chunk but the last holds exactly ``chunk_size`` bytes of
plaintext; the last holds 0 to ``chunk_size`` (an empty stream is one empty last chunk).
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from collections.abc import Iterator
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dsar.domain.errors import IntegrityError

MAGIC = b"DSARSC1\n"
CHUNK_SIZE = 1 << 20
TAG = 16
_HEADER = struct.Struct(">IH")
MAX_CHUNK = 64 << 20


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class Source(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def new_content_key() -> bytes:
    return secrets.token_bytes(32)


def _nonce(index: int) -> bytes:
    return b"\x00\x00\x00\x00" + index.to_bytes(8, "big")


def _aad(header_digest: bytes, index: int, last: bool) -> bytes:
    return header_digest + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


def header_bytes(wrapped_key: bytes, chunk_size: int = CHUNK_SIZE) -> bytes:
    if not 0 < len(wrapped_key) < 1 << 16:
        raise ValueError("the wrapped content key must be 1 to 65535 bytes")
    if not 0 < chunk_size <= MAX_CHUNK:
        raise ValueError("chunk size out of range")
    return MAGIC + _HEADER.pack(chunk_size, len(wrapped_key)) + wrapped_key


def sealed_size(plain_size: int, wrapped_key_len: int, chunk_size: int = CHUNK_SIZE) -> int:
    """The size of a sealed stream of ``plain_size`` bytes (for Content-Length and checks)."""
    chunks = max(1, -(-plain_size // chunk_size))
    return len(MAGIC) + _HEADER.size + wrapped_key_len + plain_size + chunks * TAG


class SealedWriter:
    """A write-only file object: what is written is sealed chunk by chunk into ``sink``.
    :meth:`close` seals the last chunk; a writer never closed leaves a stream every reader
    refuses (no last chunk), so a crash mid-write cannot pass for a complete stream."""

    def __init__(self, sink: Sink, content_key: bytes, wrapped_key: bytes, chunk_size: int = CHUNK_SIZE) -> None:
        self._sink = sink
        self._aead = AESGCM(content_key)
        self._chunk = chunk_size
        header = header_bytes(wrapped_key, chunk_size)
        self._digest = hashlib.sha256(header).digest()
        # One buffer for the whole stream, reused: no allocation per chunk.
        self._buf = bytearray(chunk_size)
        self._window = memoryview(self._buf)
        self._fill = 0
        self._index = 0
        self._closed = False
        self.plain_bytes = 0
        self.sealed_bytes = len(header)
        sink.write(header)

    def _emit(self, piece: bytes | bytearray | memoryview, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._index), piece, _aad(self._digest, self._index, last))
        self._sink.write(sealed)
        self.sealed_bytes += len(sealed)
        self._index += 1

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer at most one chunk; a full chunk is sealed only once more data arrives (until
        then it may be the last one). Each byte is copied at most once, into the buffer; a
        large write is sealed straight from the caller's buffer."""
        if self._closed:
            raise ValueError("write to a closed sealed stream")
        view = memoryview(data).cast("B")
        n, pos, size = len(view), 0, self._chunk
        self.plain_bytes += n
        while pos < n:
            if self._fill == size:
                self._emit(self._window, False)
                self._fill = 0
            if not self._fill and n - pos > size:
                self._emit(view[pos : pos + size], False)
                pos += size
                continue
            take = min(size - self._fill, n - pos)
            self._window[self._fill : self._fill + take] = view[pos : pos + take]
            self._fill += take
            pos += take
        return n

    def close(self) -> None:
        if self._closed:
            return
        self._emit(self._window[: self._fill], True)
        self._closed = True

    def __enter__(self) -> SealedWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()


def _read_exact(source: Source, n: int) -> bytes:
    parts: list[bytes] = []
    left = n
    while left > 0:
        piece = source.read(left)
        if not piece:
            break
        parts.append(piece)
        left -= len(piece)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def read_header(source: Source) -> tuple[bytes, int, bytes]:
    """(wrapped content key, chunk size, the header's bytes) of a sealed stream."""
    fixed = _read_exact(source, len(MAGIC) + _HEADER.size)
    if len(fixed) < len(MAGIC) + _HEADER.size or fixed[: len(MAGIC)] != MAGIC:
        raise IntegrityError("not a sealed stream (unknown header)")
    chunk_size, key_len = _HEADER.unpack(fixed[len(MAGIC) :])
    if not 0 < chunk_size <= MAX_CHUNK:
        raise IntegrityError("sealed stream: chunk size out of range")
    wrapped = _read_exact(source, key_len)
    if len(wrapped) != key_len or not key_len:
        raise IntegrityError("sealed stream: truncated header")
    return wrapped, chunk_size, fixed + wrapped


def open_chunks(source: Source, content_key: bytes, header: bytes, chunk_size: int) -> Iterator[bytes]:
    """The plaintext, piece by piece, of the stream whose header was read with
    :func:`read_header`. Raises IntegrityError at the first chunk that is altered, out of
    place, missing or extra; nothing after it is returned."""
    aead = AESGCM(content_key)
    digest = hashlib.sha256(header).digest()
    full = chunk_size + TAG
    index = 0
    current = _read_exact(source, full)
    while True:
        if len(current) < TAG:
            raise IntegrityError(f"sealed stream is truncated (chunk {index} is missing or cut short)")
        following = _read_exact(source, full) if len(current) == full else b""
        last = not following
        try:
            plain = aead.decrypt(_nonce(index), current, _aad(digest, index, last))
        except InvalidTag:
            raise IntegrityError(f"sealed stream failed its integrity check at chunk {index}") from None
        yield plain
        if last:
            return
        index += 1
        current = following
