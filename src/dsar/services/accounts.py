"""Staff accounts, their passwords and sessions' epoch, and the API tokens of helpdesk
integrations.

* Names: 1-64 ASCII letters, digits, ``.``, ``-``, ``_``; unique whatever their case.
* Passwords: scrypt (``cryptography``) with a random 16-byte salt; the parameters are stored
  with each hash (``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>``), so they can change. Checked in
  constant time; a login for an unknown name costs the same work (a dummy hash is checked).
* Set-password links: a random token shown once (``add_user``, ``password_reset_token``),
  stored as its SHA-256 digest, single use, valid for ``Policy.set_password_hours``; a new one
  replaces the account's earlier ones.
* Lock-out: ``Policy.login_max_failures`` consecutive failures lock the account for
  ``Policy.login_lockout_minutes``; a locked account is refused even with the right password,
  with the one message of every refusal (:class:`LoginRefused`).
* ``session_epoch`` goes up on a password change, a role change, deactivation and
  :func:`end_sessions`: every console session issued before stops working.
* API tokens: ``dsar_<43 url-safe characters>``, shown once, stored as a SHA-256 digest plus
  the non-secret prefix used to find it; scoped; revocable.

Every change and every login (success or not) is an event of the staff stream of the audit
log (:data:`dsar.domain.events.STAFF_STREAM`). A refused login for a name no account has keeps
only a keyed digest of that name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cache

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from dsar.crypto import totp
from dsar.domain.accounts import ApiToken, Role, StaffAccount, TokenScope
from dsar.domain.decisions import SignOffRefusal
from dsar.domain.errors import InvalidInput, LoginRefused, NotFound, ScopeMissing, TokenRefused
from dsar.domain.events import (
    STAFF_STREAM,
    ApiTokenCreated,
    ApiTokenRevoked,
    StaffAccountAdded,
    StaffCodesLockedOut,
    StaffDeactivated,
    StaffEvent,
    StaffLockedOut,
    StaffLoggedIn,
    StaffLoginFailed,
    StaffPasswordResetIssued,
    StaffPasswordSet,
    StaffRoleChanged,
    StaffSessionsEnded,
    StaffTotpEnrolled,
    StaffTrainingRecorded,
)
from dsar.domain.lockout import MAX_WRONG_CODES
from dsar.domain.request import clean_text
from dsar.services.context import ServiceContext
from dsar.services.ports import UnitOfWork

__all__ = [
    "LoginRefused",
    "NewAccount",
    "NewToken",
    "ScopeMissing",
    "TokenRefused",
    "add_user",
    "authenticate",
    "authenticate_token",
    "create_token",
    "deactivate",
    "end_sessions",
    "enrol_totp",
    "prove_approver",
    "find_account",
    "get_account",
    "legal_roster",
    "list_accounts",
    "list_tokens",
    "password_reset_token",
    "record_training",
    "revoke_token",
    "set_password",
    "set_role",
]

NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_PASSWORD = 1024
TOKEN_PREFIX = "dsar_"
PREFIX_CHARS = 8  # of the random part, kept in clear to find a token by
SCRYPT_R, SCRYPT_P, SALT_BYTES, HASH_BYTES = 8, 1, 16, 32


@dataclass(frozen=True)
class NewAccount:
    account: StaffAccount
    set_password_token: str  # shown once; only its digest is stored


@dataclass(frozen=True)
class TotpEnrolment:
    """An authenticator just enrolled: shown once (the URI holds the secret)."""

    account: StaffAccount
    uri: str  # otpauth://totp/...: scan it, or type the secret
    secret: str  # base32


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once; only its digest is stored


# --- checks ---------------------------------------------------------------------------------


def check_name(name: str, field: str = "name") -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(f"{field} is not a valid account name", [f"{field}: 1 to 64 letters, digits, '.', '-' or '_'"])
    return name


def check_role(role: Role | str, field: str = "role") -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(f"{field} is not a role", [f"{field}: one of {', '.join(r.value for r in Role)}"]) from None


def _by(by: str) -> str:
    text = clean_text(by, "by", required=True, limit=200)
    assert text is not None
    return text


def check_password(ctx: ServiceContext, name: str, password: str) -> None:
    minimum = ctx.policy.password_min_length
    if not isinstance(password, str) or len(password) < minimum:
        raise InvalidInput("password is too short", [f"password: at least {minimum} characters"])
    if len(password) > MAX_PASSWORD:
        raise InvalidInput("password is too long", [f"password: at most {MAX_PASSWORD} characters"])
    if name.casefold() in password.casefold():
        raise InvalidInput("password contains the account name", ["password: must not contain the account name"])


# --- password hashing -----------------------------------------------------------------------


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def hash_password(password: str, log2_n: int = 15) -> str:
    """``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>`` (base64url, no padding)."""
    salt = secrets.token_bytes(SALT_BYTES)
    derived = Scrypt(salt=salt, length=HASH_BYTES, n=2**log2_n, r=SCRYPT_R, p=SCRYPT_P).derive(password.encode())
    return f"scrypt${log2_n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(derived)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (constant-time comparison of the derived keys)."""
    try:
        scheme, log2_n, r, p, salt, expected = encoded.split("$")
        if scheme != "scrypt":
            return False
        kdf = Scrypt(salt=_unb64(salt), length=len(_unb64(expected)), n=2 ** int(log2_n), r=int(r), p=int(p))
        kdf.verify(password.encode(), _unb64(expected))
    except (ValueError, InvalidKey):
        return False
    return True


def _needs_rehash(encoded: str, log2_n: int) -> bool:
    parts = encoded.split("$")
    return len(parts) != 6 or parts[1:4] != [str(log2_n), str(SCRYPT_R), str(SCRYPT_P)]


@cache
def _dummy_hash(log2_n: int) -> str:
    return hash_password(secrets.token_urlsafe(16), log2_n)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _event_id() -> str:
    return secrets.token_hex(12)


def _record(uow: UnitOfWork, *events: StaffEvent) -> None:
    uow.audit.append(list(events))


def _name_digest(ctx: ServiceContext, name: str) -> str:
    return hmac.new(ctx.code_key, b"staff-login-name:" + name.casefold().encode(errors="replace"), hashlib.sha256).hexdigest()[:32]


def _account_named(uow: UnitOfWork, name: str) -> StaffAccount:
    check_name(name)
    account = uow.accounts.find(name)
    if account is None:
        raise NotFound("no staff account of this name")
    return account


def _issue_password_token(ctx: ServiceContext, uow: UnitOfWork, account: StaffAccount, now: datetime, by: str) -> str:
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(hours=ctx.policy.set_password_hours)
    uow.accounts.add_password_token(account.id, _digest(token), now, expires)
    _record(uow, StaffPasswordResetIssued(STAFF_STREAM, now, _event_id(), account.name, by, expires))
    return token


def _admins_left(uow: UnitOfWork, without: int) -> bool:
    return any(a.active and a.role is Role.ADMIN and a.id != without for a in uow.accounts.all())


# --- accounts -------------------------------------------------------------------------------


def add_user(ctx: ServiceContext, name: str, role: Role | str, *, by: str) -> NewAccount:
    """A new active account without a password, and the one-time token of its set-password link."""
    check_name(name)
    r = check_role(role)
    who = _by(by)
    now = ctx.clock()
    with ctx.uow() as uow:
        if uow.accounts.find(name) is not None:
            raise InvalidInput("name is taken", ["name: an account of this name exists already"])
        account = uow.accounts.add(name, r, now)
        _record(uow, StaffAccountAdded(STAFF_STREAM, now, _event_id(), account.name, r.value, who))
        token = _issue_password_token(ctx, uow, account, now, who)
        uow.commit()
    return NewAccount(account, token)


def password_reset_token(ctx: ServiceContext, name: str, *, by: str) -> str:
    """A new set-password token for an active account; earlier ones stop working. The current
    password keeps working until the new one is set."""
    who = _by(by)
    now = ctx.clock()
    with ctx.uow() as uow:
        account = _account_named(uow, name)
        if not account.active:
            raise InvalidInput("the account is deactivated", ["name: deactivated account"])
        token = _issue_password_token(ctx, uow, account, now, who)
        uow.commit()
    return token


def set_password(ctx: ServiceContext, token: str, password: str) -> StaffAccount:
    """Set the password through a set-password link's token (single use). Ends the account's
    sessions and lifts a lock-out."""
    refused = InvalidInput("this set-password link is not valid: it is unknown, used or expired", ["token: unknown, used or expired"])
    if not isinstance(token, str) or not token.strip() or len(token) > 200:
        raise refused
    digest = _digest(token.strip())
    now = ctx.clock()
    with ctx.uow() as uow:
        stored = uow.accounts.password_token(digest)
        if stored is None or stored.used_at is not None or now >= stored.expires_at:
            raise refused
        account = uow.accounts.get(stored.account_id)
        if account is None or not account.active:
            raise refused
        check_password(ctx, account.name, password)
        uow.accounts.set_password_hash(account.id, hash_password(password, ctx.policy.password_scrypt_log2_n))
        uow.accounts.use_password_token(digest, now)
        changed = replace(account, password_set=True, failed_logins=0, locked_until=None, session_epoch=account.session_epoch + 1)
        uow.accounts.save(changed)
        _record(uow, StaffPasswordSet(STAFF_STREAM, now, _event_id(), account.name))
        uow.commit()
    return changed


def authenticate(ctx: ServiceContext, name: str, password: str, *, source: str) -> StaffAccount:
    """The account whose name and password these are. Raises :class:`LoginRefused` (one message)
    for an unknown name, a wrong password, a locked or deactivated account, or one without a
    password yet; every attempt is recorded and costs the same hashing work."""
    policy = ctx.policy
    now = ctx.clock()
    src = (source or "")[:100]
    valid_name = isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None
    pw = password if isinstance(password, str) and len(password) <= MAX_PASSWORD else ""
    with ctx.uow() as uow:
        found = uow.accounts.find(name) if valid_name else None
        # The row stays locked to the end: parallel attempts on one account are counted in turn.
        account = uow.accounts.lock(found.id) if found is not None else None
        stored = uow.accounts.password_hash(account.id) if account is not None else None
        ok = verify_password(pw, stored or _dummy_hash(policy.password_scrypt_log2_n)) and stored is not None and pw != ""
        if account is None:
            digest = _name_digest(ctx, name if isinstance(name, str) else "")
            _record(uow, StaffLoginFailed(STAFF_STREAM, now, _event_id(), None, digest, "unknown name", src))
            uow.commit()
            raise LoginRefused()
        reason = None
        if not account.active:
            reason = "deactivated"
        elif account.locked(now):
            reason = "locked"
        elif stored is None:
            reason = "no password set"
        elif not ok:
            reason = "wrong password"
        if reason is not None:
            changed = account
            events: list[StaffEvent] = [StaffLoginFailed(STAFF_STREAM, now, _event_id(), account.name, None, reason, src)]
            if reason == "wrong password":
                failures = account.failed_logins + 1
                if failures >= policy.login_max_failures:
                    until = now + timedelta(minutes=policy.login_lockout_minutes)
                    changed = replace(account, failed_logins=0, locked_until=until)
                    events.append(StaffLockedOut(STAFF_STREAM, now, _event_id(), account.name, until, failures))
                else:
                    changed = replace(account, failed_logins=failures)
                uow.accounts.save(changed)
            _record(uow, *events)
            uow.commit()
            raise LoginRefused()
        assert stored is not None
        if _needs_rehash(stored, policy.password_scrypt_log2_n):
            uow.accounts.set_password_hash(account.id, hash_password(pw, policy.password_scrypt_log2_n))
        changed = replace(account, failed_logins=0, locked_until=None, last_login_at=now)
        uow.accounts.save(changed)
        _record(uow, StaffLoggedIn(STAFF_STREAM, now, _event_id(), account.name, src))
        uow.commit()
    return changed


def get_account(ctx: ServiceContext, account_id: int) -> StaffAccount | None:
    with ctx.uow() as uow:
        return uow.accounts.get(account_id)


def find_account(ctx: ServiceContext, name: str) -> StaffAccount | None:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return None
    with ctx.uow() as uow:
        return uow.accounts.find(name)


def list_accounts(ctx: ServiceContext) -> list[StaffAccount]:
    with ctx.uow() as uow:
        return uow.accounts.all()


def legal_roster(ctx: ServiceContext) -> list[StaffAccount]:
    """The active legal accounts: who may sign off."""
    return [a for a in list_accounts(ctx) if a.active and a.role is Role.LEGAL]


def set_role(ctx: ServiceContext, name: str, role: Role | str, *, by: str) -> StaffAccount:
    """Change an account's role (its sessions end). The last active admin keeps theirs."""
    r = check_role(role)
    who = _by(by)
    now = ctx.clock()
    with ctx.uow() as uow:
        account = _account_named(uow, name)
        if account.role is r:
            return account
        if account.role is Role.ADMIN and account.active and not _admins_left(uow, account.id):
            raise InvalidInput("the last active admin cannot lose the role", ["role: the last active admin keeps it"])
        changed = replace(account, role=r, session_epoch=account.session_epoch + 1)
        uow.accounts.save(changed)
        _record(uow, StaffRoleChanged(STAFF_STREAM, now, _event_id(), account.name, account.role.value, r.value, who))
        uow.commit()
    return changed


def deactivate(ctx: ServiceContext, name: str, *, by: str) -> StaffAccount:
    """The account can no longer sign in; its sessions end. The last active admin cannot be deactivated."""
    who = _by(by)
    now = ctx.clock()
    with ctx.uow() as uow:
        account = _account_named(uow, name)
        if not account.active:
            return account
        if account.role is Role.ADMIN and not _admins_left(uow, account.id):
            raise InvalidInput("the last active admin cannot be deactivated", ["name: the last active admin"])
        changed = replace(account, active=False, session_epoch=account.session_epoch + 1)
        uow.accounts.save(changed)
        _record(uow, StaffDeactivated(STAFF_STREAM, now, _event_id(), account.name, who))
        uow.commit()
    return changed


def record_training(ctx: ServiceContext, name: str, on: date, *, by: str) -> StaffAccount:
    """Record the date of the account's latest privacy-law training (not in the future)."""
    who = _by(by)
    now = ctx.clock()
    if not isinstance(on, date) or isinstance(on, datetime):
        raise InvalidInput("on is not a date", ["on: a date (YYYY-MM-DD)"])
    if on > now.astimezone(ctx.policy.timezone).date():
        raise InvalidInput("on is in the future", ["on: not after today"])
    with ctx.uow() as uow:
        account = _account_named(uow, name)
        changed = replace(account, trained_on=on)
        uow.accounts.save(changed)
        _record(uow, StaffTrainingRecorded(STAFF_STREAM, now, _event_id(), account.name, on, who))
        uow.commit()
    return changed


def end_sessions(ctx: ServiceContext, account_id: int, *, by: str, reason: str = "") -> StaffAccount:
    """Every console session of the account stops working (signed out everywhere)."""
    who = _by(by)
    now = ctx.clock()
    why = clean_text(reason, "reason", limit=200) or ""
    with ctx.uow() as uow:
        account = uow.accounts.get(account_id)
        if account is None:
            raise NotFound(f"no staff account {account_id}")
        changed = replace(account, session_epoch=account.session_epoch + 1)
        uow.accounts.save(changed)
        _record(uow, StaffSessionsEnded(STAFF_STREAM, now, _event_id(), account.name, who, why))
        uow.commit()
    return changed


# --- authenticators (TOTP) for legal's sign-off ---------------------------------------------


def _totp_aad(account_id: int) -> str:
    return f"staff-totp/{account_id}"


def enrol_totp(ctx: ServiceContext, name: str, *, by: str) -> TotpEnrolment:
    """Give a legal (or admin) account a new TOTP secret, sealed under the staff stream's key;
    an earlier one stops working. The URI is returned once, to be scanned into an authenticator
    app; only the sealed secret is kept."""
    who = _by(by)
    now = ctx.clock()
    with ctx.uow() as uow:
        account = _account_named(uow, name)
        if not account.active:
            raise InvalidInput("the account is deactivated", ["name: deactivated account"])
        if account.role is not Role.LEGAL:
            raise InvalidInput("only legal accounts sign off: no authenticator for this role", ["name: not a legal account"])
        # The event first: the staff stream's data key is created with its first event.
        _record(uow, StaffTotpEnrolled(STAFF_STREAM, now, _event_id(), account.name, who))
        secret = totp.new_secret()
        uow.accounts.set_totp(account.id, uow.keys.seal(STAFF_STREAM, secret, _totp_aad(account.id)))
        uow.commit()
        enrolled = replace(account, totp_enrolled=True)
    return TotpEnrolment(enrolled, totp.provisioning_uri(secret, account.name, ctx.policy.organisation_name), totp.secret_base32(secret))


def approver_digest(ctx: ServiceContext, name: str) -> str:
    """A keyed digest of a name given as approver that is no staff account (never the name)."""
    return _name_digest(ctx, name)


def prove_approver(uow: UnitOfWork, name: str, code: str, now: datetime) -> StaffAccount | SignOffRefusal:
    """The legal account ``name`` if ``code`` is its authenticator's current code (one step
    either side) and no code of that step or a later one was used before; else why not. A
    wrong code is counted: the fifth within 15 minutes locks all of the account's codes out for
    15 minutes (``locked_out``; :mod:`dsar.domain.lockout`, a ``StaffCodesLockedOut`` event). A
    good code is spent here (its step recorded), in the caller's unit of work: the decision it
    proves is committed with it."""
    found = uow.accounts.find(name) if isinstance(name, str) and NAME_PATTERN.fullmatch(name) else None
    account = uow.accounts.lock(found.id) if found is not None else None
    if account is None or not account.active or account.role is not Role.LEGAL:
        return SignOffRefusal.NOT_ON_ROSTER
    record = uow.accounts.totp(account.id)
    if record is None:
        return SignOffRefusal.NO_AUTHENTICATOR
    if record.failures.locked(now):
        return SignOffRefusal.LOCKED_OUT  # every code, the right one too, until the lock-out ends
    secret = uow.keys.open(STAFF_STREAM, record.sealed_secret, _totp_aad(account.id))
    step = totp.matching_step(secret, code, now)
    if step is None:
        # Counted in the caller's unit of work, which records the refused attempt with it.
        failures = record.failures.after_wrong_code(now)
        uow.accounts.set_totp_failures(account.id, failures)
        if failures.locked(now):
            _record(uow, StaffCodesLockedOut(STAFF_STREAM, now, _event_id(), account.name, failures.locked_until, MAX_WRONG_CODES))
        return SignOffRefusal.WRONG_CODE
    if record.last_step is not None and step <= record.last_step:
        return SignOffRefusal.REPLAYED_CODE
    uow.accounts.use_totp_step(account.id, step)
    return account


# --- API tokens -----------------------------------------------------------------------------


def _scopes(scopes: Iterable[TokenScope | str]) -> frozenset[TokenScope]:
    out: set[TokenScope] = set()
    for s in scopes:
        try:
            out.add(TokenScope(s))
        except ValueError:
            raise InvalidInput("scope is not known", [f"scope: one of {', '.join(t.value for t in TokenScope)}"]) from None
    if not out:
        raise InvalidInput("a token needs a scope", ["scope: at least one"])
    return frozenset(out)


def _prefix(secret: str) -> str:
    return secret[: len(TOKEN_PREFIX) + PREFIX_CHARS]


def create_token(ctx: ServiceContext, name: str, scopes: Sequence[TokenScope | str], *, by: str) -> NewToken:
    """A new API token; its secret is returned once and only its digest stored."""
    check_name(name)
    wanted = _scopes(scopes)
    who = _by(by)
    now = ctx.clock()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with ctx.uow() as uow:
        token = uow.tokens.add(name, wanted, _prefix(secret), _digest(secret), now, who)
        _record(uow, ApiTokenCreated(STAFF_STREAM, now, _event_id(), token.id, name, tuple(sorted(s.value for s in wanted)), who))
        uow.commit()
    return NewToken(token, secret)


def list_tokens(ctx: ServiceContext) -> list[ApiToken]:
    with ctx.uow() as uow:
        return uow.tokens.all()


def revoke_token(ctx: ServiceContext, token_id: int, *, by: str) -> ApiToken:
    who = _by(by)
    now = ctx.clock()
    with ctx.uow() as uow:
        token = uow.tokens.get(token_id)
        if token is None:
            raise NotFound(f"no API token {token_id}")
        if token.revoked_at is not None:
            return token
        uow.tokens.revoke(token_id, now)
        _record(uow, ApiTokenRevoked(STAFF_STREAM, now, _event_id(), token.id, token.name, who))
        uow.commit()
    return replace(token, revoked_at=now)


_DUMMY_DIGEST = "0" * 64


def authenticate_token(ctx: ServiceContext, secret: str, scope: TokenScope) -> ApiToken:
    """The active token of this secret, if it has ``scope``. Raises :class:`TokenRefused`
    (unknown or revoked) or :class:`ScopeMissing`. Records the use."""
    if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise TokenRefused("the API token is not valid")
    digest = _digest(secret)
    now = ctx.clock()
    with ctx.uow() as uow:
        found: ApiToken | None = None
        candidates: list[tuple[ApiToken | None, str]] = [*uow.tokens.with_prefix(_prefix(secret))] or [(None, _DUMMY_DIGEST)]
        for token, stored in candidates:
            if hmac.compare_digest(stored.encode(), digest.encode()) and token is not None:
                found = token
        if found is None or found.revoked_at is not None:
            raise TokenRefused("the API token is not valid")
        if scope not in found.scopes:
            raise ScopeMissing(f"the API token lacks the scope {scope.value}")
        uow.tokens.touch(found.id, now)
        uow.commit()
    return replace(found, last_used_at=now)
