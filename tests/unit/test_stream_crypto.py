"""Sealed streams (dsar.crypto.stream): chunked AES-256-GCM whose chunks cannot be altered,
reordered, dropped, repeated or appended to without the reader refusing the stream."""

from __future__ import annotations

import io
import os

import pytest

from dsar.crypto.stream import CHUNK_SIZE, TAG, SealedWriter, new_content_key, open_chunks, read_header, sealed_size
from dsar.domain.errors import IntegrityError

WRAPPED = b"wrapped-key-as-the-caller-keeps-it"
SMALL = 64  # chunk size of most tests: many chunks from few bytes


def seal(plain: bytes, key: bytes, chunk: int = SMALL, writes: int = 7) -> bytes:
    sink = io.BytesIO()
    w = SealedWriter(sink, key, WRAPPED, chunk)
    for i in range(0, len(plain), writes):
        w.write(plain[i : i + writes])
    w.close()
    return sink.getvalue()


def unseal(sealed: bytes, key: bytes) -> bytes:
    src = io.BytesIO(sealed)
    wrapped, chunk, header = read_header(src)
    assert wrapped == WRAPPED
    return b"".join(open_chunks(src, key, header, chunk))


def header_len() -> int:
    return len(seal(b"", new_content_key())) - TAG


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, SMALL + 1, 3 * SMALL, 3 * SMALL + 5])
def test_every_size_reads_back_as_written(size: int) -> None:
    key = new_content_key()
    plain = os.urandom(size)
    sealed = seal(plain, key)
    assert unseal(sealed, key) == plain
    assert len(sealed) == sealed_size(size, len(WRAPPED), SMALL)


def test_large_writes_and_the_default_chunk_size() -> None:
    key = new_content_key()
    plain = os.urandom(2 * CHUNK_SIZE + 12345)
    sink = io.BytesIO()
    w = SealedWriter(sink, key, WRAPPED)
    w.write(plain[:10])
    w.write(plain[10:])  # a write larger than a chunk after a small one
    w.close()
    assert unseal(sink.getvalue(), key) == plain
    assert w.plain_bytes == len(plain) and w.sealed_bytes == len(sink.getvalue())


def chunks_of(sealed: bytes) -> tuple[bytes, list[bytes]]:
    h = header_len()
    body = sealed[h:]
    step = SMALL + TAG
    return sealed[:h], [body[i : i + step] for i in range(0, len(body), step)]


def test_a_flipped_byte_anywhere_is_refused() -> None:
    key = new_content_key()
    sealed = seal(os.urandom(3 * SMALL + 10), key)
    for pos in (header_len() + 3, header_len() + SMALL + TAG + 1, len(sealed) - 1):
        bad = bytearray(sealed)
        bad[pos] ^= 1
        with pytest.raises(IntegrityError):
            unseal(bytes(bad), key)


def test_reordered_chunks_are_refused() -> None:
    key = new_content_key()
    head, chunks = chunks_of(seal(os.urandom(4 * SMALL), key))
    swapped = [chunks[1], chunks[0], *chunks[2:]]
    with pytest.raises(IntegrityError, match="chunk 0"):
        unseal(head + b"".join(swapped), key)


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_truncation_at_a_chunk_boundary_is_refused(keep: int) -> None:
    key = new_content_key()
    head, chunks = chunks_of(seal(os.urandom(4 * SMALL + 3), key))
    with pytest.raises(IntegrityError):
        unseal(head + b"".join(chunks[:keep]), key)


def test_truncation_inside_a_chunk_and_an_empty_body_are_refused() -> None:
    key = new_content_key()
    sealed = seal(os.urandom(2 * SMALL), key)
    with pytest.raises(IntegrityError):
        unseal(sealed[:-5], key)
    with pytest.raises(IntegrityError, match="truncated"):
        unseal(sealed[: header_len()], key)


def test_an_extension_is_refused_a_repeated_last_chunk_too() -> None:
    key = new_content_key()
    head, chunks = chunks_of(seal(os.urandom(2 * SMALL), key))
    with pytest.raises(IntegrityError):
        unseal(head + b"".join(chunks) + chunks[-1], key)
    with pytest.raises(IntegrityError):
        unseal(head + b"".join(chunks) + os.urandom(SMALL + TAG), key)


def test_chunks_of_another_stream_under_the_same_key_are_refused() -> None:
    key = new_content_key()
    plain = os.urandom(2 * SMALL)
    head_a, a = chunks_of(seal(plain, key))
    sink = io.BytesIO()
    w = SealedWriter(sink, key, b"another-wrapped-key-of-same-len!!!", SMALL)
    w.write(plain)
    w.close()
    _, b = chunks_of(sink.getvalue())
    with pytest.raises(IntegrityError):
        unseal(head_a + a[0] + b[1], key)


def test_the_wrong_key_and_a_foreign_header_are_refused() -> None:
    sealed = seal(b"hello", new_content_key())
    with pytest.raises(IntegrityError):
        unseal(sealed, new_content_key())
    with pytest.raises(IntegrityError, match="not a sealed stream"):
        read_header(io.BytesIO(b"PK\x03\x04" + sealed))


def test_a_writer_never_closed_leaves_a_stream_no_reader_accepts() -> None:
    key = new_content_key()
    sink = io.BytesIO()
    w = SealedWriter(sink, key, WRAPPED, SMALL)
    w.write(os.urandom(5 * SMALL))  # a crash now: four full chunks out, none marked last
    with pytest.raises(IntegrityError):
        unseal(sink.getvalue(), key)
