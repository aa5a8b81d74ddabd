"""RFC 6238 TOTP as authenticator apps make it (dsar.crypto.totp over cryptography's TOTP):
SHA-1, 6 digits, 30-second steps, one step either side, the matching step returned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from dsar.crypto import totp

# RFC 6238 appendix B: the SHA-1 seed "12345678901234567890"; the 8-digit values' last 6 digits.
SEED = b"12345678901234567890"
VECTORS = [(59, "287082"), (1111111109, "081804"), (1111111111, "050471"), (1234567890, "005924"), (2000000000, "279037")]


@pytest.mark.parametrize(("t", "expected"), VECTORS)
def test_codes_match_the_rfc_6238_test_vectors(t: int, expected: str) -> None:
    at = datetime.fromtimestamp(t, UTC)
    assert totp.code_at(SEED, at) == expected
    assert totp.matching_step(SEED, expected, at) == t // 30


def test_a_code_is_good_one_step_either_side_and_not_two() -> None:
    at = datetime(2026, 12, 6, 4, 10, 15, tzinfo=UTC)
    step = totp.step_of(at)
    now = totp.code_at(SEED, at)
    assert totp.matching_step(SEED, now, at + timedelta(seconds=30)) == step
    assert totp.matching_step(SEED, now, at - timedelta(seconds=30)) == step
    assert totp.matching_step(SEED, now, at + timedelta(seconds=60)) is None
    assert totp.matching_step(SEED, now, at, window=0) == step


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "１２３４５６", "12 34 5"])
def test_malformed_codes_match_nothing(bad: str) -> None:
    assert totp.matching_step(SEED, bad, datetime.fromtimestamp(59, UTC)) is None


def test_spaces_typed_inside_a_code_are_ignored() -> None:
    assert totp.matching_step(SEED, "287 082", datetime.fromtimestamp(59, UTC)) == 1


def test_the_provisioning_uri_is_what_authenticator_apps_scan() -> None:
    secret = totp.new_secret()
    assert len(secret) == 20
    uri = totp.provisioning_uri(secret, "lena.legal", "Example Shop Ltd")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc, parts.path) == ("otpauth", "totp", "/Example%20Shop%20Ltd:lena.legal")
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert q == {"secret": totp.secret_base32(secret), "issuer": "Example Shop Ltd", "algorithm": "SHA1", "digits": "6", "period": "30"}
    assert totp.secret_from_base32(q["secret"].lower()) == secret
