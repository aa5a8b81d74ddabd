"""Staff accounts, set-password tokens and API tokens in SQL (:class:`dsar.services.ports.AccountRepository`,
:class:`dsar.services.ports.TokenRepository`). Nothing here is a subject's data; secrets are
stored only as digests (tokens) or scrypt hashes (passwords)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, LargeBinary
from sqlalchemy import delete as sa_delete
from sqlmodel import Field, Session, SQLModel, col, select

from dsar.domain.accounts import ApiToken, Role, StaffAccount, TokenScope
from dsar.domain.errors import InvalidInput, NotFound
from dsar.domain.lockout import CodeFailures
from dsar.persistence.tables import as_utc, as_utc_or_none, refused_if_exists
from dsar.services.ports import PasswordToken, TotpRecord


class StaffAccountRow(SQLModel, table=True):
    """A staff account (staff data, not subjects'). ``name_key`` is the casefolded name: names
    are unique whatever their case. ``password_hash`` is scrypt with its parameters."""

    __tablename__ = "staff_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    name_key: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)
    active: bool = True
    created_at: datetime
    password_hash: str | None = Field(default=None, max_length=300)
    failed_logins: int = 0
    locked_until: datetime | None = None
    last_login_at: datetime | None = None
    trained_on: date | None = None
    session_epoch: int = 0
    # The authenticator's TOTP secret, sealed under the staff stream's data key (migration 0007),
    # and the last time step one of its codes was used (a code is good once).
    totp_secret_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    totp_last_step: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Wrong authenticator codes counted since totp_failed_since, and the codes' lock-out
    # (migration 0008, dsar.domain.lockout).
    totp_failures: int = 0
    totp_failed_since: datetime | None = None
    totp_locked_until: datetime | None = None


class StaffPasswordTokenRow(SQLModel, table=True):
    """A set-password link's token, as its SHA-256 digest only; single use."""

    __tablename__ = "staff_password_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="staff_account.id", index=True)
    digest: str = Field(unique=True, max_length=64)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class ApiTokenRow(SQLModel, table=True):
    """An API token: the SHA-256 digest of its secret and the secret's short, non-secret prefix."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    prefix: str = Field(index=True, max_length=16)
    digest: str = Field(unique=True, max_length=64)
    scopes: str = Field(max_length=200)  # space-separated, sorted
    created_at: datetime
    created_by: str = Field(max_length=200)
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


def _account(r: StaffAccountRow) -> StaffAccount:
    assert r.id is not None
    return StaffAccount(
        id=r.id,
        name=r.name,
        role=Role(r.role),
        active=r.active,
        created_at=as_utc(r.created_at),
        password_set=r.password_hash is not None,
        failed_logins=r.failed_logins,
        locked_until=as_utc_or_none(r.locked_until),
        last_login_at=as_utc_or_none(r.last_login_at),
        trained_on=r.trained_on,
        session_epoch=r.session_epoch,
        totp_enrolled=r.totp_secret_enc is not None,
    )


def _token(r: ApiTokenRow) -> ApiToken:
    assert r.id is not None
    return ApiToken(
        id=r.id,
        name=r.name,
        scopes=frozenset(TokenScope(s) for s in r.scopes.split()),
        created_at=as_utc(r.created_at),
        created_by=r.created_by,
        revoked_at=as_utc_or_none(r.revoked_at),
        last_used_at=as_utc_or_none(r.last_used_at),
        prefix=r.prefix,
    )


class SqlAccounts:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _row(self, account_id: int) -> StaffAccountRow:
        row = self._s.get(StaffAccountRow, account_id)
        if row is None:
            raise NotFound(f"no staff account {account_id}")
        return row

    def add(self, name: str, role: Role, at: datetime) -> StaffAccount:
        row = StaffAccountRow(name=name, name_key=name.casefold(), role=role.value, active=True, created_at=at)
        with refused_if_exists("an account of this name"):
            with self._s.begin_nested():
                self._s.add(row)
        self._s.refresh(row)
        return _account(row)

    def get(self, account_id: int) -> StaffAccount | None:
        row = self._s.get(StaffAccountRow, account_id)
        return None if row is None else _account(row)

    def lock(self, account_id: int) -> StaffAccount | None:
        stmt = select(StaffAccountRow).where(StaffAccountRow.id == account_id).with_for_update().execution_options(populate_existing=True)
        row = self._s.exec(stmt).first()
        return None if row is None else _account(row)

    def find(self, name: str) -> StaffAccount | None:
        row = self._s.exec(select(StaffAccountRow).where(StaffAccountRow.name_key == name.casefold())).first()
        return None if row is None else _account(row)

    def all(self) -> list[StaffAccount]:
        rows = self._s.exec(select(StaffAccountRow).order_by(col(StaffAccountRow.name_key), col(StaffAccountRow.id)))
        return [_account(r) for r in rows]

    def save(self, account: StaffAccount) -> None:
        row = self._row(account.id)
        a = account
        row.role = a.role.value
        row.active = a.active
        row.failed_logins = a.failed_logins
        row.locked_until = a.locked_until
        row.last_login_at = a.last_login_at
        row.trained_on = a.trained_on
        row.session_epoch = a.session_epoch
        self._s.add(row)
        self._s.flush()

    def password_hash(self, account_id: int) -> str | None:
        row = self._s.get(StaffAccountRow, account_id)
        return None if row is None else row.password_hash

    def set_password_hash(self, account_id: int, encoded: str) -> None:
        row = self._row(account_id)
        row.password_hash = encoded
        self._s.add(row)
        self._s.flush()

    def add_password_token(self, account_id: int, digest: str, created_at: datetime, expires_at: datetime) -> None:
        self._row(account_id)
        t = StaffPasswordTokenRow.__table__.c  # type: ignore[attr-defined]
        self._s.connection().execute(sa_delete(StaffPasswordTokenRow.__table__).where(t.account_id == account_id))  # type: ignore[attr-defined]
        with refused_if_exists("this set-password token"):
            with self._s.begin_nested():
                self._s.add(StaffPasswordTokenRow(account_id=account_id, digest=digest, created_at=created_at, expires_at=expires_at))

    def _token_row(self, digest: str) -> StaffPasswordTokenRow | None:
        return self._s.exec(select(StaffPasswordTokenRow).where(StaffPasswordTokenRow.digest == digest)).first()

    def password_token(self, digest: str) -> PasswordToken | None:
        r = self._token_row(digest)
        if r is None:
            return None
        return PasswordToken(r.account_id, as_utc(r.created_at), as_utc(r.expires_at), as_utc_or_none(r.used_at))

    def use_password_token(self, digest: str, at: datetime) -> None:
        r = self._token_row(digest)
        if r is None:
            raise NotFound("no such set-password token")
        r.used_at = at
        self._s.add(r)
        self._s.flush()

    def totp(self, account_id: int) -> TotpRecord | None:
        row = self._s.get(StaffAccountRow, account_id)
        if row is None or row.totp_secret_enc is None:
            return None
        failures = CodeFailures(row.totp_failures, as_utc_or_none(row.totp_failed_since), as_utc_or_none(row.totp_locked_until))
        return TotpRecord(bytes(row.totp_secret_enc), row.totp_last_step, failures)

    def set_totp(self, account_id: int, sealed_secret: bytes) -> None:
        row = self._row(account_id)
        row.totp_secret_enc = sealed_secret
        row.totp_last_step = None
        row.totp_failures, row.totp_failed_since, row.totp_locked_until = 0, None, None
        self._s.add(row)
        self._s.flush()

    def use_totp_step(self, account_id: int, step: int) -> None:
        row = self._row(account_id)
        if row.totp_secret_enc is None:
            raise InvalidInput("no authenticator is enrolled for this account", ["account: no authenticator"])
        row.totp_last_step = step
        self._s.add(row)
        self._s.flush()

    def set_totp_failures(self, account_id: int, failures: CodeFailures) -> None:
        row = self._row(account_id)
        row.totp_failures, row.totp_failed_since, row.totp_locked_until = failures.count, failures.since, failures.locked_until
        self._s.add(row)
        self._s.flush()


class SqlTokens:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, name: str, scopes: frozenset[TokenScope], prefix: str, digest: str, created_at: datetime, created_by: str) -> ApiToken:
        row = ApiTokenRow(
            name=name,
            prefix=prefix,
            digest=digest,
            scopes=" ".join(sorted(s.value for s in scopes)),
            created_at=created_at,
            created_by=created_by,
        )
        with refused_if_exists("this API token"):
            with self._s.begin_nested():
                self._s.add(row)
        self._s.refresh(row)
        return _token(row)

    def get(self, token_id: int) -> ApiToken | None:
        row = self._s.get(ApiTokenRow, token_id)
        return None if row is None else _token(row)

    def all(self) -> list[ApiToken]:
        return [_token(r) for r in self._s.exec(select(ApiTokenRow).order_by(col(ApiTokenRow.id)))]

    def with_prefix(self, prefix: str) -> list[tuple[ApiToken, str]]:
        rows = self._s.exec(select(ApiTokenRow).where(ApiTokenRow.prefix == prefix).order_by(col(ApiTokenRow.id)))
        return [(_token(r), r.digest) for r in rows]

    def _row(self, token_id: int) -> ApiTokenRow:
        row = self._s.get(ApiTokenRow, token_id)
        if row is None:
            raise NotFound(f"no API token {token_id}")
        return row

    def revoke(self, token_id: int, at: datetime) -> None:
        row = self._row(token_id)
        row.revoked_at = at
        self._s.add(row)
        self._s.flush()

    def touch(self, token_id: int, at: datetime) -> None:
        row = self._row(token_id)
        row.last_used_at = at
        self._s.add(row)
        self._s.flush()
