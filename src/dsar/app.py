"""Wiring: build the engine's collaborators from settings. Called at entry points only."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, overload

from dsar.connectors.base import Connector, ConnectorFactory
from dsar.crypto import BlindIndex, KeyProvider, KmsKeyProvider, LocalKeyProvider
from dsar.domain.errors import ConfigurationError
from dsar.domain.letter_sign_off import parse_letter_sign_off
from dsar.letters.outbox import FolderOutbox
from dsar.letters.render import LetterRenderer
from dsar.persistence.database import SchemaStatus, check_schema, make_engine, schema_status, upgrade
from dsar.persistence.sealing import DEFAULT_CACHE_KEYS
from dsar.persistence.uow import SqlUnitOfWorkFactory
from dsar.services.account_login import AccountLogin
from dsar.services.account_login import load as load_account_login
from dsar.services.context import Policy, ServiceContext
from dsar.services.ports import CheckpointArchive, CheckpointWitness, Mailer, Notifier, TextMessenger
from dsar.services.streams import StreamStore
from dsar.settings import Settings
from dsar.storage.local import LocalObjectStore
from dsar.storage.streams import LocalStreamStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dsar.connectors.datamap import AnySystem
    from dsar.crypto.signing import Signer
    from dsar.services.bounces import BounceSweep


def utc_now() -> datetime:
    return datetime.now(UTC)


# The engines build_app made in this process and still alive, for dispose_engines().
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def dispose_engines() -> None:
    """Close the pooled connections of every engine :func:`build_app` made in this process (a
    SQLite database checkpoints its write-ahead log into the database file on the last close).
    `dsar` calls it when its command is done, so it does not rely on the interpreter's teardown
    to close them."""
    for engine in list(_ENGINES):
        engine.dispose()


class LazyDataMap(Sequence["AnySystem"]):
    """The data map, read from its folder when first used. Reading it imports every connector
    type's model (boto3, httpx ...): a command that never looks at the map (`request show`,
    `list`, `events`) does not pay for that (issue 13, item 8)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._systems: tuple[AnySystem, ...] | None = None

    def systems(self) -> tuple[AnySystem, ...]:
        if self._systems is None:
            from dsar.connectors.datamap import load_data_map

            self._systems = tuple(load_data_map(self._folder)) if self._folder.is_dir() else ()
        return self._systems

    @overload
    def __getitem__(self, index: int) -> AnySystem: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[AnySystem]: ...
    def __getitem__(self, index: int | slice) -> AnySystem | Sequence[AnySystem]:
        return self.systems()[index]

    def __len__(self) -> int:
        return len(self.systems())

    def __iter__(self) -> Iterator[AnySystem]:
        return iter(self.systems())


class LazyConnectorFactory(ConnectorFactory):
    """The data map's connector factory, built when a connector is first asked for (the
    connector modules import boto3, httpx and SQL drivers)."""

    def __init__(self, build: Callable[[], ConnectorFactory]) -> None:
        self._build = build
        self._factory: ConnectorFactory | None = None

    def _real(self) -> ConnectorFactory:
        if self._factory is None:
            self._factory = self._build()
        return self._factory

    def systems(self) -> list[str]:
        return self._real().systems()

    def is_manual(self, system: str) -> bool:
        return self._real().is_manual(system)

    def build(self, system: str) -> Connector:
        return self._real().build(system)


@dataclass(frozen=True)
class App:
    settings: Settings
    engine: Engine
    ctx: ServiceContext


def build_app(settings: Settings, *, migrate_schema: bool = False, max_cached_keys: int = DEFAULT_CACHE_KEYS) -> App:
    """The engine's collaborators. The schema is migrated only when asked (``dsar db upgrade``,
    ``serve``, ``demo``); otherwise it is checked, and an older one refused with
    :class:`ConfigurationError`. One data-key cache (``max_cached_keys``) serves every unit of
    work of this app."""
    keys = build_key_provider(settings)
    account_login = build_account_login(settings)  # before the database: a bad login stops the start
    index = BlindIndex(keys.derive("blind-index"))
    engine = make_engine(settings.effective_database_url)
    _ENGINES.add(engine)
    try:
        if migrate_schema:
            upgrade(engine)
        else:
            check_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    data_map = LazyDataMap(settings.data_map_dir)
    if migrate_schema:
        data_map.systems()  # serve, demo, db upgrade: a broken data map stops them at start

    def connector_factory() -> ConnectorFactory:
        from dsar.connectors.registry import DataMapConnectorFactory

        return DataMapConnectorFactory(list(data_map), settings.connection_secrets(), keys.derive("pseudonym"))

    ctx = ServiceContext(
        uow=SqlUnitOfWorkFactory(engine, keys, index, max_cached_keys=max_cached_keys),
        clock=utc_now,
        mailer=build_mailer(settings, engine),
        objects=LocalObjectStore(settings.effective_object_store_dir),
        letters=LetterRenderer(settings.templates_dir),
        connectors=LazyConnectorFactory(connector_factory),
        data_map=data_map,
        code_key=keys.derive("verification-code"),
        policy=Policy(
            organisation_name=settings.organisation_name,
            privacy_contact=settings.privacy_contact,
            timezone=settings.zone,
            duplicate_window_hours=settings.duplicate_window_hours,
            max_backdate_days=settings.max_backdate_days,
            verification_code_ttl_hours=settings.verification_code_ttl_hours,
            verification_max_attempts=settings.verification_max_attempts,
            reasonable_period_days=settings.reasonable_period_days,
            public_form_url=settings.web_public_url,
            console_url=settings.effective_web_url,
            package_link_days=settings.package_link_days,
            package_max_download_starts=settings.package_max_download_starts,
            package_max_new_links=settings.package_max_new_links,
            package_keep_days=settings.package_keep_days,
            web_url=settings.effective_web_url,
            verification_system=settings.verification_system,
            verification_max_sends=settings.verification_max_sends,
            verification_reminder_hours=settings.verification_reminder_hours,
            verification_reminder_after_hours=settings.verification_reminder_after_hours,
            account_login=account_login,
            legal_response_business_days=settings.legal_response_business_days,
            letter_sign_off=parse_letter_sign_off(settings.letter_sign_off),
        ),
        streams=build_stream_store(settings),
        texts=build_texts(settings, engine),
    )
    return App(settings, engine, ctx)


def build_account_login(settings: Settings) -> AccountLogin | None:
    """The organisation's login for account holders (DSAR_ACCOUNT_LOGIN_*), its key read now: a
    half configuration or an unusable key stops the start with a ConfigurationError."""
    return load_account_login(
        url=settings.account_login_url,
        public_key_file=settings.account_login_public_key_file,
        jwks_file=settings.account_login_jwks_file,
        issuer=settings.account_login_issuer,
        audience=settings.account_login_audience,
        risk_claims=settings.account_login_risk_claims,
    )


def build_stream_store(settings: Settings) -> StreamStore:
    """Where access packages are kept: an S3 bucket with SSE-KMS when DSAR_PACKAGE_BUCKET is set,
    otherwise HOME/objects/streams (both sealed by the engine first)."""
    if not settings.package_bucket:
        return LocalStreamStore(settings.effective_object_store_dir / "streams")
    import boto3  # type: ignore[import-untyped]

    from dsar.storage.streams import S3StreamStore

    return S3StreamStore(boto3.client("s3"), settings.package_bucket, settings.package_kms_key_id or settings.kms_key_id)


def build_mailer(settings: Settings, engine: Engine) -> Mailer:
    """The mail transport DSAR_MAIL_TRANSPORT names: the outbox folder (default), SMTP with
    STARTTLS, or AWS SES; the last two keep the mail ledger in the engine's database."""
    if settings.mail_transport == "outbox":
        return FolderOutbox(settings.effective_outbox_dir)
    from dsar.letters.transports import SesMailer, SmtpMailer
    from dsar.persistence.mail_ledger import SqlMailLedger

    ledger = SqlMailLedger(engine)
    if settings.mail_transport == "smtp":
        return SmtpMailer(
            settings.smtp_host or "",
            settings.smtp_port,
            ledger,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            ca_file=settings.smtp_ca_file,
            attempts=settings.mail_attempts,
        )
    import boto3

    return SesMailer(boto3.client("ses"), ledger, attempts=settings.mail_attempts)


def build_texts(settings: Settings, engine: Engine) -> TextMessenger:
    """The text-message transport DSAR_SMS_TRANSPORT names: .txt files in OUTBOX_DIR/sms
    (default), or AWS SNS, which keeps its sends in the engine's mail ledger (a re-run never
    texts twice)."""
    from dsar.letters.sms import FolderTexts

    if settings.sms_transport == "outbox":
        return FolderTexts(settings.effective_sms_outbox_dir)
    import boto3

    from dsar.letters.sms import SnsTexter
    from dsar.persistence.mail_ledger import SqlMailLedger

    return SnsTexter(boto3.client("sns"), SqlMailLedger(engine), sender_id=settings.sms_sender_id, attempts=settings.mail_attempts)


def sweep_bounces(app: App) -> BounceSweep | None:
    """Settle the bounce notices waiting in ``DSAR_MAIL_BOUNCE_QUEUE_URL`` (SES), in
    ``DSAR_MAIL_BOUNCE_MAILDIR`` (an SMTP server's reports) and in ``DSAR_SMS_FAILURE_LOG_GROUP``
    (texts SNS could not deliver): one sweep's figures for all, None when none is set."""
    url, maildir, sms_log = app.settings.mail_bounce_queue_url, app.settings.mail_bounce_maildir, app.settings.sms_failure_log_group
    if not url and not maildir and not sms_log:
        return None
    from dsar.letters.bounces import MaildirBounceSource, SnsSmsFailureSource, SqsBounceSource
    from dsar.persistence.mail_ledger import SqlMailLedger
    from dsar.services.bounces import BounceSweep
    from dsar.services.bounces import sweep_bounces as sweep
    from dsar.services.ports import BounceSource

    sources: list[BounceSource] = []
    if url:
        import boto3

        sources.append(SqsBounceSource(boto3.client("sqs"), url))
    if maildir:
        sources.append(MaildirBounceSource(maildir))
    if sms_log:
        import boto3

        since = app.ctx.clock() - timedelta(hours=app.settings.sms_failure_lookback_hours)
        sources.append(SnsSmsFailureSource(boto3.client("logs"), sms_log, since_ms=int(since.timestamp() * 1000)))
    done, ledger = BounceSweep(), SqlMailLedger(app.engine)
    for source in sources:
        done.add(sweep(app.ctx, source, ledger.message_for))
    return done


def build_notifier(app: App) -> Notifier:
    """Apprise when alert URLs are configured; otherwise a mail to the privacy team."""
    from dsar.notify.adapters import AppriseNotifier, MailNotifier

    s = app.settings
    if s.alert_urls:
        try:
            return AppriseNotifier([u.get_secret_value() for u in s.alert_urls])
        except ValueError as exc:
            raise ConfigurationError(f"DSAR_ALERT_URLS: {exc}") from None
    return MailNotifier(app.ctx.mailer, s.effective_alert_email, s.privacy_contact)


def build_signer(app: App) -> Signer:
    """The Ed25519 key that signs checkpoints and bundles (created on first use)."""
    from dsar.crypto.signing import Signer

    return Signer.from_file(app.settings.effective_signing_key_file)


def build_key_provider(settings: Settings) -> KeyProvider:
    """AWS KMS when DSAR_KMS_KEY_ID is set (keys of an earlier local key ring still unwrap
    through it until re-wrapped); otherwise the local key file, created on first run."""
    if not settings.kms_key_id:
        return LocalKeyProvider.from_file(settings.effective_key_file)
    import boto3

    legacy = LocalKeyProvider.from_file(settings.effective_key_file, create=False) if settings.effective_key_file.exists() else None
    secret_file = settings.effective_key_file.with_name("kms-derivation.bin")
    return KmsKeyProvider(boto3.client("kms"), settings.kms_key_id, secret_file, legacy)


def build_checkpoint_archive(app: App) -> CheckpointArchive | None:
    """The Object Lock bucket for checkpoints, when one is configured (checked on first use)."""
    s = app.settings
    if not s.checkpoint_bucket:
        return None
    import boto3

    from dsar.storage.s3 import S3ObjectLockArchive

    archive = S3ObjectLockArchive(boto3.client("s3"), s.checkpoint_bucket, s.checkpoint_retention_days, clock=app.ctx.clock)
    archive.check()
    return archive


def build_witness(app: App) -> CheckpointWitness:
    """The file outside the database where every signed checkpoint is also written."""
    from dsar.storage.witness import FileWitness

    return FileWitness(app.settings.effective_checkpoint_witness_file)


def database_status(settings: Settings) -> SchemaStatus:
    """Where the engine's database schema is, and the one this dsar needs (`dsar db status`)."""
    engine = make_engine(settings.effective_database_url)
    try:
        return schema_status(engine)
    finally:
        engine.dispose()


def upgrade_database(settings: Settings) -> tuple[str | None, SchemaStatus]:
    """Bring the schema to the one this dsar needs (`dsar db upgrade`); returns where it was
    before and where it is now."""
    engine = make_engine(settings.effective_database_url)
    try:
        before = schema_status(engine).current
        upgrade(engine)
        return before, schema_status(engine)
    finally:
        engine.dispose()
