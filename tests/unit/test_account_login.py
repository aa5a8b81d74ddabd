"""The account holder's assertion (dsar.services.account_login), with real keys and real JWTs:
RSA, EC P-256 and Ed25519 keys made here, assertions signed with pyjwt (or forged by hand where
pyjwt refuses to: HS256 keyed with the public key's PEM, a payload swapped under a signature).
And the configuration: a half one, or a key that cannot serve, stops the start."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from dsar.app import build_app
from dsar.domain.errors import ConfigurationError
from dsar.services.account_login import AccountLogin, Refusal, check, judge, load
from tests.conftest import make_settings

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
URL = "https://login.example-shop.test/signin"
ISS = "https://login.example-shop.test"
AUD = "dsar-privacy"
ACCOUNT = "acct-1001"
NONCE = "n" * 40

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    """One private key per accepted algorithm (made once: RSA key generation takes a moment)."""
    return {
        "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ES256": ec.generate_private_key(ec.SECP256R1()),
        "EdDSA": ed25519.Ed25519PrivateKey.generate(),
    }


def pem_file(folder: Path, key: PrivateKey, name: str = "login.pem") -> Path:
    path = folder / name
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def login_with(folder: Path, key: PrivateKey) -> AccountLogin:
    login = load(url=URL, public_key_file=pem_file(folder, key), jwks_file=None, issuer=ISS, audience=AUD)
    assert login is not None
    return login


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISS,
        "aud": AUD,
        "sub": ACCOUNT,
        "nonce": NONCE,
        "iat": int(NOW.timestamp()) - 5,
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: PrivateKey, alg: str, headers: dict[str, Any] | None = None, **changes: Any) -> str:
    return jwt.encode(claims(**changes), key, algorithm=alg, headers=headers)


def judged(login: AccountLogin, token: str, **kwargs: Any) -> Refusal | None:
    args: dict[str, Any] = {"account_id": ACCOUNT, "nonce": NONCE, "spent": (), "now": NOW} | kwargs
    return check(login, token, **args)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_a_valid_assertion_from_each_accepted_key_type_passes(tmp_path: Path, keys: dict[str, Any], alg: str) -> None:
    login = login_with(tmp_path, keys[alg])
    assert judged(login, sign(keys[alg], alg)) is None
    # the audience may be one of several
    assert judged(login, sign(keys[alg], alg, aud=["someone-else", AUD])) is None


def test_expiry_is_required_and_checked_with_a_minute_of_leeway(tmp_path: Path, keys: dict[str, Any]) -> None:
    key = keys["ES256"]
    login = login_with(tmp_path, key)
    assert judged(login, sign(key, "ES256", exp=int(NOW.timestamp()) - 30)) is None  # within the leeway
    assert judged(login, sign(key, "ES256", exp=int(NOW.timestamp()) - 61)) is Refusal.EXPIRED
    assert judged(login, sign(key, "ES256", exp=None)) is Refusal.MISSING_CLAIM
    assert judged(login, sign(key, "ES256", exp="tomorrow")) is Refusal.MALFORMED


def test_an_assertion_not_yet_valid_is_refused(tmp_path: Path, keys: dict[str, Any]) -> None:
    key = keys["ES256"]
    login = login_with(tmp_path, key)
    later = int((NOW + timedelta(minutes=3)).timestamp())
    assert judged(login, sign(key, "ES256", nbf=later)) is Refusal.NOT_YET_VALID
    assert judged(login, sign(key, "ES256", iat=later)) is Refusal.NOT_YET_VALID
    assert judged(login, sign(key, "ES256", nbf=int(NOW.timestamp()) + 30)) is None  # clock skew


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"iss": "https://login.evil.test"}, Refusal.WRONG_ISSUER),
        ({"iss": ISS + "/"}, Refusal.WRONG_ISSUER),
        ({"iss": None}, Refusal.MISSING_CLAIM),
        ({"aud": "another-service"}, Refusal.WRONG_AUDIENCE),
        ({"aud": None}, Refusal.MISSING_CLAIM),
        ({"sub": "acct-1002"}, Refusal.WRONG_SUBJECT),
        ({"sub": ACCOUNT.upper()}, Refusal.WRONG_SUBJECT),
        ({"sub": None}, Refusal.MISSING_CLAIM),
        ({"nonce": None}, Refusal.MISSING_CLAIM),
        ({"nonce": "m" * 40}, Refusal.WRONG_NONCE),
    ],
)
def test_each_claim_is_checked(tmp_path: Path, keys: dict[str, Any], changes: dict[str, Any], refusal: Refusal) -> None:
    key = keys["EdDSA"]
    assert judged(login_with(tmp_path, key), sign(key, "EdDSA", **changes)) is refusal


def test_a_spent_nonce_is_a_replay(tmp_path: Path, keys: dict[str, Any]) -> None:
    key = keys["EdDSA"]
    login = login_with(tmp_path, key)
    earlier = "e" * 40
    token = sign(key, "EdDSA", nonce=earlier)
    assert judged(login, token, spent=(earlier,)) is Refusal.REPLAYED
    assert judged(login, token, spent=()) is Refusal.WRONG_NONCE  # another session's
    assert judged(login, token, nonce=earlier) is None


def test_no_account_on_file_refuses(tmp_path: Path, keys: dict[str, Any]) -> None:
    key = keys["EdDSA"]
    assert judged(login_with(tmp_path, key), sign(key, "EdDSA"), account_id=None) is Refusal.NO_ACCOUNT


def test_a_tampered_payload_breaks_the_signature(tmp_path: Path, keys: dict[str, Any]) -> None:
    key = keys["RS256"]
    login = login_with(tmp_path, key)
    header, _, signature = sign(key, "RS256", sub="acct-1002").split(".")
    forged = ".".join([header, b64(json.dumps(claims()).encode()), signature])
    assert judged(login, forged) is Refusal.BAD_SIGNATURE
    assert judged(login, forged[:-4] + "AAAA") is Refusal.BAD_SIGNATURE


def test_an_assertion_signed_by_another_key_is_refused(tmp_path: Path, keys: dict[str, Any]) -> None:
    login = login_with(tmp_path, keys["ES256"])
    other = ec.generate_private_key(ec.SECP256R1())
    assert judged(login, sign(other, "ES256")) is Refusal.BAD_SIGNATURE


def test_alg_none_is_refused(tmp_path: Path, keys: dict[str, Any]) -> None:
    login = login_with(tmp_path, keys["RS256"])
    unsigned = jwt.encode(claims(), None, algorithm="none")
    assert judged(login, unsigned) is Refusal.BAD_ALGORITHM
    header = b64(json.dumps({"alg": "NONE", "typ": "JWT"}).encode())
    assert judged(login, f"{header}.{b64(json.dumps(claims()).encode())}.") is Refusal.BAD_ALGORITHM


def test_hs256_keyed_with_the_public_pem_is_refused(tmp_path: Path, keys: dict[str, Any]) -> None:
    """Key confusion: the public key is public, so an HMAC keyed with it proves nothing."""
    login = login_with(tmp_path, keys["RS256"])
    pem = (tmp_path / "login.pem").read_bytes()
    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims()).encode())}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    assert judged(login, f"{signing_input}.{b64(mac)}") is Refusal.BAD_ALGORITHM


def test_an_algorithm_not_of_the_key_s_type_is_refused(tmp_path: Path, keys: dict[str, Any]) -> None:
    login = login_with(tmp_path, keys["RS256"])
    assert judged(login, sign(keys["ES256"], "ES256")) is Refusal.BAD_ALGORITHM
    assert judged(login, sign(keys["RS256"], "PS256")) is Refusal.BAD_ALGORITHM
    assert judged(login, sign(keys["RS256"], "RS512")) is Refusal.BAD_ALGORITHM


@pytest.mark.parametrize("junk", ["", "abc", "a.b", "a.b.c.d", "é.é.é", "x" * 9000, "eyJhbGciOiJFUzI1NiJ9.!!!.sig"])
def test_junk_is_malformed(tmp_path: Path, keys: dict[str, Any], junk: str) -> None:
    assert judged(login_with(tmp_path, keys["ES256"]), junk) is Refusal.MALFORMED


def test_a_jwks_key_is_chosen_by_kid(tmp_path: Path, keys: dict[str, Any]) -> None:
    entries = [
        RSAAlgorithm.to_jwk(keys["RS256"].public_key(), as_dict=True) | {"kid": "rsa-2026", "use": "sig"},
        ECAlgorithm.to_jwk(keys["ES256"].public_key(), as_dict=True) | {"kid": "ec-2026"},
        OKPAlgorithm.to_jwk(keys["EdDSA"].public_key(), as_dict=True) | {"kid": "ed-2026", "alg": "EdDSA"},
        {"kty": "oct", "kid": "hmac", "k": b64(b"a shared secret that is never ever used")},  # skipped
        ECAlgorithm.to_jwk(keys["ES256"].public_key(), as_dict=True) | {"kid": "enc", "use": "enc"},  # skipped
    ]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": entries}))
    login = load(url=URL, public_key_file=None, jwks_file=path, issuer=ISS, audience=AUD)
    assert login is not None and sorted(login.by_kid) == ["ec-2026", "ed-2026", "rsa-2026"]
    assert judged(login, sign(keys["RS256"], "RS256", headers={"kid": "rsa-2026"})) is None
    assert judged(login, sign(keys["ES256"], "ES256", headers={"kid": "ec-2026"})) is None
    assert judged(login, sign(keys["EdDSA"], "EdDSA", headers={"kid": "ed-2026"})) is None
    assert judged(login, sign(keys["ES256"], "ES256")) is Refusal.UNKNOWN_KEY  # no kid
    assert judged(login, sign(keys["ES256"], "ES256", headers={"kid": "nope"})) is Refusal.UNKNOWN_KEY
    assert judged(login, sign(keys["ES256"], "ES256", headers={"kid": "enc"})) is Refusal.UNKNOWN_KEY
    # the kid of one key, signed by another (of the same or another type)
    assert judged(login, sign(keys["ES256"], "ES256", headers={"kid": "rsa-2026"})) is Refusal.BAD_ALGORITHM
    other = ec.generate_private_key(ec.SECP256R1())
    assert judged(login, sign(other, "ES256", headers={"kid": "ec-2026"})) is Refusal.BAD_SIGNATURE
    # HS256 under the kid of the symmetric key the JWKS also holds: never accepted
    forged = jwt.encode(claims(), b"a shared secret that is never ever used", algorithm="HS256", headers={"kid": "hmac"})
    assert judged(login, forged) is Refusal.BAD_ALGORITHM


def test_the_sign_in_address_carries_return_to_and_state(tmp_path: Path, keys: dict[str, Any]) -> None:
    login = login_with(tmp_path, keys["EdDSA"])
    assert login.sign_in_url("https://privacy.test/verify/account", "abc") == (
        f"{URL}?return_to=https%3A%2F%2Fprivacy.test%2Fverify%2Faccount&state=abc"
    )
    with_query = AccountLogin(URL + "?client=dsar", ISS, AUD, key=login.key)
    assert with_query.sign_in_url("https://privacy.test/verify/account", "abc").startswith(f"{URL}?client=dsar&return_to=")


def test_an_accepted_assertion_hands_back_its_claims_and_a_refused_one_none(tmp_path: Path, keys: dict[str, Any]) -> None:
    login = login_with(tmp_path, keys["EdDSA"])
    ok = judge(login, sign(keys["EdDSA"], "EdDSA", pwd_reset_recent=True), account_id=ACCOUNT, nonce=NONCE, now=NOW)
    assert ok.refusal is None and ok.claims["pwd_reset_recent"] is True and ok.claims["sub"] == ACCOUNT
    refused = judge(login, sign(keys["EdDSA"], "EdDSA", sub="acct-2", risk=True), account_id=ACCOUNT, nonce=NONCE, now=NOW)
    assert refused.refusal is Refusal.WRONG_SUBJECT and refused.claims == {}  # nothing read from a refused one


def test_the_watched_risk_claims_are_configured(tmp_path: Path, keys: dict[str, Any]) -> None:
    pem = pem_file(tmp_path, keys["EdDSA"])
    args: dict[str, Any] = {"url": URL, "public_key_file": pem, "jwks_file": None, "issuer": ISS, "audience": AUD}
    assert load(**args).risk_claims == ("risk", "pwd_reset_recent")  # type: ignore[union-attr]
    assert load(**args, risk_claims=" new_device, ,risk,risk").risk_claims == ("new_device", "risk")  # type: ignore[union-attr]
    assert load(**args, risk_claims="").risk_claims == ()  # type: ignore[union-attr]


# --- configuration ----------------------------------------------------------------------------


def test_nothing_configured_is_no_login(tmp_path: Path) -> None:
    assert load(url=None, public_key_file=None, jwks_file=None, issuer=None, audience=None) is None


@pytest.mark.parametrize(
    "missing",
    ["DSAR_ACCOUNT_LOGIN_URL", "DSAR_ACCOUNT_LOGIN_PUBLIC_KEY_FILE", "DSAR_ACCOUNT_LOGIN_ISSUER", "DSAR_ACCOUNT_LOGIN_AUDIENCE"],
)
def test_a_half_configuration_stops_the_start_naming_what_is_missing(tmp_path: Path, keys: dict[str, Any], missing: str) -> None:
    full = {
        "account_login_url": URL,
        "account_login_public_key_file": pem_file(tmp_path, keys["EdDSA"]),
        "account_login_issuer": ISS,
        "account_login_audience": AUD,
    }
    settings = make_settings(tmp_path / "home", **{k: v for k, v in full.items() if k != missing.removeprefix("DSAR_").lower()})
    with pytest.raises(ConfigurationError, match=missing) as raised:
        build_app(settings)
    assert "half configured" in str(raised.value)
    # all four: the app starts with the login
    app = build_app(make_settings(tmp_path / "home", **full), migrate_schema=True)
    try:
        assert app.ctx.policy.account_login is not None and app.ctx.policy.account_login.issuer == ISS
        assert app.settings.describe()["account_login_issuer"] == ISS
        # the claims that flag a risky account (DSAR_ACCOUNT_LOGIN_RISK_CLAIMS), by default
        assert app.ctx.policy.account_login.risk_claims == ("risk", "pwd_reset_recent")
        assert app.settings.describe()["account_login_risk_claims"] == "risk,pwd_reset_recent"
    finally:
        app.engine.dispose()


def test_unusable_keys_stop_the_start(tmp_path: Path, keys: dict[str, Any]) -> None:
    def attempt(**kwargs: Any) -> None:
        args: dict[str, Any] = {"url": URL, "public_key_file": None, "jwks_file": None, "issuer": ISS, "audience": AUD} | kwargs
        load(**args)

    pem = pem_file(tmp_path, keys["EdDSA"])
    with pytest.raises(ConfigurationError, match="not both"):
        attempt(public_key_file=pem, jwks_file=pem)
    with pytest.raises(ConfigurationError, match="cannot read"):
        attempt(public_key_file=tmp_path / "absent.pem")
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(ConfigurationError, match="not a PEM public key"):
        attempt(public_key_file=tmp_path / "junk.pem")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ConfigurationError, match="2048"):
        attempt(public_key_file=pem_file(tmp_path, small, "small.pem"))
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ConfigurationError, match="P-256"):
        attempt(public_key_file=pem_file(tmp_path, p384, "p384.pem"))
    (tmp_path / "only-hmac.json").write_text(json.dumps({"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}))
    with pytest.raises(ConfigurationError, match="no signature key"):
        attempt(jwks_file=tmp_path / "only-hmac.json")
    with pytest.raises(ConfigurationError, match="absolute http"):
        attempt(url="/signin", public_key_file=pem)
