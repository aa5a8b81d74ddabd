"""The access package: a request's copy of the subject's data, kept sealed until its owner
downloads it through an expiring, single-use link and a fresh one-time code.

A link is spent when a download through it **finishes** (the last bytes are handed to the
server), not when it starts: a download may be started a bounded number of times per link
(each start needs a fresh code) and finish once. Staff may replace the link with a new one
(a bounded number of times per package); the old one then stops working.

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
CODES_PER_LINK = 5  # codes one link may ask for (at least two more than the download starts allowed)
CODE_DIGITS = 6


class LinkRefusal(StrEnum):
    """Why a download link does not work (what the page says; never which request it is)."""

    UNKNOWN = "unknown"  # no package has this link (mistyped, forged, replaced by a newer one)
    EXPIRED = "expired"
    USED = "used"  # downloaded already, or spent by too many wrong codes
    DELETED = "deleted"
    STARTS = "starts"  # downloads started the most times a link allows, none finished


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
    link_used_at: datetime | None = None  # the link was spent (its download finished, or too many wrong codes)
    deleted_at: datetime | None = None
    download_starts: int = 0  # downloads started through the current link
    downloaded_at: datetime | None = None  # when a download through the current link finished
    links_issued: int = 0  # links issued after the first (the current link's number)
    revision: int = 0  # bumped by every save: the repository's compare-and-set (PackageRepository.swap)

    def refusal(self, now: datetime, max_starts: int | None = None) -> LinkRefusal | None:
        """Why the link does not work now (None: it does); with ``max_starts``, also when its
        downloads were started that many times already."""
        if self.deleted_at is not None:
            return LinkRefusal.DELETED
        if self.link_used_at is not None:
            return LinkRefusal.USED
        if now >= self.expires_at:
            return LinkRefusal.EXPIRED
        if max_starts is not None and self.download_starts >= max_starts:
            return LinkRefusal.STARTS
        return None

    def with_code(self, digest: str, now: datetime) -> AccessPackage:
        """A fresh code replaces any earlier one (and its count of wrong tries)."""
        return replace(self, code_digest=digest, code_expires_at=now + CODE_TTL, code_attempts=0, codes_sent=self.codes_sent + 1)

    def judge(self, matches: bool, now: datetime) -> tuple[AccessPackage, CodeRefusal | None]:
        """The package after one code was given, and why it was refused (None: accepted: a
        download starts, counted, and the code is spent; the link is spent only when a
        download finishes, :meth:`finished`)."""
        if self.code_digest is None or self.code_expires_at is None:
            return self, CodeRefusal.NONE_SENT
        if now >= self.code_expires_at:
            return replace(self, code_digest=None, code_expires_at=None), CodeRefusal.EXPIRED
        if matches:
            return replace(self, code_digest=None, code_expires_at=None, download_starts=self.download_starts + 1), None
        tries = self.code_attempts + 1
        if tries >= CODE_ATTEMPTS:
            return replace(self, code_digest=None, code_expires_at=None, code_attempts=tries, link_used_at=now), CodeRefusal.TOO_MANY
        return replace(self, code_attempts=tries), CodeRefusal.WRONG

    def finished(self, now: datetime) -> AccessPackage:
        """A download through the current link reached its end: the link is spent."""
        return replace(self, link_used_at=now, downloaded_at=now)

    def with_new_link(self, link_digest: str, now: datetime, days: int) -> AccessPackage:
        """The next link for the same package: the old one stops working (its digest is gone),
        and the new one starts afresh (no code, no tries, no starts) for ``days`` from now."""
        return replace(
            self,
            link_digest=link_digest,
            expires_at=now + timedelta(days=days),
            links_issued=self.links_issued + 1,
            code_digest=None,
            code_expires_at=None,
            code_attempts=0,
            codes_sent=0,
            download_starts=0,
            link_used_at=None,
            downloaded_at=None,
        )


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
class PackageDownloadStarted(AuditEvent):
    """The right code was given: a download through link number ``link`` starts (its
    ``start``-th, counted from 1). Nothing is spent yet: the link is spent when a download
    finishes (PackageDownloaded)."""

    package: str = ""
    link: int = 0
    start: int = 0

    def payload(self) -> dict[str, JsonValue]:
        return {"package": self.package, "link": self.link, "start": self.start}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:package:{self.package}:link:{self.link}:start:{self.start}"


@dataclass(frozen=True)
class PackageDownloaded(AuditEvent):
    """A download reached its end (all but the last bytes had gone out, and the link was spent
    before those went). Logs written before downloads could be resumed hold this event when
    a download *started*, without ``link`` and ``start``."""

    package: str = ""
    size: int = 0
    link: int = 0
    start: int = 0

    def payload(self) -> dict[str, JsonValue]:
        return {"package": self.package, "size": self.size, "link": self.link, "start": self.start}

    @property
    def idempotency_key(self) -> str:
        # The first link keeps the key earlier logs hold (one download per link).
        suffix = f":{self.link}" if self.link else ""
        return f"{self.request_id}:package:{self.package}:downloaded{suffix}"


@dataclass(frozen=True)
class PackageLinkIssued(AuditEvent):
    """A new link for the same package (number ``link``, from 1), asked for by staff (``by``:
    the account's name or ``cli:USER``; never the subject's data); the old link stopped
    working and the new one works until ``expires_at``."""

    package: str = ""
    link: int = 0
    expires_at: datetime | None = None
    by: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {
            "package": self.package,
            "link": self.link,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "by": self.by,
        }

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:package:{self.package}:link:{self.link}:issued"


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
