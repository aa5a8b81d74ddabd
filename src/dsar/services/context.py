"""What the use cases need, passed in explicitly (built by dsar.app at the entry points)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dsar.connectors.base import ConnectorFactory
from dsar.domain.letter_sign_off import DEFAULT_POLICY, LetterSignOffPolicy
from dsar.domain.verification import VerificationPolicy
from dsar.services.account_login import AccountLogin
from dsar.services.ports import Clock, LetterRenderer, Mailer, ObjectStore, TextMessenger, UnitOfWorkFactory
from dsar.services.streams import MemoryStreamStore, StreamStore

if TYPE_CHECKING:
    # The data map's types name every connector type's model; loading them pulls in boto3 and
    # friends, which no service needs at run time.
    from dsar.connectors.datamap import AnySystem


@dataclass(frozen=True)
class Policy:
    """Organisation-level rules the services apply."""

    organisation_name: str = "Example Shop Ltd"
    privacy_contact: str = "privacy@example-shop.test"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    duplicate_window_hours: int = 24
    # A request received longer ago than this is refused at intake unless a reason is given.
    max_backdate_days: int = 90
    verification_code_ttl_hours: int = 72
    # Where the law says "without delay" or "within a reasonable period" (jp, sg, au): the
    # organisation's own target in days, counted like the other day-based periods.
    reasonable_period_days: int = 30
    # The public web form's address (DSAR_WEB_PUBLIC_URL): refusal letters link its appeal page.
    public_form_url: str | None = None
    # The web app's address (its console): the sign-off form links the letter preview there.
    console_url: str | None = None
    # How long an access package's download link works (DSAR_PACKAGE_LINK_DAYS).
    package_link_days: int = 7
    # Downloads one link may start (DSAR_PACKAGE_MAX_DOWNLOAD_STARTS), new links one package may
    # get (DSAR_PACKAGE_MAX_NEW_LINKS), and days a package whose link expired unused is kept for
    # a new link (DSAR_PACKAGE_KEEP_DAYS).
    package_max_download_starts: int = 3
    package_max_new_links: int = 3
    package_keep_days: int = 14
    # Legal's response target for an escalation, in working days (DSAR_LEGAL_RESPONSE_BUSINESS_DAYS).
    legal_response_business_days: int = 2
    # When a response letter waits for legal's approval (DSAR_LETTER_SIGN_OFF; default deletion,refusal).
    letter_sign_off: LetterSignOffPolicy = DEFAULT_POLICY
    verification_max_attempts: int = 5
    # Identity verification (dsar.services.identity): where the links point, the system of
    # record (None: the data map's first SQL system), and how many links a request may be sent.
    web_url: str = "http://127.0.0.1:8000"
    verification_system: str | None = None
    verification_max_sends: int = 3
    # The reminder goes this many hours before the link expires (0: none); at expiry the
    # deadline watch closes the request as unverifiable (dsar.services.orchestration).
    verification_reminder_hours: int = 24
    # ... and a first one this many hours after the link went (0: none).
    verification_reminder_after_hours: int = 24
    # Account holders re-authenticate through the organisation's login (DSAR_ACCOUNT_LOGIN_*,
    # dsar.services.account_login); None: not configured, no subject is an account holder.
    account_login: AccountLogin | None = None
    # Staff accounts (dsar.services.accounts): lock-out after consecutive failed logins, how
    # long a set-password link works, the shortest password, and scrypt's cost (log2 of n).
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    set_password_hours: int = 72
    password_min_length: int = 12
    password_scrypt_log2_n: int = 15

    @property
    def verification(self) -> VerificationPolicy:
        """How one-time codes are judged (dsar.domain.verification)."""
        return VerificationPolicy(self.verification_code_ttl_hours, self.verification_max_attempts)


def _memory_texts() -> TextMessenger:
    from dsar.services.memory import MemoryTextMessenger

    return MemoryTextMessenger()


@dataclass(frozen=True)
class ServiceContext:
    uow: UnitOfWorkFactory
    clock: Clock
    mailer: Mailer
    objects: ObjectStore
    letters: LetterRenderer
    connectors: ConnectorFactory
    data_map: Sequence[AnySystem]  # a tuple, or dsar.app's LazyDataMap (read on first use)
    code_key: bytes  # keyed digest of one-time codes
    policy: Policy = field(default_factory=Policy)
    # Sealed streams (access packages, their spools); app.py puts the configured store here.
    streams: StreamStore = field(default_factory=MemoryStreamStore)
    # Text messages (the verification link and code by SMS): app.py puts the configured
    # transport here (DSAR_SMS_TRANSPORT); the default keeps them in memory.
    texts: TextMessenger = field(default_factory=_memory_texts)
