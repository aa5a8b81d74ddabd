"""Account holders re-authenticate through the organisation's own login (11 CCR 7061).

The subject's verification page sends them to the organisation's login page
(``DSAR_ACCOUNT_LOGIN_URL``) with ``return_to`` (dsar's ``/verify/account``) and ``state`` (an
opaque nonce bound to their verification session, single use). Once signed in, the login
auto-posts a form to ``return_to`` with ``assertion``, a JWT signed with the organisation's
private key, and the same ``state``.

:func:`check` judges the assertion, purely (no clock, no store of its own: the caller passes the
time, the account id on file, the nonce it issued and the nonces already spent):

- the signature, against the configured public key (PEM) or the JWKS key its ``kid`` names,
  with an asymmetric algorithm of that key's type only: RS256, ES256 or EdDSA. Never ``none``,
  never HS* (a public key used as an HMAC secret would let anyone sign: key confusion);
- ``iss`` and ``aud`` equal to the configured ones; ``exp`` required and not passed, ``nbf`` and
  ``iat`` (when present) not in the future, each with :data:`LEEWAY` of clock skew;
- ``sub`` equal to the account id the system of record links to the subject, and ``nonce``
  equal to the nonce issued for this session (another case's, or a spent one, is refused).

:func:`judge` also hands back the verified claims: the identity service reads the configured
risk claims (``DSAR_ACCOUNT_LOGIN_RISK_CLAIMS``, :attr:`AccountLogin.risk_claims`) there, and a
truthy one sends the request to legal (dsar.domain.verification_risk, rule 4).

A failure is a :class:`Refusal`: a non-personal reason code for the audit trail. The subject is
never told which check failed.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from dsar.domain.errors import ConfigurationError
from dsar.domain.verification_risk import DEFAULT_RISK_CLAIMS, parse_claim_names

# PyJWT and the key types (with cryptography's x509 and serialization) are imported when a login
# is configured or an assertion checked, not by every process that builds a ServiceContext
# (issue 13, item 8: the CLI's start time).
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    PublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey

# The only algorithms accepted, each with the one key type it may be verified with.
ALGORITHMS = ("RS256", "ES256", "EdDSA")
LEEWAY = timedelta(seconds=60)
MAX_ASSERTION_CHARS = 8192
MIN_RSA_BITS = 2048
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


class Refusal(StrEnum):
    """Why an assertion was refused (audit only: the subject sees the same words for all)."""

    MALFORMED = "malformed"  # not a compact JWS, or its parts do not decode
    BAD_ALGORITHM = "bad_algorithm"  # none, HS*, or an algorithm not of the key's type
    UNKNOWN_KEY = "unknown_key"  # no key in the JWKS has its kid
    BAD_SIGNATURE = "bad_signature"
    MISSING_CLAIM = "missing_claim"  # exp, iss, aud, sub or nonce absent
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"  # nbf or iat in the future
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_NONCE = "wrong_nonce"  # issued for another session (or none dsar issued)
    REPLAYED = "replayed"  # a nonce of this case already spent
    WRONG_SUBJECT = "wrong_subject"  # signed in as another account
    NO_ACCOUNT = "no_account"  # no account id on file to compare with


@dataclass(frozen=True)
class VerifyingKey:
    key: PublicKey = field(repr=False)
    algorithm: str
    kid: str | None = None


@dataclass(frozen=True)
class AccountLogin:
    """The organisation's login as configured: where the subject signs in, who signs the
    assertion (``issuer``), for whom (``audience``), and the keys it is checked with (one PEM
    key, ``by_kid`` empty; or a JWKS, chosen by ``kid``)."""

    url: str
    issuer: str
    audience: str
    key: VerifyingKey | None = None
    by_kid: Mapping[str, VerifyingKey] = field(default_factory=dict)
    # claims of the assertion that, when truthy, flag recent suspicious activity on the account
    risk_claims: tuple[str, ...] = DEFAULT_RISK_CLAIMS

    def sign_in_url(self, return_to: str, state: str) -> str:
        """The login page with ``return_to`` and ``state`` appended."""
        joiner = "&" if urlsplit(self.url).query else ("" if self.url.endswith("?") else "?")
        return f"{self.url}{joiner}{urlencode({'return_to': return_to, 'state': state})}"


# --- configuration ----------------------------------------------------------------------------


def _algorithm_of(key: object) -> str | None:
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    if isinstance(key, RSAPublicKey):
        return "RS256" if key.key_size >= MIN_RSA_BITS else None
    if isinstance(key, EllipticCurvePublicKey):
        return "ES256" if isinstance(key.curve, SECP256R1) else None
    if isinstance(key, Ed25519PublicKey):
        return "EdDSA"
    return None


def _pem_key(path: Path) -> VerifyingKey:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        key = load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise ConfigurationError(f"DSAR_ACCOUNT_LOGIN_PUBLIC_KEY_FILE: cannot read {path} ({type(exc).__name__})") from None
    except ValueError:
        raise ConfigurationError(f"DSAR_ACCOUNT_LOGIN_PUBLIC_KEY_FILE: {path} is not a PEM public key") from None
    algorithm = _algorithm_of(key)
    if algorithm is None:
        raise ConfigurationError(
            f"DSAR_ACCOUNT_LOGIN_PUBLIC_KEY_FILE: {path} must hold an RSA (2048 bits or more), EC P-256 or Ed25519 public key"
        )
    assert isinstance(key, RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey)
    return VerifyingKey(key, algorithm)


def _jwks_keys(path: Path) -> dict[str, VerifyingKey]:
    """The JWKS's signature keys of an accepted type, by kid. Other keys (symmetric, private,
    for encryption, of another curve or algorithm) are never used."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"DSAR_ACCOUNT_LOGIN_JWKS_FILE: cannot read {path} ({type(exc).__name__})") from None
    except ValueError:
        raise ConfigurationError(f"DSAR_ACCOUNT_LOGIN_JWKS_FILE: {path} is not JSON") from None
    entries = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ConfigurationError(f"DSAR_ACCOUNT_LOGIN_JWKS_FILE: {path} is not a JWKS (an object with a 'keys' list)")
    found: dict[str, VerifyingKey] = {}
    import jwt

    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("kty") not in ("RSA", "EC", "OKP") or "d" in entry:
            continue
        try:
            jwk = jwt.PyJWK(entry)
        except jwt.PyJWKError:
            continue
        algorithm = _algorithm_of(jwk.key)
        if algorithm is None or jwk.algorithm_name != algorithm:
            continue
        kid = str(entry["kid"])
        if kid in found:
            raise ConfigurationError(f"DSAR_ACCOUNT_LOGIN_JWKS_FILE: {path} has two keys with kid {kid!r}")
        found[kid] = VerifyingKey(jwk.key, algorithm, kid)
    if not found:
        raise ConfigurationError(
            f"DSAR_ACCOUNT_LOGIN_JWKS_FILE: {path} has no signature key with a kid of an accepted type (RS256, ES256, EdDSA)"
        )
    return found


def load(
    *,
    url: str | None,
    public_key_file: Path | None,
    jwks_file: Path | None,
    issuer: str | None,
    audience: str | None,
    risk_claims: str | Sequence[str] | None = DEFAULT_RISK_CLAIMS,
) -> AccountLogin | None:
    """The login as configured, its keys read; None when none of the settings is set. A half
    configuration, or a key that cannot serve, is a ConfigurationError naming the setting.
    ``risk_claims``: the claim names that flag a risky account (empty: none)."""
    given = {
        "DSAR_ACCOUNT_LOGIN_URL": url,
        "DSAR_ACCOUNT_LOGIN_PUBLIC_KEY_FILE or DSAR_ACCOUNT_LOGIN_JWKS_FILE": public_key_file or jwks_file,
        "DSAR_ACCOUNT_LOGIN_ISSUER": issuer,
        "DSAR_ACCOUNT_LOGIN_AUDIENCE": audience,
    }
    missing = [name for name, value in given.items() if not value]
    if len(missing) == len(given):
        return None
    if missing:
        raise ConfigurationError(
            f"the account login is half configured: set {', '.join(missing)} too (or none of the DSAR_ACCOUNT_LOGIN_*)"
        )
    if public_key_file and jwks_file:
        raise ConfigurationError("set DSAR_ACCOUNT_LOGIN_PUBLIC_KEY_FILE or DSAR_ACCOUNT_LOGIN_JWKS_FILE, not both")
    assert url and issuer and audience
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ConfigurationError("DSAR_ACCOUNT_LOGIN_URL must be an absolute http(s) address without a #fragment")
    watched = parse_claim_names(risk_claims)
    if public_key_file:
        return AccountLogin(url, issuer, audience, key=_pem_key(public_key_file), risk_claims=watched)
    assert jwks_file is not None
    return AccountLogin(url, issuer, audience, by_kid=_jwks_keys(jwks_file), risk_claims=watched)


# --- checking ---------------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass(frozen=True)
class Judged:
    """An assertion judged: ``refusal`` None when it proves the sign-in; ``claims`` then holds
    its verified claims (empty when refused)."""

    refusal: Refusal | None
    claims: Mapping[str, Any] = field(default_factory=dict)


def check(
    login: AccountLogin,
    assertion: str,
    *,
    account_id: str | None,
    nonce: str,
    spent: Sequence[str] = (),
    now: datetime,
) -> Refusal | None:
    """None when ``assertion`` proves that the account ``account_id`` signed in for the session
    that was issued ``nonce``; else why not. ``spent``: this case's earlier nonces."""
    return judge(login, assertion, account_id=account_id, nonce=nonce, spent=spent, now=now).refusal


def judge(
    login: AccountLogin,
    assertion: str,
    *,
    account_id: str | None,
    nonce: str,
    spent: Sequence[str] = (),
    now: datetime,
) -> Judged:
    """:func:`check`, with the assertion's claims once it is accepted."""
    refused = _refusal_or_claims(login, assertion, account_id=account_id, nonce=nonce, spent=spent, now=now)
    return Judged(refused) if isinstance(refused, Refusal) else Judged(None, refused)


def _refusal_or_claims(
    login: AccountLogin,
    assertion: str,
    *,
    account_id: str | None,
    nonce: str,
    spent: Sequence[str],
    now: datetime,
) -> Refusal | dict[str, Any]:
    import jwt

    if not assertion or len(assertion) > MAX_ASSERTION_CHARS or not _COMPACT_JWS.match(assertion):
        return Refusal.MALFORMED
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        return Refusal.MALFORMED
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        return Refusal.BAD_ALGORITHM
    if login.key is not None:
        key: VerifyingKey | None = login.key
    else:
        kid = header.get("kid")
        key = login.by_kid.get(kid) if isinstance(kid, str) else None
        if key is None:
            return Refusal.UNKNOWN_KEY
    assert key is not None
    if alg != key.algorithm:
        return Refusal.BAD_ALGORITHM
    try:
        claims = jwt.decode(
            assertion,
            key.key,
            algorithms=[key.algorithm],
            audience=login.audience,
            issuer=login.issuer,
            # the times are checked below, against the caller's clock
            options={"require": ["exp", "iss", "aud", "sub"], "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.InvalidSignatureError:
        return Refusal.BAD_SIGNATURE
    except jwt.InvalidAlgorithmError:
        return Refusal.BAD_ALGORITHM
    except jwt.MissingRequiredClaimError:
        return Refusal.MISSING_CLAIM
    except jwt.InvalidIssuerError:
        return Refusal.WRONG_ISSUER
    except jwt.InvalidAudienceError:
        return Refusal.WRONG_AUDIENCE
    except jwt.InvalidTokenError:
        return Refusal.MALFORMED
    if claims.get("iss") != login.issuer:
        return Refusal.WRONG_ISSUER
    at = now.timestamp()
    leeway = LEEWAY.total_seconds()
    exp: Any = claims.get("exp")
    starts = [claims[name] for name in ("nbf", "iat") if claims.get(name) is not None]
    if not _number(exp) or not all(_number(v) for v in starts):
        return Refusal.MALFORMED
    if at > float(exp) + leeway:
        return Refusal.EXPIRED
    if any(at < float(v) - leeway for v in starts):
        return Refusal.NOT_YET_VALID
    given_nonce, sub = claims.get("nonce"), claims.get("sub")
    if not isinstance(given_nonce, str) or not given_nonce:
        return Refusal.MISSING_CLAIM
    if not _same(given_nonce, nonce):
        return Refusal.REPLAYED if any(_same(given_nonce, s) for s in spent) else Refusal.WRONG_NONCE
    if not account_id:
        return Refusal.NO_ACCOUNT
    if not isinstance(sub, str) or not _same(sub, account_id):
        return Refusal.WRONG_SUBJECT
    return dict(claims)
