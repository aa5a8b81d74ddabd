from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dsar.crypto import BlindIndex, LocalKeyProvider, new_data_key, open_sealed, seal
from dsar.domain.errors import ConfigurationError, IntegrityError


def test_a_sealed_field_opens_only_with_its_key_and_its_place(tmp_path: Path) -> None:
    key = new_data_key()
    sealed = seal(key, b"Jane Doe", b"privacy_request/subject_name/r1")
    assert b"Jane" not in sealed
    assert open_sealed(key, sealed, b"privacy_request/subject_name/r1") == b"Jane Doe"
    with pytest.raises(IntegrityError):
        open_sealed(key, sealed, b"privacy_request/subject_name/r2")  # copied to another row
    with pytest.raises(IntegrityError):
        open_sealed(new_data_key(), sealed, b"privacy_request/subject_name/r1")


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_a_flipped_byte_anywhere_in_a_sealed_field_is_detected(position: int) -> None:
    key = new_data_key()
    sealed = bytearray(seal(key, b"value", b"aad"))
    sealed[position] ^= 0x01
    with pytest.raises(IntegrityError):
        open_sealed(key, bytes(sealed), b"aad")


def test_the_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    first = LocalKeyProvider.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = LocalKeyProvider.from_file(path)
    assert first.key_id == second.key_id
    wrapped = first.wrap(b"k" * 32, b"request-key/r1")
    assert second.unwrap(wrapped, b"request-key/r1") == b"k" * 32
    with pytest.raises(IntegrityError):
        second.unwrap(wrapped, b"request-key/r2")


def test_a_corrupt_key_file_is_a_clear_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_text(json.dumps({"version": 1, "key_id": "x", "master_key": "not base64!"}))
    with pytest.raises(ConfigurationError, match="corrupt"):
        LocalKeyProvider.from_file(path)


def test_blind_index_tokens_are_stable_keyed_and_kind_separated(tmp_path: Path) -> None:
    a = BlindIndex(LocalKeyProvider.from_file(tmp_path / "a.key").derive("blind-index"))
    b = BlindIndex(LocalKeyProvider.from_file(tmp_path / "b.key").derive("blind-index"))
    assert a.token("email", "jane@example.com") == a.token("email", "jane@example.com")
    assert a.token("email", "jane@example.com") != b.token("email", "jane@example.com")
    assert a.token("email", "x") != a.token("account_id", "x")
