"""Configuration: one pydantic-settings model, read from ``DSAR_*`` environment variables
(and a ``.env`` file in the working folder). Built at the entry points, never at import.

Every field has a description; ``dsar config show`` prints the effective values without
secrets.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dsar import resources
from dsar.domain.errors import ConfigurationError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DSAR_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".dsar"), description="Data folder: SQLite database, key file, object store, outbox, local Prefect home.")
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL of the engine's database (e.g. postgresql+psycopg://user@host/db). Default: SQLite at HOME/dsar.db.",
    )
    key_file: Path | None = Field(None, description="Local master key file, created on first run (0600). Default: HOME/keys/master.key.")
    object_store_dir: Path | None = Field(None, description="Folder for encrypted exports. Default: HOME/objects.")
    outbox_dir: Path | None = Field(None, description="Folder where outgoing mail is written as .eml files. Default: HOME/outbox.")
    data_map_dir: Path = Field(default_factory=resources.data_map_dir, description="Folder of the data map (one YAML per system).")
    templates_dir: Path = Field(default_factory=resources.templates_dir, description="Folder of the letter templates.")
    timezone: str = Field("UTC", description="IANA timezone of the organisation, used for received times given without an offset.")
    organisation_name: str = Field("Example Shop Ltd", description="Controller name printed on letters.")
    privacy_contact: str = Field("privacy@example-shop.test", description="Privacy team address letters are sent from.")
    duplicate_window_hours: int = Field(
        24, ge=0, description="A second submission for the same subject, type and regime within this many hours is linked to the first."
    )
    verification_code_ttl_hours: int = Field(
        72, ge=1, description="How long a one-time verification code stays valid (THREATS.md: at least 3 days)."
    )
    verification_max_attempts: int = Field(5, ge=1, description="Wrong codes allowed before the request is refused as unverifiable.")
    prefect_api_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DSAR_PREFECT_API_URL", "PREFECT_API_URL"),
        description="Prefect API to run flows against. Unset: the local server on PREFECT_HOST:PREFECT_PORT, which `dsar demo` starts.",
    )
    prefect_host: str = Field("127.0.0.1", description="Host of the local Prefect server the demo starts (loopback only).")
    prefect_port: int = Field(4200, description="Port of the local Prefect server the demo starts.")
    demo_helpdesk_port: int = Field(
        4281, ge=0, le=65535, description="Port (127.0.0.1) of the demo company's helpdesk API, which `dsar demo` serves while it runs."
    )
    prefect_startup_timeout_s: int = Field(180, description="How long to wait for a local Prefect server to answer /api/health.")
    deadline_watch_cron: str = Field(
        "0 * * * *", description="When the deadline-watch deployment runs (cron, in DSAR_TIMEZONE). Default: every hour."
    )
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
    signing_key_file: Path | None = Field(
        None,
        description="Ed25519 key signing audit checkpoints and bundles, created on first use. Default: HOME/keys/audit-signing.pem.",
    )
    audit_maintenance_cron: str = Field(
        "30 2 * * *",
        description="When the audit-maintenance deployment signs a checkpoint and shreds expired requests (cron, DSAR_TIMEZONE).",
    )
    audit_retention_months: int = Field(
        24, ge=1, description="Months after a request finished before its data key is destroyed (crypto-shredding); CCPA 7101 needs 24."
    )
    evidence_dir: Path | None = Field(None, description="Where the export-evidence deployment writes bundles. Default: HOME/evidence.")
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

    @field_validator("alert_thresholds_days")
    @classmethod
    def _thresholds(cls, v: list[int]) -> list[int]:
        if not v or any(t < 0 for t in v):
            raise ValueError("give one or more non-negative numbers of days, e.g. [7, 3, 1]")
        return sorted(set(v), reverse=True)

    @field_validator("deadline_watch_cron", "audit_maintenance_cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        if len(v.split()) != 5:
            raise ValueError("a cron expression has five fields, e.g. '0 * * * *'")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {v!r}") from None
        return v

    # --- derived paths ---------------------------------------------------------------------
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
    def effective_outbox_dir(self) -> Path:
        return (self.outbox_dir or self.home_dir / "outbox").expanduser()

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
    def effective_prefect_api_url(self) -> str:
        return self.prefect_api_url or f"http://{self.prefect_host}:{self.prefect_port}/api"

    @property
    def effective_alert_email(self) -> str:
        return self.alert_email or self.privacy_contact

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def connection_secrets(self) -> dict[str, str]:
        """Values the data map's connection references resolve to: the environment, plus the
        demo company's systems as defaults (local paths, the loopback helpdesk and its demo token)."""
        secrets = {
            "DSAR_DEMO_SHOP_URL": f"sqlite:///{self.demo_shop_path}",
            "DSAR_DEMO_FILES_URL": f"file://{self.demo_files_dir}",  # the path as it is (not percent-encoded)
            "DSAR_DEMO_HELPDESK_URL": f"http://127.0.0.1:{self.demo_helpdesk_port}/api",
        }
        token = self.demo_helpdesk_dir / "token"
        if token.is_file():  # written by `dsar demo` for the helpdesk it serves
            secrets["DSAR_DEMO_HELPDESK_TOKEN"] = f"Bearer {token.read_text().strip()}"
        secrets.update(os.environ)
        return secrets

    def describe(self) -> dict[str, object]:
        """The effective configuration, secrets masked, for `dsar config show`."""
        url = self.effective_database_url
        return {
            "home": str(self.home_dir),
            "database_url": _mask_url(url),
            "key_file": str(self.effective_key_file),
            "object_store_dir": str(self.effective_object_store_dir),
            "outbox_dir": str(self.effective_outbox_dir),
            "data_map_dir": str(self.data_map_dir),
            "templates_dir": str(self.templates_dir),
            "timezone": self.timezone,
            "organisation_name": self.organisation_name,
            "privacy_contact": self.privacy_contact,
            "duplicate_window_hours": self.duplicate_window_hours,
            "verification_code_ttl_hours": self.verification_code_ttl_hours,
            "verification_max_attempts": self.verification_max_attempts,
            "prefect_api_url": self.effective_prefect_api_url,
            "prefect_api_url_source": "configured" if self.prefect_api_url else "local server (default)",
            "prefect_startup_timeout_s": self.prefect_startup_timeout_s,
            "demo_helpdesk_port": self.demo_helpdesk_port,
            "deadline_watch_cron": self.deadline_watch_cron,
            "alert_thresholds_days": self.alert_thresholds_days,
            # an alert URL holds its token in the URL: show only where it goes
            "alert_urls": [u.get_secret_value().split("://", 1)[0] + "://***" for u in self.alert_urls],
            "alert_email": self.effective_alert_email,
            "alert_max_attempts": self.alert_max_attempts,
            "alert_digest_over": self.alert_digest_over,
            "signing_key_file": str(self.effective_signing_key_file),
            "audit_maintenance_cron": self.audit_maintenance_cron,
            "audit_retention_months": self.audit_retention_months,
            "evidence_dir": str(self.effective_evidence_dir),
            "key_provider": f"aws-kms ({self.kms_key_id})" if self.kms_key_id else "local key file",
            "checkpoint_bucket": self.checkpoint_bucket,
            "checkpoint_retention_days": self.checkpoint_retention_days,
        }


def _mask_url(url: str) -> str:
    """Hide the password of a database URL: scheme://user:***@host/db."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in creds else ''}@{host}"


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        # Name the field and the problem, never the value (it may be a secret).
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False))
        raise ConfigurationError(f"invalid configuration: {problems}") from None
