"""Configuration: one pydantic-settings model per area, read from ``DSAR_*`` environment
variables (and a ``.env`` file in the working folder). Built at the entry points, never at import.

::

    Settings            everything, flat: Settings(home=..., database_url=...), settings.home
    ├── .engine         EngineSettings   the engine itself: home, database, keys, object store,
    │                                    data map, templates, timezone, organisation, intake and
    │                                    verification rules, audit signing and retention
    ├── .prefect        PrefectSettings  the Prefect API or the local server, and the crons
    ├── .mail           MailSettings     the outgoing mail and text-message transports (the outbox)
    ├── .alerts         AlertSettings    where and when deadline alerts go
    ├── .aws            AwsSettings      KMS key and the Object Lock checkpoint archive
    ├── .demo           DemoSettings     the demo company's systems
    └── .web            WebSettings      the web app: address, cookies, limits, public-form defaults

Each area is a pydantic-settings model of its own (``PrefectSettings()`` reads just its part of
the environment); :class:`Settings` inherits every area's fields, so environment variables are
``DSAR_<FIELD>`` whatever the area (and ``PREFECT_API_URL``), callers pass flat keyword
arguments, and ``settings.engine`` ... are views of the same values. Every field has a
description; ``dsar config show`` prints the effective values by area, without secrets;
:func:`load_settings` reports invalid values as a ConfigurationError naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dsar import resources
from dsar.domain.errors import ConfigurationError

_CONFIG = SettingsConfigDict(env_prefix="DSAR_", env_file=".env", extra="ignore")


class EngineSettings(BaseSettings):
    """The engine itself: where its data lives, the organisation, and the rules it applies."""

    model_config = _CONFIG

    home: Path = Field(Path(".dsar"), description="Data folder: SQLite database, key file, object store, outbox, local Prefect home.")
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL of the engine's database (e.g. postgresql+psycopg://user@host/db). Default: SQLite at HOME/dsar.db.",
    )
    key_file: Path | None = Field(None, description="Local master key file, created on first run (0600). Default: HOME/keys/master.key.")
    object_store_dir: Path | None = Field(None, description="Folder for encrypted exports. Default: HOME/objects.")
    data_map_dir: Path = Field(default_factory=resources.data_map_dir, description="Folder of the data map (one YAML per system).")
    templates_dir: Path = Field(default_factory=resources.templates_dir, description="Folder of the letter templates.")
    timezone: str = Field("UTC", description="IANA timezone of the organisation, used for received times given without an offset.")
    organisation_name: str = Field("Example Shop Ltd", description="Controller name printed on letters.")
    privacy_contact: str = Field("privacy@example-shop.test", description="Privacy team address letters are sent from.")
    duplicate_window_hours: int = Field(
        24,
        ge=0,
        description="A request verified with the same address as an earlier one of the same type and regime received "
        "within this many hours is linked to it as its duplicate and ends (the earlier one's letters answer both).",
    )
    max_backdate_days: int = Field(
        90, ge=0, description="A request received longer ago than this many days is refused at intake unless a backdated reason is given."
    )
    verification_code_ttl_hours: int = Field(
        72, ge=1, description="How long a one-time verification code stays valid (docs/threats.md: at least 3 days)."
    )
    verification_max_attempts: int = Field(5, ge=1, description="Wrong codes allowed before the request is refused as unverifiable.")
    verification_system: str | None = Field(
        None,
        description="The system of record identity is verified against (a data-map system); default: the first SQL system of the data map.",
    )
    verification_max_sends: int = Field(
        3, ge=1, description="Verification links (with their codes) sent per request: the first and the resends."
    )
    verification_reminder_hours: int = Field(
        24,
        ge=0,
        description="The verification reminder goes to the contact on file this many hours before the link expires (0: no reminder); "
        "at expiry the request is closed as unverifiable by the deadline watch.",
    )
    account_login_url: str | None = Field(
        None,
        description="The organisation's login page account holders re-authenticate at (11 CCR 7061); dsar appends "
        "?return_to=WEB_URL/verify/account&state=NONCE. Set with a key, the issuer and the audience, or not at all.",
    )
    account_login_public_key_file: Path | None = Field(
        None, description="PEM public key (RSA 2048+, EC P-256 or Ed25519) the login's assertions (JWT) are signed with."
    )
    account_login_jwks_file: Path | None = Field(
        None, description="Instead of a PEM key: a JWKS JSON file of the login's public keys, the one used chosen by the JWT's kid."
    )
    account_login_issuer: str | None = Field(None, description="The `iss` the login's assertions must carry.")
    account_login_audience: str | None = Field(None, description="The `aud` the login's assertions must carry (dsar's identifier there).")
    account_login_risk_claims: str = Field(
        "risk,pwd_reset_recent",
        description="Claims of the login's assertion (comma-separated) that, when truthy, say the account saw suspicious "
        "activity lately (a password reset, a new device): the request goes to legal as a verification risk. Empty: none.",
    )
    verification_reminder_after_hours: int = Field(
        24,
        ge=0,
        description="A first verification reminder goes to the contact on file this many hours after the link (0: none); "
        "the second goes DSAR_VERIFICATION_REMINDER_HOURS before the link expires.",
    )
    reasonable_period_days: int = Field(
        30,
        ge=1,
        le=365,
        description="The organisation's target in days where the law sets no number ('without delay': jp; 'as soon as "
        "reasonably possible': sg; 'within a reasonable period': au). Letters quote the law's words.",
    )
    signing_key_file: Path | None = Field(
        None,
        description="Ed25519 key signing audit checkpoints and bundles, created on first use. Default: HOME/keys/audit-signing.pem.",
    )
    audit_retention_months: int = Field(
        24, ge=1, description="Months after a request finished before its data key is destroyed (crypto-shredding); CCPA 7101 needs 24."
    )
    evidence_dir: Path | None = Field(None, description="Where the export-evidence deployment writes bundles. Default: HOME/evidence.")
    package_link_days: int = Field(
        7,
        ge=1,
        le=90,
        description="How long an access package's single-use download link works, in days (a new link works as long, "
        "from when it is issued).",
    )
    package_max_download_starts: int = Field(
        3,
        ge=1,
        le=20,
        description="How many times a download may be started through one package link (each after a fresh code); "
        "the link is spent when a download finishes.",
    )
    package_max_new_links: int = Field(
        3,
        ge=0,
        le=20,
        description="How many new links staff may issue for one access package (dsar request package-link, the console); 0: none.",
    )
    package_keep_days: int = Field(
        14,
        ge=0,
        le=90,
        description="Days an access package is kept after its link expired (or was spent by wrong codes) without a finished "
        "download, so that a new link can be issued; then it is deleted. A finished download's package is deleted at once.",
    )
    checkpoint_witness_file: Path | None = Field(
        None,
        description="Append-only file outside the database where every signed checkpoint is also written; signing refuses a "
        "log that does not extend its latest. Default: EVIDENCE_DIR/checkpoint-witness.jsonl.",
    )
    letter_sign_off: str = Field(
        "deletion,refusal",
        description="When a response letter waits for legal's approval before it goes out: comma-separated request types "
        "(access, deletion, correction) and refusal (denial, could-not-verify and partial-refusal letters), each optionally "
        "for one regime (access@ccpa); or none.",
    )

    @field_validator("letter_sign_off")
    @classmethod
    def _letter_sign_off(cls, v: str) -> str:
        from dsar.domain.errors import InvalidInput
        from dsar.domain.letter_sign_off import parse_letter_sign_off

        try:
            return parse_letter_sign_off(v).describe()
        except InvalidInput as exc:
            raise ValueError("; ".join(exc.problems) or str(exc)) from None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {v!r}") from None
        return v

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.home_dir / 'dsar.db'}"

    @property
    def effective_key_file(self) -> Path:
        return (self.key_file or self.home_dir / "keys" / "master.key").expanduser()

    @property
    def effective_object_store_dir(self) -> Path:
        return (self.object_store_dir or self.home_dir / "objects").expanduser()

    @property
    def effective_signing_key_file(self) -> Path:
        return (self.signing_key_file or self.home_dir / "keys" / "audit-signing.pem").expanduser()

    @property
    def effective_evidence_dir(self) -> Path:
        return (self.evidence_dir or self.home_dir / "evidence").expanduser()

    @property
    def effective_checkpoint_witness_file(self) -> Path:
        return (self.checkpoint_witness_file or self.effective_evidence_dir / "checkpoint-witness.jsonl").expanduser()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _cron(v: str) -> str:
    if len(v.split()) != 5:
        raise ValueError("a cron expression has five fields, e.g. '0 * * * *'")
    return v


class PrefectSettings(BaseSettings):
    """The Prefect API the flows run against (or the local server), and the deployments' schedules."""

    model_config = _CONFIG

    prefect_api_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DSAR_PREFECT_API_URL", "PREFECT_API_URL"),
        description="Prefect API to run flows against. Unset: the local server on PREFECT_HOST:PREFECT_PORT, which `dsar demo` starts.",
    )
    prefect_host: str = Field("127.0.0.1", description="Host of the local Prefect server the demo starts (loopback only).")
    prefect_port: int = Field(4200, description="Port of the local Prefect server the demo starts.")
    prefect_startup_timeout_s: int = Field(180, description="How long to wait for a local Prefect server to answer /api/health.")
    deadline_watch_cron: str = Field(
        "0 * * * *", description="When the deadline-watch deployment runs (cron, in DSAR_TIMEZONE). Default: every hour."
    )
    audit_maintenance_cron: str = Field(
        "30 2 * * *",
        description="When the audit-maintenance deployment signs a checkpoint and shreds expired requests (cron, DSAR_TIMEZONE).",
    )

    worker: Literal["in-process", "subprocess"] = Field(
        "in-process",
        description="How `dsar serve` runs flow runs: in-process (its own threads, started the moment a run is created or"
        " resumed) or subprocess (Prefect's runner: one `python -m prefect.engine` per run, found by polling).",
    )
    worker_threads: int = Field(8, ge=1, le=64, description="Flow runs the in-process worker executes at once.")
    worker_poll_seconds: float = Field(
        5.0, gt=0, le=60, description="The in-process worker's safety-net poll for due runs (events start runs at once)."
    )

    @field_validator("deadline_watch_cron", "audit_maintenance_cron")
    @classmethod
    def _five_fields(cls, v: str) -> str:
        return _cron(v)

    @property
    def effective_prefect_api_url(self) -> str:
        return self.prefect_api_url or f"http://{self.prefect_host}:{self.prefect_port}/api"


class MailSettings(BaseSettings):
    """How outgoing mail leaves the engine: .eml files in an outbox folder (default), SMTP with
    mandatory STARTTLS, or AWS SES (docs/letters.md, "Sending"); and text messages: .txt files
    in the outbox folder (default) or AWS SNS (docs/verification.md)."""

    model_config = _CONFIG

    outbox_dir: Path | None = Field(None, description="Folder where outgoing mail is written as .eml files. Default: HOME/outbox.")
    mail_transport: Literal["outbox", "smtp", "ses"] = Field(
        "outbox", description="outbox (.eml files), smtp (STARTTLS required, certificate checked) or ses (AWS SES, standard AWS settings)."
    )
    smtp_host: str | None = Field(None, description="SMTP server (DSAR_MAIL_TRANSPORT=smtp).")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (submission, STARTTLS).")
    smtp_username: str | None = Field(None, description="SMTP login, when the server asks for one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_ca_file: Path | None = Field(None, description="CA bundle to check the SMTP server's certificate with (default: the system's).")
    mail_attempts: int = Field(3, ge=1, le=10, description="Tries per message for a transient failure before the request is held.")
    sms_transport: Literal["outbox", "sns"] = Field(
        "outbox",
        description="Text messages (the verification link to a subject whose only contact on file is a phone): outbox "
        "(.txt files in OUTBOX_DIR/sms) or sns (AWS SNS, standard AWS settings).",
    )
    sms_sender_id: str | None = Field(
        None, description="Alphanumeric sender id SNS shows where the country allows one (1-11 letters and digits)."
    )
    mail_bounce_queue_url: str | None = Field(
        None,
        description="AWS SQS queue that receives SES's bounce and complaint notifications (through SNS): the deadline watch "
        "reads it, records each bounced letter on its request, alerts the team and holds an open request. Unset: not read.",
    )
    mail_bounce_maildir: Path | None = Field(
        None,
        description="Maildir folder the SMTP server's bounce reports (RFC 3464) and complaints (RFC 5965) are delivered or "
        "synchronised into (the mailbox of the letters' sender): the deadline watch reads it as it reads the SES queue and "
        "moves each mail it read into the folder's 'settled' subfolder. Unset: not read.",
    )
    sms_failure_log_group: str | None = Field(
        None,
        description="CloudWatch Logs group AWS SNS writes undeliverable text messages to (SMS delivery status logging, "
        "e.g. sns/eu-west-1/123456789012/DirectPublishToPhoneNumber/Failure): the deadline watch reads its last "
        "SMS_FAILURE_LOOKBACK_HOURS and records, alerts and holds as for a bounced letter. Unset: not read.",
    )
    sms_failure_lookback_hours: int = Field(48, ge=1, le=24 * 14, description="How far back each sweep reads SNS's failure log.")


class AlertSettings(BaseSettings):
    """Where deadline alerts go, when they are raised, and how their delivery is retried."""

    model_config = _CONFIG

    alert_thresholds_days: list[int] = Field(
        default_factory=lambda: [7, 3, 1],
        description="Alert when a request is due within this many days (JSON list); past-due requests always alert.",
    )
    alert_urls: list[SecretStr] = Field(
        default_factory=list,
        description="Apprise URLs the deadline alerts go to (JSON list: slack://, msteams://, mailto://, sns://, json://). "
        "Empty: a mail to DSAR_ALERT_EMAIL in the outbox.",
    )
    alert_email: str | None = Field(None, description="Where alert mails go when no alert URL is set. Default: DSAR_PRIVACY_CONTACT.")
    alert_max_attempts: int = Field(12, ge=1, description="Deliveries tried per alert (one per sweep) before it is given up.")
    alert_digest_over: int = Field(20, ge=1, description="More pending alerts than this go out as one digest message.")
    legal_response_business_days: int = Field(
        2, ge=1, le=30, description="Legal's response target for an escalation, in working days; an alert when it passes."
    )

    @field_validator("alert_thresholds_days")
    @classmethod
    def _thresholds(cls, v: list[int]) -> list[int]:
        if not v or any(t < 0 for t in v):
            raise ValueError("give one or more non-negative numbers of days, e.g. [7, 3, 1]")
        return sorted(set(v), reverse=True)


class AwsSettings(BaseSettings):
    """AWS services the engine itself uses; region and credentials come from the standard AWS settings."""

    model_config = _CONFIG

    kms_key_id: str | None = Field(
        None,
        description="AWS KMS key (id, ARN or alias) that wraps the data keys instead of the local key file; "
        "region and credentials come from the standard AWS settings.",
    )
    checkpoint_bucket: str | None = Field(
        None, description="S3 bucket with Object Lock enabled where every signed checkpoint is also written (compliance mode)."
    )
    checkpoint_retention_days: int = Field(
        2555, ge=1, description="Object Lock retention of archived checkpoints, in days (default 7 years)."
    )
    package_bucket: str | None = Field(
        None,
        description="S3 bucket for access packages (sealed by the engine, then SSE-KMS). Default: HOME/objects/streams.",
    )
    package_kms_key_id: str | None = Field(
        None, description="KMS key for the package bucket's SSE-KMS. Default: DSAR_KMS_KEY_ID, else the bucket's AWS-managed key."
    )


class DemoSettings(BaseSettings):
    """The demo company's systems: the connections its data map names, and the helpdesk `dsar demo` serves.
    Unset URLs point at the demo's own systems under HOME/demo; any other system of a data map
    takes its connection from the environment variable its `connection` names."""

    model_config = _CONFIG

    demo_shop_url: SecretStr | None = Field(
        None, description="SQLAlchemy URL of the demo's `shop` system (DSAR_DEMO_SHOP_URL). Default: SQLite at HOME/demo/shop.db."
    )
    demo_files_url: str | None = Field(
        None, description="Connection of the demo's `files` system: file:///folder or s3://bucket. Default: file://HOME/demo/files."
    )
    demo_helpdesk_url: SecretStr | None = Field(
        None, description="Base URL of the demo's `helpdesk` API. Default: http://127.0.0.1:DEMO_HELPDESK_PORT/api."
    )
    demo_helpdesk_token: SecretStr | None = Field(
        None,
        description="Authorization header value for the demo's helpdesk. Default: the token `dsar demo` writes for the helpdesk it serves.",
    )
    demo_helpdesk_port: int = Field(
        4281, ge=0, le=65535, description="Port (127.0.0.1) of the demo company's helpdesk API, which `dsar demo` serves while it runs."
    )


class WebSettings(BaseSettings):
    """The web app (public form, staff console, JSON API) that `dsar serve` and the demo start."""

    model_config = _CONFIG

    web_host: str = Field("127.0.0.1", description="Address the web app listens on (loopback; put a TLS reverse proxy in front).")
    web_port: int = Field(8000, ge=0, le=65535, description="Port of the web app.")
    web_public_url: str | None = Field(
        None, description="The address people reach the web app at (behind a proxy), used in links. Default: http://HOST:PORT."
    )
    web_secure_cookies: bool = Field(False, description="Mark cookies Secure (set this behind a TLS reverse proxy).")
    web_max_body_bytes: int = Field(65536, ge=1024, description="Largest request body accepted (bytes); larger ones get 413.")
    web_session_hours: int = Field(8, ge=1, le=24, description="How long a staff sign-in lasts.")
    web_default_regime: str = Field("gdpr", description="Regime of a public-form request from a place no regime covers.")
    web_default_country: str = Field("IE", description="Country recorded for such a request (the organisation's establishment).")
    web_default_subdivision: str | None = Field(
        None, description="Subdivision recorded for such a request where the default regime needs one (uk-gdpr: ENG, SCT, WLS or NIR)."
    )
    api_rate_per_token: int = Field(60, ge=1, description="API calls one token may make per minute; more get 429 with Retry-After.")
    api_rate_per_subject: int = Field(
        10, ge=1, description="API submissions per subject email address per hour (counted by digest); more get 429."
    )
    api_idempotency_hours: int = Field(
        24, ge=1, le=168, description="How long an Idempotency-Key is remembered (per token, in the process's memory)."
    )
    web_rate_per_address: int = Field(10, ge=1, description="Public-form submissions accepted per source address per hour (then 429).")
    web_rate_per_subject: int = Field(3, ge=1, description="Public-form submissions accepted per subject email address per day (then 429).")
    web_burst_subjects: int = Field(
        5,
        ge=0,
        description="Public-form requests for more than this many different subjects from one source address within 24 hours are "
        "each escalated to legal as a verification risk (a burst of templated requests); 0: never.",
    )


# The areas in the order `dsar config show` prints them: Settings attribute -> model.
AREAS: dict[str, type[BaseSettings]] = {
    "engine": EngineSettings,
    "prefect": PrefectSettings,
    "mail": MailSettings,
    "alerts": AlertSettings,
    "aws": AwsSettings,
    "demo": DemoSettings,
    "web": WebSettings,
}
_DEMO_VARIABLES = {
    "demo_shop_url": "DSAR_DEMO_SHOP_URL",
    "demo_files_url": "DSAR_DEMO_FILES_URL",
    "demo_helpdesk_url": "DSAR_DEMO_HELPDESK_URL",
    "demo_helpdesk_token": "DSAR_DEMO_HELPDESK_TOKEN",
}


# Bases listed last area first: pydantic collects fields from the last base on, so the engine's
# fields come first in Settings.model_fields, as in AREAS.
class Settings(WebSettings, DemoSettings, AwsSettings, AlertSettings, MailSettings, PrefectSettings, EngineSettings):
    """Every area's fields in one flat model (the entry points build this one); ``.engine``,
    ``.prefect``, ``.mail``, ``.alerts``, ``.aws`` and ``.demo`` give each area on its own."""

    model_config = _CONFIG

    def _values(self, area: type[BaseSettings]) -> dict[str, Any]:
        """This area's fields as set here: already validated, so the area is built without
        validating or reading the environment again."""
        return {name: getattr(self, name) for name in area.model_fields}

    @property
    def web(self) -> WebSettings:
        return WebSettings.model_construct(**self._values(WebSettings))

    @property
    def effective_web_url(self) -> str:
        return (self.web_public_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def engine(self) -> EngineSettings:
        return EngineSettings.model_construct(**self._values(EngineSettings))

    @property
    def prefect(self) -> PrefectSettings:
        return PrefectSettings.model_construct(**self._values(PrefectSettings))

    @property
    def mail(self) -> MailSettings:
        return MailSettings.model_construct(**self._values(MailSettings))

    @property
    def alerts(self) -> AlertSettings:
        return AlertSettings.model_construct(**self._values(AlertSettings))

    @property
    def aws(self) -> AwsSettings:
        return AwsSettings.model_construct(**self._values(AwsSettings))

    @property
    def demo(self) -> DemoSettings:
        return DemoSettings.model_construct(**self._values(DemoSettings))

    # --- derived from more than one area ---------------------------------------------------
    @property
    def effective_outbox_dir(self) -> Path:
        return (self.outbox_dir or self.home_dir / "outbox").expanduser()

    @property
    def effective_sms_outbox_dir(self) -> Path:
        """Where the outbox text-message transport writes: OUTBOX_DIR/sms."""
        return self.effective_outbox_dir / "sms"

    @property
    def demo_shop_path(self) -> Path:
        return self.home_dir / "demo" / "shop.db"

    @property
    def demo_files_dir(self) -> Path:
        return self.home_dir / "demo" / "files"

    @property
    def demo_helpdesk_dir(self) -> Path:
        return self.home_dir / "demo" / "helpdesk"

    @property
    def prefect_home(self) -> Path:
        return self.home_dir / "prefect"

    @property
    def effective_alert_email(self) -> str:
        return self.alert_email or self.privacy_contact

    @property
    def alerts_reach_nobody(self) -> bool:
        """No alert URL is set: alerts are only written as .eml files into the outbox."""
        return not self.alert_urls

    @property
    def alert_destination(self) -> str:
        """Where deadline alerts go, in one sentence (loud when nobody receives them)."""
        if self.alert_urls:
            kinds = sorted({u.get_secret_value().split("://", 1)[0] for u in self.alert_urls})
            return f"alerts go to {len(self.alert_urls)} alert URL(s): {', '.join(k + '://' for k in kinds)}"
        return (
            f"NO ALERT URL IS SET: deadline alerts are only written as .eml files into {self.effective_outbox_dir}, "
            f"addressed to {self.effective_alert_email}; nobody receives them unless something reads that folder. "
            "Set DSAR_ALERT_URLS (Slack, Teams, mailto://, a webhook)."
        )

    def connection_secrets(self) -> dict[str, str]:
        """Values the data map's connection references resolve to: the environment, plus the
        demo company's systems (as configured, else local paths, the loopback helpdesk and its
        demo token)."""
        secrets = {
            "DSAR_DEMO_SHOP_URL": f"sqlite:///{self.demo_shop_path}",
            "DSAR_DEMO_FILES_URL": f"file://{self.demo_files_dir}",  # the path as it is (not percent-encoded)
            "DSAR_DEMO_HELPDESK_URL": f"http://127.0.0.1:{self.demo_helpdesk_port}/api",
        }
        token = self.demo_helpdesk_dir / "token"
        if token.is_file():  # written by `dsar demo` for the helpdesk it serves
            secrets["DSAR_DEMO_HELPDESK_TOKEN"] = f"Bearer {token.read_text().strip()}"
        secrets.update(os.environ)
        for name, variable in _DEMO_VARIABLES.items():  # as configured (environment, .env or argument)
            value = getattr(self, name)
            if value is not None:
                secrets[variable] = value.get_secret_value() if isinstance(value, SecretStr) else value
        return secrets

    def describe(self, grouped: bool = False) -> dict[str, object]:
        """The effective configuration, secrets masked, for `dsar config show`: one flat dict,
        area by area, or with ``grouped`` one dict per area (keys as in AREAS)."""
        url = self.effective_database_url
        demo = self.connection_secrets()
        areas: dict[str, dict[str, object]] = {
            "engine": {
                "home": str(self.home_dir),
                "database_url": _mask_url(url),
                "key_file": str(self.effective_key_file),
                "object_store_dir": str(self.effective_object_store_dir),
                "data_map_dir": str(self.data_map_dir),
                "templates_dir": str(self.templates_dir),
                "timezone": self.timezone,
                "organisation_name": self.organisation_name,
                "privacy_contact": self.privacy_contact,
                "duplicate_window_hours": self.duplicate_window_hours,
                "max_backdate_days": self.max_backdate_days,
                "verification_code_ttl_hours": self.verification_code_ttl_hours,
                "verification_max_attempts": self.verification_max_attempts,
                "verification_system": self.verification_system,
                "verification_max_sends": self.verification_max_sends,
                "verification_reminder_hours": self.verification_reminder_hours,
                "verification_reminder_after_hours": self.verification_reminder_after_hours,
                "account_login_url": _mask_url(self.account_login_url) if self.account_login_url else None,
                "account_login_public_key_file": str(self.account_login_public_key_file) if self.account_login_public_key_file else None,
                "account_login_jwks_file": str(self.account_login_jwks_file) if self.account_login_jwks_file else None,
                "account_login_issuer": self.account_login_issuer,
                "account_login_audience": self.account_login_audience,
                "account_login_risk_claims": self.account_login_risk_claims,
                "reasonable_period_days": self.reasonable_period_days,
                "signing_key_file": str(self.effective_signing_key_file),
                "audit_retention_months": self.audit_retention_months,
                "evidence_dir": str(self.effective_evidence_dir),
                "package_link_days": self.package_link_days,
                "package_max_download_starts": self.package_max_download_starts,
                "package_max_new_links": self.package_max_new_links,
                "package_keep_days": self.package_keep_days,
                "checkpoint_witness_file": str(self.effective_checkpoint_witness_file),
                "letter_sign_off": self.letter_sign_off,
            },
            "prefect": {
                "prefect_api_url": mask_url(self.effective_prefect_api_url),
                "prefect_api_url_source": "configured" if self.prefect_api_url else "local server (default)",
                "prefect_startup_timeout_s": self.prefect_startup_timeout_s,
                "deadline_watch_cron": self.deadline_watch_cron,
                "audit_maintenance_cron": self.audit_maintenance_cron,
                "worker": self.worker,
                "worker_threads": self.worker_threads,
                "worker_poll_seconds": self.worker_poll_seconds,
            },
            "mail": {
                "outbox_dir": str(self.effective_outbox_dir),
                "mail_transport": self.mail_transport,
                "sms_transport": self.sms_transport,
                "sms_outbox_dir": str(self.effective_sms_outbox_dir),
                "sms_sender_id": self.sms_sender_id,
                "mail_bounce_queue_url": self.mail_bounce_queue_url,
                "mail_bounce_maildir": str(self.mail_bounce_maildir) if self.mail_bounce_maildir else None,
                "sms_failure_log_group": self.sms_failure_log_group,
                "sms_failure_lookback_hours": self.sms_failure_lookback_hours,
            },
            "alerts": {
                "alert_thresholds_days": self.alert_thresholds_days,
                # an alert URL holds its token in the URL: show only where it goes
                "alert_urls": [u.get_secret_value().split("://", 1)[0] + "://***" for u in self.alert_urls],
                "alert_email": self.effective_alert_email,
                "alert_max_attempts": self.alert_max_attempts,
                "alert_digest_over": self.alert_digest_over,
                "legal_response_business_days": self.legal_response_business_days,
                "alerts_go_to": self.alert_destination,
            },
            "aws": {
                "key_provider": f"aws-kms ({self.kms_key_id})" if self.kms_key_id else "local key file",
                "checkpoint_bucket": self.checkpoint_bucket,
                "checkpoint_retention_days": self.checkpoint_retention_days,
                "package_bucket": self.package_bucket,
                "package_kms_key_id": self.package_kms_key_id,
            },
            "demo": {
                "demo_shop_url": _mask_url(demo["DSAR_DEMO_SHOP_URL"]),
                "demo_files_url": _mask_url(demo["DSAR_DEMO_FILES_URL"]),
                "demo_helpdesk_url": _mask_url(demo["DSAR_DEMO_HELPDESK_URL"]),
                "demo_helpdesk_token": "***" if demo.get("DSAR_DEMO_HELPDESK_TOKEN") else None,
                "demo_helpdesk_port": self.demo_helpdesk_port,
            },
            "web": {
                "web_host": self.web_host,
                "web_port": self.web_port,
                "web_url": self.effective_web_url,
                "web_secure_cookies": self.web_secure_cookies,
                "web_max_body_bytes": self.web_max_body_bytes,
                "web_session_hours": self.web_session_hours,
                "web_default_regime": self.web_default_regime,
                "web_default_country": self.web_default_country,
                "web_default_subdivision": self.web_default_subdivision,
                "api_rate_per_token": self.api_rate_per_token,
                "api_rate_per_subject": self.api_rate_per_subject,
                "api_idempotency_hours": self.api_idempotency_hours,
                "web_rate_per_address": self.web_rate_per_address,
                "web_rate_per_subject": self.web_rate_per_subject,
                "web_burst_subjects": self.web_burst_subjects,
            },
        }
        if grouped:
            return dict(areas)
        return {key: value for area in areas.values() for key, value in area.items()}


_SECRET_PARAMS = ("password", "passwd", "pwd", "token", "secret", "key", "apikey", "api_key", "access_token", "signature", "sig")


def mask_url(url: str) -> str:
    """A URL fit to print: the password of its user part and the values of query parameters
    that look like credentials (``token=``, ``password=``, ``X-Amz-Signature=`` ...) become
    ``***``: ``scheme://user:***@host/db?sslmode=require&password=***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    hostpart, qsep, query = rest.partition("?")
    if "@" in hostpart:
        creds, _, host = hostpart.rpartition("@")
        user = creds.split(":", 1)[0]
        hostpart = f"{user}{':***' if ':' in creds else ''}@{host}"
    if qsep:
        params = []
        for item in query.split("&"):
            name, eq, _value = item.partition("=")
            secret = name.lower().replace("-", "_").split("_")[-1] in _SECRET_PARAMS or name.lower() in _SECRET_PARAMS
            params.append(f"{name}=***" if eq and secret else item)
        query = "&".join(params)
    return f"{scheme}://{hostpart}{qsep}{query}"


_mask_url = mask_url


def _variable(field: str) -> str:
    """The environment variable a field is read from, and its area (``DSAR_TIMEZONE (engine)``)."""
    area = next((name for name, model in AREAS.items() if field in model.model_fields), None)
    if area is None:
        return field
    variable = "PREFECT_API_URL" if field == "prefect_api_url" else f"DSAR_{field.upper()}"
    return f"{variable} ({area})"


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        # Name the variable and the problem, never the value (it may be a secret).
        problems = "; ".join(
            f"{_variable(str(e['loc'][0])) if e['loc'] else 'settings'}"
            f"{''.join(f'[{p}]' for p in e['loc'][1:])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_input=False)
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
