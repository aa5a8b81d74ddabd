"""Settings: one model per area, read from the same variables as ever, built flat by every
caller, with each area available on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsar.domain.errors import ConfigurationError
from dsar.settings import (
    AREAS,
    AlertSettings,
    AwsSettings,
    DemoSettings,
    EngineSettings,
    MailSettings,
    PrefectSettings,
    Settings,
    load_settings,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DSAR_ or PREFECT_API_URL variable of the machine running the tests, and a working
    folder without a .env file."""
    import os

    for name in list(os.environ):
        if name.startswith("DSAR_") or name in ("PREFECT_API_URL",):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def flat(**overrides: object) -> Settings:
    return Settings(home=Path("/srv/dsar"), _env_file=None, **overrides)  # type: ignore[arg-type]


def test_every_field_belongs_to_exactly_one_area_and_has_a_description() -> None:
    seen: dict[str, str] = {}
    for area, model in AREAS.items():
        for name, field in model.model_fields.items():
            assert name not in seen, f"{name} is in {seen.get(name)} and {area}"
            assert field.description, f"{area}.{name} has no description"
            seen[name] = area
    assert list(Settings.model_fields) == list(seen)  # Settings is exactly the areas, engine first


def test_callers_build_settings_flat_and_read_each_area_as_a_model_of_its_own() -> None:
    s = flat(
        database_url="postgresql+psycopg://app:pw@db/dsar",
        timezone="Europe/Berlin",
        outbox_dir=Path("/var/mail/dsar"),
        alert_thresholds_days=[1, 7, 3, 3],
        prefect_port=4300,
        kms_key_id="alias/dsar",
        demo_helpdesk_port=5000,
    )
    assert isinstance(s.engine, EngineSettings) and s.engine.effective_database_url == s.effective_database_url
    assert s.engine.zone == s.zone and str(s.engine.zone) == "Europe/Berlin" and s.engine.home_dir == Path("/srv/dsar")
    assert isinstance(s.prefect, PrefectSettings) and s.prefect.effective_prefect_api_url == "http://127.0.0.1:4300/api"
    assert isinstance(s.mail, MailSettings) and s.mail.outbox_dir == Path("/var/mail/dsar") == s.effective_outbox_dir
    assert isinstance(s.alerts, AlertSettings) and s.alerts.alert_thresholds_days == [7, 3, 1] == s.alert_thresholds_days
    assert isinstance(s.aws, AwsSettings) and s.aws.kms_key_id == "alias/dsar"
    assert isinstance(s.demo, DemoSettings) and s.demo.demo_helpdesk_port == 5000
    for area, model in AREAS.items():
        view = getattr(s, area)
        assert type(view) is model and view.model_dump() == {name: getattr(s, name) for name in model.model_fields}
    # the paths derived from HOME, as before
    assert s.effective_key_file == Path("/srv/dsar/keys/master.key") and s.prefect_home == Path("/srv/dsar/prefect")
    assert s.effective_alert_email == s.privacy_contact and s.demo_shop_path == Path("/srv/dsar/demo/shop.db")


@pytest.mark.parametrize(
    ("variable", "value", "area", "field", "expected"),
    [
        ("DSAR_HOME", "/data/dsar", "engine", "home", Path("/data/dsar")),
        ("DSAR_TIMEZONE", "Europe/Paris", "engine", "timezone", "Europe/Paris"),
        ("DSAR_VERIFICATION_MAX_ATTEMPTS", "3", "engine", "verification_max_attempts", 3),
        ("DSAR_AUDIT_RETENTION_MONTHS", "36", "engine", "audit_retention_months", 36),
        ("PREFECT_API_URL", "http://prefect:4200/api", "prefect", "prefect_api_url", "http://prefect:4200/api"),
        ("DSAR_PREFECT_API_URL", "http://other:4200/api", "prefect", "prefect_api_url", "http://other:4200/api"),
        ("DSAR_PREFECT_STARTUP_TIMEOUT_S", "30", "prefect", "prefect_startup_timeout_s", 30),
        ("DSAR_DEADLINE_WATCH_CRON", "*/5 * * * *", "prefect", "deadline_watch_cron", "*/5 * * * *"),
        ("DSAR_OUTBOX_DIR", "/var/outbox", "mail", "outbox_dir", Path("/var/outbox")),
        ("DSAR_ALERT_THRESHOLDS_DAYS", "[14, 2]", "alerts", "alert_thresholds_days", [14, 2]),
        ("DSAR_ALERT_EMAIL", "dpo@example.test", "alerts", "alert_email", "dpo@example.test"),
        ("DSAR_KMS_KEY_ID", "alias/dsar", "aws", "kms_key_id", "alias/dsar"),
        ("DSAR_CHECKPOINT_RETENTION_DAYS", "10", "aws", "checkpoint_retention_days", 10),
        ("DSAR_DEMO_HELPDESK_PORT", "4999", "demo", "demo_helpdesk_port", 4999),
        ("DSAR_DEMO_FILES_URL", "s3://demo-files", "demo", "demo_files_url", "s3://demo-files"),
    ],
)
def test_each_variable_keeps_its_name_and_lands_in_its_area(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, area: str, field: str, expected: object
) -> None:
    monkeypatch.setenv(variable, value)
    s = Settings(_env_file=None)
    assert getattr(s, field) == expected and getattr(getattr(s, area), field) == expected
    assert getattr(AREAS[area](_env_file=None), field) == expected  # the area alone reads it too


def test_a_dotenv_file_in_the_working_folder_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DSAR_TIMEZONE=Asia/Tokyo\nDSAR_ALERT_MAX_ATTEMPTS=4\nPREFECT_API_URL=http://p:1/api\n")
    s = Settings()
    assert (s.timezone, s.alert_max_attempts, s.prefect_api_url) == ("Asia/Tokyo", 4, "http://p:1/api")
    assert EngineSettings().timezone == "Asia/Tokyo" and AlertSettings().alert_max_attempts == 4
    assert load_settings().alerts.alert_max_attempts == 4


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DSAR_TIMEZONE", "Mars/Olympus", "DSAR_TIMEZONE (engine): unknown IANA timezone"),
        ("DSAR_ALERT_THRESHOLDS_DAYS", "[-1]", "DSAR_ALERT_THRESHOLDS_DAYS (alerts): give one or more non-negative numbers"),
        ("DSAR_AUDIT_MAINTENANCE_CRON", "daily", "DSAR_AUDIT_MAINTENANCE_CRON (prefect): a cron expression has five fields"),
        ("DSAR_ALERT_MAX_ATTEMPTS", "hunter2", "DSAR_ALERT_MAX_ATTEMPTS (alerts): Input should be a valid integer"),
        ("DSAR_CHECKPOINT_RETENTION_DAYS", "0", "DSAR_CHECKPOINT_RETENTION_DAYS (aws): Input should be greater than or equal to 1"),
        ("DSAR_DEMO_HELPDESK_PORT", "70000", "DSAR_DEMO_HELPDESK_PORT (demo): Input should be less than or equal to 65535"),
        # not a secret: the unknown entry is named, so whoever set it sees what to fix
        ("DSAR_LETTER_SIGN_OFF", "deletion,refusals", "DSAR_LETTER_SIGN_OFF (engine): letter sign-off: unknown entry 'refusals'"),
        ("DSAR_LETTER_SIGN_OFF", "access@mars", "DSAR_LETTER_SIGN_OFF (engine): letter sign-off: unknown regime in 'access@mars'"),
    ],
)
def test_invalid_values_are_a_configuration_error_naming_the_variable_and_area(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert str(info.value).startswith("invalid configuration: ") and message in str(info.value)
    assert "hunter2" not in str(info.value)  # what was given is never repeated (a value may be a secret)


def test_describe_prints_every_area_with_secrets_masked() -> None:
    s = flat(
        database_url="postgresql+psycopg://app:s3cret@db/dsar",
        alert_urls=["slack://tokenA/tokenB/tokenC"],
        demo_shop_url="postgresql+psycopg://shop:sh0p@db/shop",
        demo_helpdesk_token="Bearer t0ken",
    )
    grouped = s.describe(grouped=True)
    assert list(grouped) == list(AREAS)
    described = s.describe()
    assert list(described) == [key for area in grouped.values() for key in area]  # type: ignore[attr-defined]
    assert described["database_url"] == "postgresql+psycopg://app:***@db/dsar" and described["outbox_dir"] == "/srv/dsar/outbox"
    assert described["alert_urls"] == ["slack://***"] and described["demo_helpdesk_token"] == "***"
    assert described["demo_shop_url"] == "postgresql+psycopg://shop:***@db/shop"
    assert described["demo_files_url"] == "file:///srv/dsar/demo/files" and described["key_provider"] == "local key file"
    text = repr(described) + repr(grouped)
    assert not any(secret in text for secret in ("s3cret", "tokenA", "sh0p", "t0ken"))


def test_the_demo_systems_connections_come_from_their_settings_else_the_demo_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = flat().connection_secrets()
    assert defaults["DSAR_DEMO_SHOP_URL"] == "sqlite:////srv/dsar/demo/shop.db"
    assert defaults["DSAR_DEMO_FILES_URL"] == "file:///srv/dsar/demo/files"
    assert defaults["DSAR_DEMO_HELPDESK_URL"] == "http://127.0.0.1:4281/api" and "DSAR_DEMO_HELPDESK_TOKEN" not in defaults
    monkeypatch.setenv("CRM_URL", "postgresql+psycopg://crm@db/crm")  # any other system's variable
    monkeypatch.setenv("DSAR_DEMO_FILES_URL", "s3://from-the-environment")
    configured = flat(demo_shop_url="sqlite:////elsewhere/shop.db", demo_helpdesk_token="Bearer x").connection_secrets()
    assert configured["DSAR_DEMO_SHOP_URL"] == "sqlite:////elsewhere/shop.db" and configured["DSAR_DEMO_HELPDESK_TOKEN"] == "Bearer x"
    assert configured["DSAR_DEMO_FILES_URL"] == "s3://from-the-environment" and configured["CRM_URL"] == "postgresql+psycopg://crm@db/crm"


def test_prefect_api_credentials_never_printed() -> None:
    """Security probe, item 12: a Prefect API URL with credentials is masked wherever shown."""
    from dsar.orchestration.prefect import PrefectOrchestrator

    s = Settings(prefect_api_url="http://ops:hunter2-secret@prefect.internal:4200/api")
    described = s.describe()
    assert described["prefect_api_url"] == "http://ops:***@prefect.internal:4200/api"
    assert "hunter2" not in repr(described) + repr(s.describe(grouped=True))
    url = PrefectOrchestrator(s.effective_prefect_api_url).run_url("abc")
    assert url == "http://ops:***@prefect.internal:4200/runs/flow-run/abc"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://app:pw@db/dsar?sslmode=require", "postgresql+psycopg://app:***@db/dsar?sslmode=require"),
        ("https://h.example/api?token=abc&page=2", "https://h.example/api?token=***&page=2"),
        ("https://b.s3.example/k?X-Amz-Signature=abcd&X-Amz-Date=1", "https://b.s3.example/k?X-Amz-Signature=***&X-Amz-Date=1"),
        ("http://127.0.0.1:4200/api", "http://127.0.0.1:4200/api"),
        ("sqlite:////srv/dsar.db", "sqlite:////srv/dsar.db"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    from dsar.settings import mask_url

    assert mask_url(url) == shown


def test_the_letter_sign_off_defaults_to_deletions_and_refusals_and_reads_regimes_by_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    assert flat().letter_sign_off == "deletion,refusal"
    monkeypatch.setenv("DSAR_LETTER_SIGN_OFF", "Access@us-ca, refusal")
    assert load_settings().letter_sign_off == "access@ccpa,refusal"
    monkeypatch.setenv("DSAR_LETTER_SIGN_OFF", "none")
    assert load_settings().describe()["letter_sign_off"] == "none"
