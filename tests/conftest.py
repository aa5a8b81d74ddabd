"""Shared fixtures: an isolated DSAR_HOME per test, the engine on SQLite or PostgreSQL."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsar.app import App, build_app
from dsar.persistence.database import make_engine, upgrade
from dsar.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("DSAR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_answers() -> bool:
    try:
        r = subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def require_postgres() -> None:
    """PostgreSQL tests never skip silently: in CI (or via scripts/test) a missing server fails."""
    if postgres_answers():
        return
    message = "PostgreSQL does not answer on 127.0.0.1:5432 (run scripts/ensure-postgres)"
    if os.environ.get("CI") or os.environ.get("DSAR_REQUIRE_POSTGRES"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    require_postgres()
    from sqlalchemy import create_engine, text

    name = f"dsar_t_{secrets.token_hex(6)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# The demo shop alone (a copy of connectors/shop.yaml in a folder of its own, made once per
# test session): most tests exercise one system; the demo's whole data map (file store,
# helpdesk API, manual ledger) runs in its own tests. A copy, not a link in the repository:
# links do not survive every checkout.
SHOP_ONLY = Path(tempfile.mkdtemp(prefix="dsar-test-shop-map-"))
shutil.copy(ROOT / "connectors" / "shop.yaml", SHOP_ONLY / "shop.yaml")
atexit.register(shutil.rmtree, SHOP_ONLY, ignore_errors=True)


def make_settings(home: Path, database_url: str | None = None, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_map_dir": SHOP_ONLY, "templates_dir": ROOT / "templates"} | overrides
    return Settings(
        home=home,
        database_url=database_url,
        _env_file=None,
        **values,  # type: ignore[arg-type]
    )


def migrate_database(settings: Settings) -> None:
    """What `dsar db upgrade` does: the app itself only checks the schema."""
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def approve_all_templates(app: App, approver: str = "test.legal") -> int:
    """Record legal's approval of every template file as it is now (what `dsar templates approve`
    stores once the approver's code is proven): the letters of a test are sent. Tests of the
    approval itself build their app without this."""
    from dsar.domain.letters import TemplateApproval
    from dsar.services.templates import list_templates, version_of_file

    added = 0
    with app.ctx.uow() as uow:
        for t in list_templates(app.ctx):
            if t.state != "approved":
                version, content = version_of_file(app.ctx, t.path)
                uow.templates.add(TemplateApproval(t.path, version, content.decode(), approver, 0, app.ctx.clock(), 0))
                added += 1
        uow.commit()
    return added


def build_migrated_app(settings: Settings, *, approve_templates: bool = True) -> App:
    migrate_database(settings)
    app = build_app(settings)
    if approve_templates:
        approve_all_templates(app)
    return app


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "dsar-home"


@pytest.fixture(params=["sqlite", "postgres"])
def engine_app(request: pytest.FixtureRequest, home: Path) -> Iterator[App]:
    """The engine with its collaborators, on SQLite and on PostgreSQL, with the demo shop."""
    from dsar.demo.shop import seed_shop

    url = request.getfixturevalue("pg_database") if request.param == "postgres" else None
    settings = make_settings(home, url)
    seed_shop(settings.demo_shop_path)
    app = build_migrated_app(settings)
    yield app
    app.engine.dispose()


@pytest.fixture
def sqlite_app(home: Path) -> Iterator[App]:
    from dsar.demo.shop import seed_shop

    settings = make_settings(home)
    seed_shop(settings.demo_shop_path)
    app = build_migrated_app(settings)
    yield app
    app.engine.dispose()
