from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from dsar.app import App, build_app
from dsar.audit.chain import first_broken
from dsar.domain.errors import ConfigurationError
from dsar.persistence import tables
from dsar.persistence.database import SchemaStatus, schema_head, schema_status, upgrade
from dsar.services.intake import log_request
from tests.conftest import make_settings, migrate_database

HEAD = schema_head()  # the newest migration this dsar ships (each branch adds its own)


def test_the_migrations_build_exactly_the_tables_the_models_declare(engine_app: App) -> None:
    tables.register_all()
    assert {"staff_account", "deadline_alert", "access_package", "mail_ledger", "verification_case"} <= set(SQLModel.metadata.tables)
    with engine_app.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_migrating_again_is_harmless(engine_app: App) -> None:
    upgrade(engine_app.engine)
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
        chain = list(uow.audit.iter_chain())
    assert len(chain) == 48
    assert first_broken(chain) is None


def test_a_tampered_audit_row_breaks_the_chain_at_that_event(sqlite_app: App) -> None:
    log_request(
        sqlite_app.ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "A", "emails": ["a@example.com"]}}
    )
    with sqlite_app.engine.begin() as c:
        c.execute(text("UPDATE audit_event SET kind = 'Forged' WHERE seq = 2"))
    with sqlite_app.ctx.uow() as uow:
        assert first_broken(list(uow.audit.iter_chain())) == 2


def test_the_receipt_confirmation_migration_fills_in_what_earlier_requests_did(engine_app: App) -> None:
    """Revision 0005 on a database that already holds requests: one whose code letter went out
    counts as confirmed then; an open one without is watched; a finished one is not."""
    from alembic import command

    from dsar.persistence.database import alembic_config
    from dsar.services.admin import withdraw_request

    ctx = engine_app.ctx
    ccpa = {"type": "access", "access_scope": "categories", "regime": "ccpa", "country": "US", "subdivision": "CA"}
    coded = log_request(ctx, ccpa | {"subject": {"name": "Jane Doe", "emails": ["jane@example.com"]}}).request
    with ctx.uow() as uow:  # the code letter of an earlier build (one-time code challenges)
        now = ctx.clock()
        uow.challenges.add(coded.id, "email", "0" * 64, now, now + timedelta(hours=72))
        uow.commit()
    waiting = log_request(ctx, ccpa | {"subject": {"name": "Max Muster", "phone": "+1 415 555 0100"}}).request
    finished = log_request(ctx, ccpa | {"subject": {"name": "Erika Muster", "emails": ["erika@example.com"]}}).request
    withdraw_request(ctx, finished.id, "withdrawn by phone")

    cfg = alembic_config(engine_app.engine.url.render_as_string(hide_password=False))
    with engine_app.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    upgrade(engine_app.engine)

    with ctx.uow() as uow:
        coded_d, waiting_d, finished_d = (uow.deadlines.get(r.id) for r in (coded, waiting, finished))
        challenge = uow.challenges.latest(coded.id)
    assert challenge is not None
    assert coded_d.acknowledged_at == challenge.created_at
    assert waiting_d.acknowledged_at is None and finished_d.acknowledged_at is None
    with engine_app.engine.connect() as c:
        watched = dict(c.execute(text("SELECT id, ack_watch FROM privacy_request")).all())
    assert watched[coded.id] is None and watched[finished.id] is None
    assert str(watched[waiting.id]) == waiting_d.acknowledge_by.isoformat()  # type: ignore[union-attr]


# --- migrations once: every other process only checks the schema ---------------------------


def test_an_app_on_an_empty_database_refuses_to_start_and_says_to_upgrade(home: Path) -> None:
    settings = make_settings(home)
    with pytest.raises(ConfigurationError, match=rf"schema is at nothing .*needs {re.escape(HEAD)}: run `dsar db upgrade`"):
        build_app(settings)
    migrate_database(settings)
    app = build_app(settings)  # the check passes now, and nothing was migrated by it
    assert schema_status(app.engine) == SchemaStatus(HEAD, HEAD)
    app.engine.dispose()


def test_an_app_on_an_older_schema_refuses_until_upgraded(engine_app: App) -> None:
    from alembic import command

    from dsar.persistence.database import alembic_config

    cfg = alembic_config(engine_app.engine.url.render_as_string(hide_password=False))
    with engine_app.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    assert not schema_status(engine_app.engine).up_to_date
    with pytest.raises(ConfigurationError, match=rf"schema is at 0004; this dsar needs {re.escape(HEAD)}: run `dsar db upgrade`"):
        build_app(engine_app.settings)
    upgrade(engine_app.engine)
    assert schema_status(engine_app.engine).up_to_date
    build_app(engine_app.settings).engine.dispose()


def test_a_schema_newer_than_this_dsar_says_to_upgrade_dsar_not_the_database(sqlite_app: App) -> None:
    with sqlite_app.engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(ConfigurationError, match=rf"schema is at 9999, newer than this dsar knows \({re.escape(HEAD)}\): upgrade dsar"):
        build_app(sqlite_app.settings)


# --- the stored forms stay as they were --------------------------------------------------


def test_typed_events_are_stored_exactly_as_the_raw_appends_of_before(sqlite_app: App) -> None:
    from datetime import UTC, datetime

    from dsar.domain.events import StatusChanged
    from dsar.persistence.audit_log import RawAuditRecord

    rid = log_request(
        sqlite_app.ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "A", "emails": ["a@example.com"]}}
    ).request.id
    event = StatusChanged(rid, datetime(2026, 11, 2, 10, 0, tzinfo=UTC), move="m", from_status="received", to_status="verified")
    with sqlite_app.ctx.uow() as uow:
        assert uow.audit.append([event, event]) == 1  # a repeat in the batch is skipped
        # the raw form the log stored before events were typed
        assert uow.audit.append_records([RawAuditRecord(rid, event.kind, event.at, event.payload(), "raw-key")]) == 1
        assert uow.audit.append([event]) == 0
        uow.commit()
    with sqlite_app.ctx.uow() as uow:
        chain = list(uow.audit.iter_chain())
        typed, raw = chain[-2:]
        assert first_broken(chain) is None
        assert (typed.kind, typed.idempotency_key, typed.at) == ("StatusChanged", event.idempotency_key, event.at)
        assert uow.audit.open_details(typed) == uow.audit.open_details(raw) == {"move": "m", "from": "received", "to": "verified"}
        assert uow.audit.events(rid)[-1].details == uow.audit.open_details(raw)


def test_plan_rows_written_before_plans_were_typed_read_back_as_typed_steps(sqlite_app: App) -> None:
    import json

    from dsar.domain.plan import EraseStep, ErasureAction, ErasureKind, ExportStep, ManualStep, Operation

    rows = [
        ("r2", "shop", "export", 3, "matched customer,orders"),
        ("r1", "crm", "erase", 0, "manual: a person erases, then confirms"),
        ("r1", "ledger", "erase", 0, "manual: kept: tax law"),
        ("r1", "shop", "erase", 2, json.dumps({"actions": [{"entity": "customer", "action": "delete", "rows": 2, "reason": ""}]})),
    ]
    with sqlite_app.engine.begin() as c:
        for rid, system, op, matches, detail in rows:
            c.execute(
                text("INSERT INTO plan_step (request_id, system, operation, matches, detail) VALUES (:r, :s, :o, :m, :d)"),
                {"r": rid, "s": system, "o": op, "m": matches, "d": detail},
            )
    with sqlite_app.ctx.uow() as uow:
        assert uow.plans.get("r1") == [
            ManualStep("crm", Operation.ERASE),
            ManualStep("ledger", Operation.ERASE, kept="tax law"),
            EraseStep("shop", 2, (ErasureAction("customer", ErasureKind.DELETE, 2),)),
        ]
        assert uow.plans.get("r2") == [ExportStep("shop", 3, ("customer", "orders"))]
        steps = [ExportStep("files", 0), ManualStep("ledger", Operation.EXPORT)]
        uow.plans.save("r3", steps)
        uow.commit()
    with sqlite_app.engine.connect() as c:
        stored = dict(c.execute(text("SELECT system, detail FROM plan_step WHERE request_id = 'r3'")).all())
    assert json.loads(stored["files"]) == {"step": "export", "entities": []}
    with sqlite_app.ctx.uow() as uow:
        assert uow.plans.get("r3") == steps
