"""The access package: a request's copy of the subject's data, kept sealed until its owner
downloads it once through an expiring link and a fresh one-time code.

Only values live here (no I/O): the package's record and the rules a download is judged by.
The package itself is built by :mod:`dsar.services.package`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from dsar.domain.events import AuditEvent, JsonValue

CODE_TTL = timedelta(minutes=15)
CODE_ATTEMPTS = 5  # wrong codes per link before it is spent
CODES_PER_LINK = 5  # codes one link may ask for
CODE_DIGITS = 6


class LinkRefusal(StrEnum):
    """Why a download link does not work (what the page says; never which request it is)."""

    UNKNOWN = "unknown"  # no package has this link (mistyped, forged or another site's)
    EXPIRED = "expired"
    USED = "used"  # downloaded already, or spent by too many wrong codes
    DELETED = "deleted"


class CodeRefusal(StrEnum):
    WRONG = "wrong"
    EXPIRED = "expired"
    NONE_SENT = "none_sent"
    TOO_MANY = "too_many"  # the last wrong code: the link is spent


@dataclass(frozen=True)
class AccessPackage:
    """A built package. ``object_key`` names its sealed stream; the link and the code are
    stored only as keyed digests."""

    id: str
    request_id: str
    object_key: str
    size: int  # bytes of the zip (what a download sends)
    sealed_size: int
    files: int
    created_at: datetime
    expires_at: datetime
    link_digest: str
    code_digest: str | None = None
    code_expires_at: datetime | None = None
    code_attempts: int = 0
    codes_sent: int = 0
    link_used_at: datetime | None = None
    deleted_at: datetime | None = None

    def refusal(self, now: datetime) -> LinkRefusal | None:
        """Why the link does not work now (None: it does)."""
        if self.deleted_at is not None:
            return LinkRefusal.DELETED
        if self.link_used_at is not None:
            return LinkRefusal.USED
        if now >= self.expires_at:
            return LinkRefusal.EXPIRED
        return None

    def with_code(self, digest: str, now: datetime) -> AccessPackage:
        """A fresh code replaces any earlier one (and its count of wrong tries)."""
        return replace(self, code_digest=digest, code_expires_at=now + CODE_TTL, code_attempts=0, codes_sent=self.codes_sent + 1)

    def judge(self, matches: bool, now: datetime) -> tuple[AccessPackage, CodeRefusal | None]:
        """The package after one code was given, and why it was refused (None: accepted, and
        the link is spent from now on)."""
        if self.code_digest is None or self.code_expires_at is None:
            return self, CodeRefusal.NONE_SENT
        if now >= self.code_expires_at:
            return replace(self, code_digest=None, code_expires_at=None), CodeRefusal.EXPIRED
        if matches:
            return replace(self, code_digest=None, code_expires_at=None, link_used_at=now), None
        tries = self.code_attempts + 1
        if tries >= CODE_ATTEMPTS:
            return replace(self, code_digest=None, code_expires_at=None, code_attempts=tries, link_used_at=now), CodeRefusal.TOO_MANY
        return replace(self, code_attempts=tries), CodeRefusal.WRONG


# --- audit events ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageCreated(AuditEvent):
    package: str = ""
    files: int = 0
    size: int = 0
    expires_at: datetime | None = None
    withheld: dict[str, int] | None = None  # fields left out, by reason (counts, never values)

    def payload(self) -> dict[str, JsonValue]:
        return {
            "package": self.package,
            "files": self.files,
            "size": self.size,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "withheld": dict(self.withheld or {}),
        }

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:package:{self.package}:created"


@dataclass(frozen=True)
class PackageCodeSent(AuditEvent):
    package: str = ""
    ordinal: int = 0

    def payload(self) -> dict[str, JsonValue]:
        return {"package": self.package, "ordinal": self.ordinal}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:package:{self.package}:code:{self.ordinal}"


@dataclass(frozen=True)
class PackageDownloadRefused(AuditEvent):
    """A download refused (from the web page: each attempt is an event of its own)."""

    package: str = ""
    reason: str = ""
    attempt: str = field(default_factory=lambda: uuid.uuid4().hex)

    def payload(self) -> dict[str, JsonValue]:
        return {"package": self.package, "reason": self.reason}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:package:{self.package}:refused:{self.attempt}"


@dataclass(frozen=True)
class PackageDownloaded(AuditEvent):
    package: str = ""
    size: int = 0

    def payload(self) -> dict[str, JsonValue]:
        return {"package": self.package, "size": self.size}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:package:{self.package}:downloaded"


@dataclass(frozen=True)
class PackageDeleted(AuditEvent):
    package: str = ""
    reason: str = ""  # expired, downloaded, request closed ...
    by: str = "dsar"

    def payload(self) -> dict[str, JsonValue]:
        return {"package": self.package, "reason": self.reason, "by": self.by}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:package:{self.package}:deleted"
