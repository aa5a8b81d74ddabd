"""A subject who never answers: the deadline watch's verification sweep reminds them once before
the link expires (at the contact on file, with no code or link in it), then closes the request
as unverifiable and wakes its run, which sends the could-not-verify letter. The requester gets
the same letter whether or not the subject was found on file (THREATS 9). And the page that
asks for a new link answers alike for any reference."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from fastapi.testclient import TestClient

from dsar.domain.request import Status
from dsar.services import processing, queries
from dsar.services.orchestration import sweep_verification
from dsar.web.i18n import CATALOGS
from tests.signoff import respond
from tests.web.conftest import WebApp
from tests.web.verify_fixtures import JANE, letters, log, post, reference, start, status


def expires_in(w: WebApp, rid: str, delta: timedelta) -> None:
    """Move the link's expiry (as time passing would) through the engine's own repository."""
    with w.web.ctx.uow() as uow:
        case = uow.cases.get(rid)
        assert case is not None
        uow.cases.save(replace(case, expires_at=w.web.ctx.clock() + delta))
        uow.commit()


def kinds(w: WebApp, rid: str) -> list[str]:
    with w.web.ctx.uow() as uow:
        return [e.kind for e in uow.audit.events(rid)]


def waiting_run(w: WebApp, rid: str) -> str:
    run = w.orchestrator.start_run(rid, reference(w, rid))
    queries.record_flow_run(w.web.ctx, rid, run)
    return run


def test_the_sweep_reminds_once_then_closes_the_request_and_the_run_sends_the_could_not_verify_letter(shop_web: WebApp) -> None:
    ctx = shop_web.web.ctx
    rid = log(shop_web)
    run = waiting_run(shop_web, rid)
    assert start(shop_web, rid) == "awaiting_verification"
    shop_web.orchestrator.suspend(run)
    ref = reference(shop_web, rid)

    # more than a day left: nothing yet
    assert sweep_verification(ctx, shop_web.orchestrator).reminded == []
    expires_in(shop_web, rid, timedelta(hours=5))
    swept = sweep_verification(ctx, shop_web.orchestrator)
    assert (swept.reminded, swept.closed) == ([ref], [])
    (reminder,) = letters(shop_web, ref, "verification_reminder")
    assert reminder.to == JANE and ref in reminder.subject
    assert "/verify/resend" in reminder.body and "http://" in reminder.body
    assert reminder.link is None and reminder.code is None  # no secret in the reminder
    assert re.search(r"\b\d{8}\b", reminder.body) is None
    assert sweep_verification(ctx, shop_web.orchestrator).reminded == []  # once
    assert status(shop_web, rid) == "awaiting_verification"

    expires_in(shop_web, rid, timedelta(seconds=-1))
    swept = sweep_verification(ctx, shop_web.orchestrator)
    assert (swept.reminded, swept.closed) == ([], [ref])
    assert status(shop_web, rid) == "denied"
    assert [r.run_input for r in shop_web.orchestrator.resumed] == [{}]  # the run is woken to answer
    assert "VerificationProofRefused" in kinds(shop_web, rid)
    assert sweep_verification(ctx, shop_web.orchestrator).closed == []  # once

    # what the woken run does next: the could-not-verify letter, not legal's denial letter
    assert processing.send_response(ctx, rid) is Status.DENIED  # the refusal waits for legal (DSAR_LETTER_SIGN_OFF)
    assert letters(shop_web, ref, "could_not_verify") == []
    assert respond(ctx, rid) is Status.DENIED
    (letter,) = letters(shop_web, ref, "could_not_verify")
    assert letter.to == JANE and "could not confirm" in letter.body
    assert letters(shop_web, ref, "denial") == []
    processing.send_response(ctx, rid)  # a re-run sends nothing twice
    assert len(letters(shop_web, ref, "could_not_verify")) == 1


def test_a_subject_not_on_file_gets_no_reminder_and_the_same_could_not_verify_letter(shop_web: WebApp) -> None:
    ctx = shop_web.web.ctx
    known = log(shop_web)
    stranger = log(shop_web, "nobody.here@example.org", subject={"name": "Jane Doe", "emails": ["nobody.here@example.org"]})
    for rid in (known, stranger):
        start(shop_web, rid)
        expires_in(shop_web, rid, timedelta(hours=5))
    assert sweep_verification(ctx, shop_web.orchestrator).reminded == [reference(shop_web, known)]  # nothing was sent to the other
    for rid in (known, stranger):
        expires_in(shop_web, rid, timedelta(seconds=-1))
    closed = sweep_verification(ctx, shop_web.orchestrator).closed
    assert sorted(closed) == sorted([reference(shop_web, known), reference(shop_web, stranger)])
    bodies = []
    for rid, to in ((known, JANE), (stranger, "nobody.here@example.org")):
        respond(ctx, rid)  # once legal approved it
        (letter,) = letters(shop_web, reference(shop_web, rid), "could_not_verify")
        assert letter.to == to  # the address the request gave: the requester hears back either way
        bodies.append(letter.body.replace(reference(shop_web, rid), "REF"))
    assert bodies[0] == bodies[1]  # the same words whether or not the subject is on file


def test_the_resend_page_answers_alike_and_sends_a_new_link_only_to_the_contact_on_file(shop_web: WebApp, shop_client: TestClient) -> None:
    rid = log(shop_web)
    start(shop_web, rid)
    ref = reference(shop_web, rid)
    (first,) = letters(shop_web, ref)
    form = shop_client.get("/verify/resend")
    assert form.status_code == 200 and CATALOGS["en"]["verify.title.resend"] in form.text

    real = post(shop_client, "/verify/resend", {"reference": ref})
    bogus = post(shop_client, "/verify/resend", {"reference": "DSR-2026-999999"})
    assert real.status_code == bogus.status_code == 200
    assert real.text.replace(ref, "") == bogus.text.replace("DSR-2026-999999", "")
    assert CATALOGS["en"]["verify.resent.text"] in real.text

    first_again, second = letters(shop_web, ref)
    assert first_again.link == first.link and second.to == JANE and second.link != first.link
    assert shop_client.get(first.path).status_code == 404  # the earlier link stops working
    assert shop_client.get(second.path).status_code == 200

    # within the allowed sends (3 by default): a fourth ask sends nothing and reads the same
    post(shop_client, "/verify/resend", {"reference": ref})
    again = post(shop_client, "/verify/resend", {"reference": ref})
    assert len(letters(shop_web, ref)) == 3 and CATALOGS["en"]["verify.resent.text"] in again.text
