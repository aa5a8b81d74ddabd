"""Engine creation and schema migration (alembic), built at the entry points.

The schema is migrated once, by ``dsar db upgrade`` (and at the start of ``dsar serve`` and
``dsar demo``), never by every command or flow process: those only compare the database's
revision with the one this dsar needs (:func:`check_schema`, one small query) and refuse to
run on an older schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import create_engine

from dsar.domain.errors import ConfigurationError

if TYPE_CHECKING:
    # alembic is imported where it is used: a command on an up-to-date schema needs none of it
    # (issue 13, item 8: the CLI's start time).
    from alembic.config import Config
    from alembic.script import ScriptDirectory

_MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for the engine's database. SQLite gets WAL, a busy timeout and
    ``BEGIN IMMEDIATE`` so that the CLI and a serving process can write at the same time
    without lock-upgrade deadlocks."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" hook issue BEGIN
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent): ``dsar db upgrade``."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@dataclass(frozen=True)
class SchemaStatus:
    """The database's schema revision (None: never migrated) and the one this dsar needs."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(_MIGRATIONS))


_REVISION = re.compile(r"^(down_)?revision\s*(?::[^=]+)?=\s*(?:[\"']([^\"']+)[\"']|None)\s*$", re.MULTILINE)


@cache
def shipped_head() -> str | None:
    """The newest shipped revision read from the migration files' text (``revision = "0006"``,
    ``down_revision = "0005"``) without importing alembic; None when the files do not read as one
    straight line of revisions (then alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((_MIGRATIONS / "versions").glob("*.py")):
        found = {bool(m.group(1)): m.group(2) for m in _REVISION.finditer(path.read_text())}
        if False not in found or True not in found:
            return None
        revisions.add(found[False])
        if found[True] is not None:
            parents.add(found[True])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


@cache
def schema_head() -> str:
    """The newest revision of the migrations shipped with this dsar (read once per process)."""
    head = _scripts().get_current_head()
    if head is None:
        raise ConfigurationError("dsar ships no schema migrations")
    return head


def _known(revision: str) -> bool:
    from alembic.util.exc import CommandError

    try:
        return all(_scripts().get_revision(r) is not None for r in revision.split(","))
    except CommandError:  # a revision of a newer dsar
        return False


def schema_status(engine: Engine) -> SchemaStatus:
    """Where the database's schema is: one query of alembic's version table (an empty
    database has none)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return SchemaStatus(heads[0] if len(heads) == 1 else ",".join(heads) or None, schema_head())


def check_schema(engine: Engine) -> SchemaStatus:
    """Refuse to run on a schema other than the one this dsar needs (an empty database too).
    The common case, a database at the shipped head, is one query and no alembic import."""
    head = shipped_head()
    if head is not None:
        try:
            with engine.connect() as conn:
                current = [str(v) for v in conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()]
        except Exception:  # noqa: BLE001 - no version table (empty database): alembic says so below
            current = []
        if current == [head]:
            return SchemaStatus(head, head)
    status = schema_status(engine)
    if status.current is not None and not status.up_to_date and not _known(status.current):
        raise ConfigurationError(f"the database schema is at {status.current}, newer than this dsar knows ({status.head}): upgrade dsar")
    if not status.up_to_date:
        at = status.current or "nothing (empty database)"
        raise ConfigurationError(f"the database schema is at {at}; this dsar needs {status.head}: run `dsar db upgrade`")
    return status
