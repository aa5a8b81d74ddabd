"""When `request new` may start its run over plain HTTP and when Prefect's client must do it
(issue 13, item 8): auth, TLS, proxies and profile settings are the client's."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsar.orchestration.rest import flow_run_body, usable

API = "http://127.0.0.1:4200/api"


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    (tmp_path / "prefect").mkdir(exist_ok=True)
    return {"PREFECT_HOME": str(tmp_path / "prefect"), **extra}


def test_a_plain_local_api_without_client_settings_is_usable(tmp_path: Path) -> None:
    assert usable(API, env(tmp_path), cwd=tmp_path)


@pytest.mark.parametrize(
    "url",
    ["https://prefect.example.com/api", "http://user:secret@127.0.0.1:4200/api", "ftp://127.0.0.1/api", "not a url"],
)
def test_https_credentials_in_the_url_and_odd_schemes_go_through_prefects_client(tmp_path: Path, url: str) -> None:
    assert not usable(url, env(tmp_path), cwd=tmp_path)


@pytest.mark.parametrize(
    "name", ["PREFECT_API_KEY", "PREFECT_API_AUTH_STRING", "PREFECT_CLIENT_CUSTOM_HEADERS", "PREFECT_PROFILE", "HTTP_PROXY"]
)
def test_auth_header_profile_and_proxy_settings_go_through_prefects_client(tmp_path: Path, name: str) -> None:
    assert not usable(API, env(tmp_path, **{name: "x"}), cwd=tmp_path)


def test_a_prefect_profile_or_settings_file_goes_through_prefects_client(tmp_path: Path) -> None:
    e = env(tmp_path)
    (Path(e["PREFECT_HOME"]) / "profiles.toml").write_text('[profiles.default]\nPREFECT_API_KEY = "x"\n')
    assert not usable(API, e, cwd=tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    assert usable(API, env(work), cwd=work)
    (work / ".env").write_text("PREFECT_API_AUTH_STRING=a:b\n")
    assert not usable(API, env(work), cwd=work)
    (work / ".env").write_text("DSAR_HOME=x\n")
    assert usable(API, env(work), cwd=work)
    (work / "prefect.toml").write_text("[api]\n")
    assert not usable(API, env(work), cwd=work)


def test_the_body_carries_only_the_request_id_and_the_reference() -> None:
    from datetime import UTC, datetime

    body = flow_run_body({"request_id": "abc"}, "DSR-2026-000001", datetime(2026, 12, 6, 9, 0, tzinfo=UTC))
    assert body["parameters"] == {"request_id": "abc"} and body["name"] == "DSR-2026-000001"
    assert body["state"]["state_details"]["scheduled_time"] == "2026-12-06T09:00:00Z"
    assert body["tags"] == [] and body["labels"] == {}
