"""Staff accounts, their roles and what each role may do; API tokens and their scopes.

Pure values: no I/O, no clock. The services (``dsar.services.accounts``) store and check them;
the web app and the CLI ask :func:`allows` before every staff action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum


class Role(StrEnum):
    SUPPORT = "support"
    LEGAL = "legal"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Permission(StrEnum):
    """What a staff action needs. Pages and routes name one each."""

    VIEW_REQUESTS = "view_requests"  # queue, a request's page, its timeline (decrypted)
    LOG_REQUEST = "log_request"  # log a request received by phone, mail, email or chat
    CASEWORK = "casework"  # hold, release, withdraw, extend, pause/restart clock, acknowledge, note, flag, run
    REVEAL_SUBJECT = "reveal_subject"  # unmask the subject's data (recorded)
    SIGN_OFF = "sign_off"  # legal's decisions
    EXPORT_EVIDENCE = "export_evidence"  # evidence bundles
    MANAGE_ACCOUNTS = "manage_accounts"  # users, roles, tokens


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SUPPORT: frozenset({Permission.VIEW_REQUESTS, Permission.LOG_REQUEST, Permission.CASEWORK, Permission.REVEAL_SUBJECT}),
    Role.LEGAL: frozenset(
        {Permission.VIEW_REQUESTS, Permission.CASEWORK, Permission.REVEAL_SUBJECT, Permission.SIGN_OFF, Permission.EXPORT_EVIDENCE}
    ),
    # Auditors read and export only.
    Role.AUDITOR: frozenset({Permission.VIEW_REQUESTS, Permission.EXPORT_EVIDENCE}),
    Role.ADMIN: frozenset(Permission),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


class TokenScope(StrEnum):
    """What an API token may do (helpdesk integrations)."""

    REQUESTS_WRITE = "requests:write"  # POST /api/requests
    REQUESTS_READ = "requests:read"  # GET /api/requests, GET /api/requests/{ref}


# A privacy-law training older than this is flagged on the console.
TRAINING_VALID_FOR = timedelta(days=365)


@dataclass(frozen=True)
class StaffAccount:
    """A person who works requests. ``name`` is the login and the name shown in the audit
    trail; legal accounts are the roster that sign-off uses."""

    id: int
    name: str
    role: Role
    active: bool
    created_at: datetime
    password_set: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = None
    last_login_at: datetime | None = None
    trained_on: date | None = None
    # Raised on logout-everywhere, password change, role change or deactivation: every session
    # cookie issued under an earlier epoch stops working.
    session_epoch: int = 0
    # An authenticator (TOTP secret) is enrolled: legal's sign-off asks for its current code.
    totp_enrolled: bool = False

    def training_overdue(self, today: date) -> bool:
        return self.trained_on is None or today - self.trained_on > TRAINING_VALID_FOR

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True)
class ApiToken:
    """A helpdesk's credential: shown once at creation, stored only as a digest."""

    id: int
    name: str
    scopes: frozenset[TokenScope]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    # The secret's first characters (``dsar_AbCd1234``): not secret, shown in listings.
    prefix: str = ""

    @property
    def active(self) -> bool:
        return self.revoked_at is None
