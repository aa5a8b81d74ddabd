from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from dsar.app import App
from dsar.audit.chain import first_broken
from dsar.persistence import tables  # noqa: F401
from dsar.persistence.database import migrate
from dsar.services.intake import log_request


def test_the_migrations_build_exactly_the_tables_the_models_declare(engine_app: App) -> None:
    with engine_app.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_migrating_again_is_harmless(engine_app: App) -> None:
    migrate(engine_app.engine)
    with engine_app.engine.connect() as c:
        assert c.execute(text("SELECT seq FROM audit_head")).scalar_one() == 0


def test_concurrent_intake_hands_out_distinct_references_and_keeps_one_audit_chain(engine_app: App) -> None:
    def submit(i: int) -> str:
        raw = {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": f"P{i}", "emails": [f"p{i}@example.com"]}}
        return log_request(engine_app.ctx, raw).request.reference

    with ThreadPoolExecutor(max_workers=6) as pool:
        refs = list(pool.map(submit, range(24)))
    assert len(set(refs)) == 24
    assert sorted(int(r[-6:]) for r in refs) == list(range(1, 25))
    with engine_app.ctx.uow() as uow:
        chain = uow.repo.chain()
    assert len(chain) == 48
    assert first_broken(chain) is None


def test_a_tampered_audit_row_breaks_the_chain_at_that_event(sqlite_app: App) -> None:
    log_request(
        sqlite_app.ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "A", "emails": ["a@example.com"]}}
    )
    with sqlite_app.engine.begin() as c:
        c.execute(text("UPDATE audit_event SET kind = 'Forged' WHERE seq = 2"))
    with sqlite_app.ctx.uow() as uow:
        assert first_broken(uow.repo.chain()) == 2
