"""The ``uow_factory`` the repository contract runs against: the in-memory implementation
(:mod:`dsar.services.memory`) and the SQL one (:class:`dsar.persistence.uow.SqlUnitOfWorkFactory`,
with its shared data-key cache, as the app builds it) on SQLite and on PostgreSQL.

PostgreSQL never skips silently (``require_postgres`` fails in CI when the server does not
answer). Its schema is migrated once per session into a database of the contract's own; after
each test the tables are emptied back to what the migrations left (a fresh database per test
costs seconds each).
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, create_engine, text

from dsar.crypto import BlindIndex, LocalKeyProvider
from dsar.persistence.database import make_engine, upgrade
from dsar.persistence.uow import SqlUnitOfWorkFactory
from dsar.services.memory import InMemoryDatabase, memory_uow_factory
from dsar.services.ports import UnitOfWorkFactory
from tests.conftest import PG_ADMIN_URL, require_postgres


def _admin_execute(*statements: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            for statement in statements:
                c.execute(text(statement))
    finally:
        admin.dispose()


def _url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file, copied for each test (migrating each costs a second)."""
    path = tmp_path_factory.mktemp("contract") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection closing folds the WAL into the file
    return path


@pytest.fixture(scope="session")
def pg_contract_engine() -> Iterator[Engine]:
    """One migrated PostgreSQL database for the session's contract tests; dropped at the end."""
    require_postgres()
    name = f"dsar_ct_{secrets.token_hex(6)}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(_url(name))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_contract_database(pg_contract_engine: Engine) -> Iterator[Engine]:
    """The session's database as the migrations left it: afterwards every table is emptied and
    the rows the migrations seeded (the audit head) are put back. (Ids keep counting up: the
    contract never assumes their values.)"""
    engine = pg_contract_engine
    meta = MetaData()
    meta.reflect(engine)
    tables = [t for t in meta.sorted_tables if t.name != "alembic_version"]
    with engine.connect() as c:
        seeded = {t.name: [dict(r._mapping) for r in c.execute(t.select())] for t in tables}
    yield engine
    with engine.begin() as c:
        for t in reversed(tables):
            c.execute(t.delete())  # DELETE, not TRUNCATE: a few rows, and TRUNCATE costs a second
        for t in tables:
            if seeded[t.name]:
                c.execute(t.insert(), seeded[t.name])


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def uow_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWorkFactory]:
    if request.param == "memory":
        yield memory_uow_factory(InMemoryDatabase())
        return
    keys = LocalKeyProvider({"contract-1": secrets.token_bytes(32)}, "contract-1")
    if request.param == "postgres":
        yield SqlUnitOfWorkFactory(request.getfixturevalue("pg_contract_database"), keys, BlindIndex(keys.derive("blind-index")))
        return
    db = tmp_path / "dsar.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), db)
    engine = make_engine(f"sqlite:///{db}")
    yield SqlUnitOfWorkFactory(engine, keys, BlindIndex(keys.derive("blind-index")))
    engine.dispose()
