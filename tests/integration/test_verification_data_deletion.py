"""A request's identity verification data is deleted when the request ends (issue 17), on SQLite
and PostgreSQL: the spent link, code and session digests, the case's secret salt, the data points
and identifiers copied from the system of record, the old challenge table's codes; kept are the
level and proofs (the record 11 CCR 7101 asks for), the declaration under penalty of perjury
(it still opens) and the contact on file (the package link's code still reaches the subject).
One ``VerificationDataDeleted`` event, never twice; requests that ended before this build are
swept by the verification sweep."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from dsar.app import App
from dsar.demo.run import latest_code, latest_link
from dsar.domain.request import Status
from dsar.domain.verification_policy import Proof
from dsar.services import identity, verification_summary
from dsar.services import processing as svc
from dsar.services.intake import log_request
from dsar.services.orchestration import sweep_verification
from tests.packages import download
from tests.signoff import approve, respond

ANA = "ana.silva@example.com"  # the demo shop's customer 2 (San Francisco, 94103; +1 415 5550102)
JANE = "jane.doe@example.com"
CCPA_PIECES = {"type": "access", "regime": "ccpa", "country": "US", "subdivision": "CA", "access_scope": "specific_pieces"}
GDPR = {"type": "access", "regime": "gdpr", "country": "DE"}


def events(app: App, rid: str, kind: str) -> list[dict[str, Any]]:
    with app.ctx.uow() as uow:
        return [e.details for e in uow.audit.events(rid) if e.kind == kind]


def audit_count(app: App) -> int:
    with app.engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM audit_event")).scalar_one())


def case_row(app: App, rid: str) -> Any:
    with app.engine.connect() as c:
        return c.execute(
            text(
                "SELECT state, link_digest, code_digest, session_digest, salt, record_enc, declaration_enc, proofs, requirement "
                "FROM verification_case WHERE request_id = :r"
            ),
            {"r": rid},
        ).one()


def challenges(app: App, rid: str) -> int:
    with app.engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM verification_challenge WHERE request_id = :r"), {"r": rid}).scalar_one())


def on_file(app: App, rid: str) -> dict[str, Any] | None:
    with app.ctx.uow() as uow:
        case = uow.cases.get(rid)
        assert case is not None
        return None if case.sealed is None else dict(json.loads(uow.keys.open(rid, case.sealed, "verification/record")))


def old_challenge(app: App, rid: str) -> None:
    """A one-time code of the challenge table an earlier build kept (a keyed digest)."""
    with app.ctx.uow() as uow:
        now = app.ctx.clock()
        uow.challenges.add(rid, "email", "0" * 64, now, now + timedelta(hours=72))
        uow.commit()


def verified_ccpa_pieces(app: App) -> tuple[str, str]:
    """Ana's CCPA request for specific pieces, verified as on the pages: the link, two data points
    as the shop holds them, the declaration."""
    ctx = app.ctx
    r = log_request(ctx, CCPA_PIECES | {"subject": {"name": "Ana Silva", "emails": [ANA]}}).request
    assert svc.start_verification(ctx, r.id) is Status.AWAITING_VERIFICATION
    link = latest_link(app.settings.effective_outbox_dir, r.reference)
    assert link is not None
    step = identity.use_link(ctx, link.rsplit("/", 1)[1])
    assert step.next is Proof.DATA_POINTS and step.session
    step = identity.give_points(ctx, step.session, {"phone": "+1 415 555 0102", "postcode": "94103"})
    assert step.next is Proof.DECLARATION and step.session
    assert identity.declare(ctx, step.session, "Ana Silva", True).verified
    return r.id, r.reference


def test_a_verified_access_request_closes_with_its_verification_data_deleted_and_its_declaration_kept(engine_app: App) -> None:
    ctx = engine_app.ctx
    rid, ref = verified_ccpa_pieces(engine_app)
    old_challenge(engine_app, rid)
    before = on_file(engine_app, rid)
    assert before is not None and before["points"] and before["phone"] and case_row(engine_app, rid).salt
    assert events(engine_app, rid, "VerificationDataDeleted") == []  # verified is not ended

    svc.plan_request(ctx, rid)
    approve(ctx, rid)
    svc.execute_plan(ctx, rid)
    assert svc.send_response(ctx, rid) is Status.CLOSED

    row = case_row(engine_app, rid)
    assert row.state == "closed" and (row.link_digest, row.code_digest, row.session_digest, row.salt) == (None, None, None, "")
    assert challenges(engine_app, rid) == 0
    kept = on_file(engine_app, rid)
    assert kept == {"email": ANA, "phone": None, "points": {}, "account_id": None, "country": None, "sms": None}
    # the record of the request: the level and the proofs given, as they were
    assert json.loads(row.proofs) == ["contact", "data_points", "declaration"]
    assert json.loads(row.requirement)["level"] == "high"
    # the declaration under penalty of perjury is kept, sealed, and still opens
    declared = identity.declaration_of(ctx, rid)
    assert declared is not None and declared["name"] == "Ana Silva" and "penalty of perjury" in declared["text"]
    assert b"Ana Silva" not in row.declaration_enc
    (deleted,) = events(engine_app, rid, "VerificationDataDeleted")
    assert deleted["via"] == "close" and deleted["kept"] == ["level", "proofs", "declaration", "contact_on_file"]
    assert deleted["deleted"] == {
        "code": 0,  # spent with the link when it was used
        "data_points_on_file": len(before["points"]),
        "identifiers_on_file": 1,  # the phone on file (the shop links no account id)
        "legacy_codes": 1,
        "link": 0,
        "salt": 1,
        "session": 0,  # ended when the last proof was given
    }
    assert "ana" not in json.dumps(deleted).lower() and "94103" not in json.dumps(deleted)
    shown = verification_summary.summary(ctx, rid)  # what staff see: the level and proofs, the case closed
    assert shown is not None and (shown.state, shown.level, shown.proofs) == ("closed", "high", ("contact", "data_points", "declaration"))

    # the access package's link works after the close: its code goes to the contact on file
    files = download(ctx, engine_app.settings.effective_outbox_dir, ref)
    assert any(name.endswith("customer.json") for name in files)

    # a second close, the whole run again, the sweep: nothing more is deleted or recorded
    events_then = audit_count(engine_app)
    assert svc.send_response(ctx, rid) is Status.CLOSED
    assert svc.start_verification(ctx, rid) is Status.CLOSED
    with ctx.uow() as uow:
        assert identity.forget(uow, rid, ctx.clock()) is None
        uow.commit()
    assert identity.forget_ended(ctx) == [] and sweep_verification(ctx, None).data_deleted == []
    assert audit_count(engine_app) == events_then
    assert len(events(engine_app, rid, "VerificationDataDeleted")) == 1


def test_a_request_closed_as_could_not_verify_loses_its_link_and_code_and_still_gets_its_letter(engine_app: App) -> None:
    ctx = engine_app.ctx
    r = log_request(ctx, GDPR | {"subject": {"name": "Jane Doe", "emails": [JANE]}}).request
    svc.start_verification(ctx, r.id)
    assert case_row(engine_app, r.id).link_digest is not None
    with ctx.uow() as uow:  # the link expires unused (time passing, through the engine's repository)
        case = uow.cases.get(r.id)
        assert case is not None
        uow.cases.save(replace(case, expires_at=ctx.clock() - timedelta(minutes=1)))
        uow.commit()
    swept = sweep_verification(ctx, None)
    assert swept.closed == [r.reference] and swept.data_deleted == []  # deleted by the denial itself
    assert svc.status_of(ctx, r.id) is Status.DENIED

    row = case_row(engine_app, r.id)
    assert row.state == "closed" and (row.link_digest, row.code_digest, row.salt) == (None, None, "")
    assert on_file(engine_app, r.id) == {"email": JANE, "phone": None, "points": {}, "account_id": None, "country": None, "sms": None}
    (deleted,) = events(engine_app, r.id, "VerificationDataDeleted")
    assert deleted["deleted"]["salt"] == 1 and deleted["deleted"]["data_points_on_file"] >= 2
    assert deleted["kept"] == ["level", "proofs", "contact_on_file"]

    # the could-not-verify letter goes after the deletion, as before (legal approves it first)
    respond(ctx, r.id)
    assert [e["kind"] for e in events(engine_app, r.id, "LetterSent")][-1] == "could_not_verify"
    # the code of the expired letter after the close: not waiting, nothing counted, nothing recorded
    code = latest_code(engine_app.settings.effective_outbox_dir, r.reference)
    assert code is not None
    n = audit_count(engine_app)
    assert identity.use_code(ctx, r.id, code).outcome is identity.StepOutcome.INVALID
    assert audit_count(engine_app) == n and len(events(engine_app, r.id, "VerificationDataDeleted")) == 1


def _end_as_an_earlier_build_did(app: App, rid: str, status: str) -> None:
    """The request ended before this build: its status written as that build's move wrote it,
    with nothing of its verification data deleted."""
    with app.engine.begin() as c:
        c.execute(text("UPDATE privacy_request SET status = :s, finished_at = logged_at WHERE id = :r"), {"s": status, "r": rid})


def test_the_sweep_deletes_the_verification_data_of_requests_that_ended_before_this_build(engine_app: App) -> None:
    ctx = engine_app.ctx
    outbox = engine_app.settings.effective_outbox_dir
    # closed before: verified by the code, its case still holds everything
    closed = log_request(ctx, GDPR | {"subject": {"name": "Jane Doe", "emails": [JANE]}}).request
    svc.start_verification(ctx, closed.id)
    code = latest_code(outbox, closed.reference)
    assert code is not None and svc.confirm_code(ctx, closed.id, code).value == "verified"
    old_challenge(engine_app, closed.id)
    _end_as_an_earlier_build_did(engine_app, closed.id, "closed")
    # withdrawn before, from an earlier build still: only a challenge of the old table
    withdrawn = log_request(ctx, GDPR | {"subject": {"name": "Jane Doe", "emails": [JANE]}}).request
    old_challenge(engine_app, withdrawn.id)
    _end_as_an_earlier_build_did(engine_app, withdrawn.id, "withdrawn")
    # still waiting for its subject: left alone
    waiting = log_request(ctx, CCPA_PIECES | {"subject": {"name": "Ana Silva", "emails": [ANA]}}).request
    svc.start_verification(ctx, waiting.id)
    old_challenge(engine_app, waiting.id)

    swept = sweep_verification(ctx, None)
    assert sorted(swept.data_deleted) == sorted([closed.reference, withdrawn.reference])
    row = case_row(engine_app, closed.id)
    assert row.state == "closed" and row.salt == "" and challenges(engine_app, closed.id) == 0
    assert (on_file(engine_app, closed.id) or {}).get("points") == {}
    assert challenges(engine_app, withdrawn.id) == 0
    (a,) = events(engine_app, closed.id, "VerificationDataDeleted")
    (b,) = events(engine_app, withdrawn.id, "VerificationDataDeleted")
    assert a["via"] == b["via"] == "sweep" and a["deleted"]["legacy_codes"] == b["deleted"]["legacy_codes"] == 1
    assert a["deleted"]["salt"] == 1 and b["case"] is None and b["deleted"]["salt"] == 0
    left = case_row(engine_app, waiting.id)
    assert left.state == "open" and left.link_digest is not None and left.salt and challenges(engine_app, waiting.id) == 1
    assert events(engine_app, waiting.id, "VerificationDataDeleted") == []

    n = audit_count(engine_app)
    assert sweep_verification(ctx, None).data_deleted == []
    assert audit_count(engine_app) == n
