"""The streaming zip writer (dsar.services.zipstream): archives every reader opens, ZIP64
when sizes or counts need it, and names that cannot leave the folder they are extracted to."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from dsar.services.zipstream import ZipStreamWriter, safe_name

HOSTILE = [
    "../../etc/passwd",
    "/etc/shadow",
    "..\\..\\windows\\system32\\evil.dll",
    "C:\\Users\\x\\evil.txt",
    "a/./b/../../../c.txt",
    "....//....//x",
    "\u202egnp.exe",  # right-to-left override
    "name\x00with-nul.txt",
    "",
    "x" * 1000,
]


def build(entries: list[tuple[str, bytes, bool]], **kw: int) -> bytes:
    sink = io.BytesIO()
    z = ZipStreamWriter(sink, mtime=1_700_000_000, **kw)
    for name, data, compress in entries:
        z.write_entry(name, [data[i : i + 1000] for i in range(0, len(data), 1000)] or [b""], compress=compress)
    z.close()
    assert z.bytes_written == len(sink.getvalue())
    return sink.getvalue()


def test_entries_read_back_with_python_and_unzip(tmp_path: Path) -> None:
    blob = os.urandom(50_000)
    data = build([("a/records.json", b'{"x": 1}' * 5000, True), ("a/doc.pdf", blob, False), ("empty.txt", b"", True)])
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        assert z.read("a/doc.pdf") == blob and z.read("empty.txt") == b""
        assert z.getinfo("a/records.json").compress_type == zipfile.ZIP_DEFLATED
    if shutil.which("unzip"):
        (tmp_path / "t.zip").write_bytes(data)
        out = subprocess.run(["unzip", "-t", str(tmp_path / "t.zip")], capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stdout


def test_zip64_records_are_written_when_a_value_needs_them(tmp_path: Path) -> None:
    # The limits lowered: every offset and the entry count past them, as 4 GiB and 65,535 would be.
    entries = [(f"f{i}.txt", os.urandom(300), i % 2 == 0) for i in range(5)]
    data = build(entries, zip64_limit=100, count_limit=3)
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data  # ZIP64 end record and locator
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
        assert [z.read(n) for n, _, _ in entries] == [d for _, d, _ in entries]
    if shutil.which("unzip"):
        (tmp_path / "t.zip").write_bytes(data)
        assert subprocess.run(["unzip", "-t", str(tmp_path / "t.zip")], capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_become_plain_relative_paths(name: str) -> None:
    safe = safe_name(name)
    assert safe and not safe.startswith(("/", ".")) and ".." not in safe.split("/")
    assert "\\" not in safe and ":" not in safe and "\x00" not in safe and len(safe) <= 200
    assert all(c.isascii() and (c.isalnum() or c in "._-/") for c in safe)


def test_extracting_hostile_names_writes_only_inside_the_target(tmp_path: Path) -> None:
    data = build([(n, n.encode() or b"-", True) for n in HOSTILE])
    target = tmp_path / "out"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        z.extractall(target)
    assert len(set(names)) == len(HOSTILE)  # a name given twice is numbered, never overwritten
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == len(HOSTILE) and all(target in p.parents for p in written)
    if shutil.which("unzip"):
        (tmp_path / "t.zip").write_bytes(data)
        out = subprocess.run(["unzip", "-o", "-d", str(tmp_path / "u"), str(tmp_path / "t.zip")], capture_output=True, check=False)
        assert out.returncode == 0
        assert all((tmp_path / "u") in p.parents for p in (tmp_path / "u").rglob("*"))


def test_an_entry_must_be_closed_before_the_next() -> None:
    z = ZipStreamWriter(io.BytesIO())
    z.open_entry("a")
    with pytest.raises(ValueError, match="close the previous entry"):
        z.open_entry("b")
