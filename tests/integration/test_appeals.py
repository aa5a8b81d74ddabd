"""Appeals end to end (issue 16): a refused US-state request is appealed, decided by legal with
reasons (proven by an authenticator code, like the sign-off), the outcome letter names the
Attorney General's complaint route, and appeals are counted. Also intake by place and the
refusal of a request received before its law takes effect. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from typing import Any

import pytest

from dsar.app import App
from dsar.domain.errors import InvalidInput, TransitionNotAllowed
from dsar.domain.request import Move, Status
from dsar.services import recording
from dsar.services.appeals import APPEAL_STEP, appeal_report, decide_appeal
from dsar.services.context import ServiceContext
from dsar.services.intake import log_request
from tests.signoff import code, enrol

NOW = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
EMAIL = "jane.appeal@example.com"


@pytest.fixture
def ctx(engine_app: App) -> ServiceContext:
    return dataclasses.replace(engine_app.ctx, clock=lambda: NOW)


def log(ctx: ServiceContext, **raw: Any) -> Any:
    base: dict[str, Any] = {
        "type": "access",
        "subject": {"name": "Jane Appeal", "emails": [EMAIL]},
        "received_at": "2026-03-30T10:00:00+00:00",
    }
    return log_request(ctx, {**base, **raw})


def refused(ctx: ServiceContext, **raw: Any) -> Any:
    r = log(ctx, **raw).request
    with ctx.uow() as uow:
        recording.move(uow, uow.requests.facts(r.id), Move.DENY, NOW, "exempt: the data is covered by an exception")
        uow.commit()
    return r


def letter(app: App, reference: str, kind: str) -> str:
    raw = (app.settings.effective_outbox_dir / f"{reference}.{kind}_dsar.eml").read_bytes()
    body = message_from_bytes(raw, policy=policy.default).get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_the_place_picks_the_state_law_and_its_period(ctx: ServiceContext) -> None:
    result = log(ctx, country="US", subdivision="IA")
    assert result.request.regime == "us-ia"
    assert result.deadline.due == date(2026, 6, 27)  # 90 days, receipt = day 1
    assert log(ctx, country="US", subdivision="VA").request.regime == "vcdpa"  # today's code kept
    assert log(ctx, regime="us-va", country="US").request.regime == "vcdpa"  # the postal code reaches it


def test_a_request_before_the_law_takes_effect_is_refused_clearly(ctx: ServiceContext) -> None:
    with pytest.raises(InvalidInput) as refused_:
        log(ctx, country="US", subdivision="OK")
    assert any("us-ok" in p and "takes effect on 2027-01-01" in p for p in refused_.value.problems)
    with pytest.raises(InvalidInput) as no_place:
        log(ctx, country="US", subdivision="WA")
    assert any(p.startswith("regime: required") for p in no_place.value.problems)


def test_an_appeal_is_logged_decided_with_reasons_and_answered_with_the_ag_route(engine_app: App, ctx: ServiceContext) -> None:
    original = refused(ctx, country="US", subdivision="VA")
    appeal = log(ctx, type="appeal", appeal_of=original.reference.lower(), received_at="2026-03-31T09:00:00+00:00")
    a = appeal.request
    assert (a.type.value, a.regime, a.linked_to, a.subdivision) == ("appeal", "vcdpa", original.id, "VA")
    assert appeal.deadline.due == date(2026, 5, 29)  # Va. Code 59.1-577(C): 60 days

    legal = "lena.appeals"
    secret = enrol(ctx, legal)
    wrong = decide_appeal(ctx, a.id, "upheld", "The data is exempt.", legal, "000000", via="test")
    assert wrong.refused is not None and wrong.status is Status.RECEIVED

    done = decide_appeal(ctx, a.id, "upheld", "The data is kept under a legal obligation (59.1-582).", legal, code(ctx, secret), via="test")
    assert done.refused is None and done.status is Status.CLOSED
    body = letter(engine_app, a.reference, "appeal_outcome")
    assert original.reference in body and "our refusal stands" in body and "legal obligation (59.1-582)" in body
    assert "Virginia Attorney General" in body and "complaint" in body
    with ctx.uow() as uow:
        decision = uow.decisions.get(a.id, APPEAL_STEP)
        kinds = [e.kind for e in uow.audit.events(a.id)]
    assert decision is not None and decision.decision == "upheld" and decision.approver == legal
    assert "SignOffRefused" in kinds and "SignOffRecorded" in kinds and "LetterSent" in kinds
    with pytest.raises(TransitionNotAllowed):
        decide_appeal(ctx, a.id, "overturned", "changed our mind", legal, code(ctx, secret), via="test")

    report = appeal_report(ctx, 2026)
    assert report.by_regime["vcdpa"].received == 1 and report.by_regime["vcdpa"].upheld == 1
    assert report.total.open == 0 and report.total.decided_late == 0


def test_an_overturned_appeal_says_so_and_counts(engine_app: App, ctx: ServiceContext) -> None:
    original = refused(ctx, regime="us-co", country="US")
    a = log(ctx, type="appeal", appeal_of=original.reference).request
    assert a.regime == "cpa"
    secret = enrol(ctx, "lena.co")
    decide_appeal(ctx, a.id, "overturned", "We found the account after all.", "lena.co", code(ctx, secret), via="test")
    body = letter(engine_app, a.reference, "appeal_outcome")
    assert "reversed our refusal" in body
    assert appeal_report(ctx, 2026).by_regime["cpa"].overturned == 1


@pytest.mark.parametrize(
    ("make", "appeal_raw", "problem"),
    [
        ("open", {}, "appeal_of: DSR-"),  # not refused
        ("ccpa", {}, "gives no right to appeal"),
        ("refused", {"subject": {"name": "Someone Else", "emails": ["mallory@example.com"]}}, "subject: an appeal gives an email"),
        ("refused", {"appeal_of": None}, "appeal_of: an appeal names"),
        ("refused", {"appeal_of": "DSR-2026-<script>"}, "appeal_of: malformed"),
        ("refused", {"appeal_of": "DSR-2026-999999"}, "appeal_of: no request DSR-2026-999999"),
        ("refused", {"type": "access"}, "appeal_of: only an appeal"),
        ("refused", {"regime": "gdpr", "country": "DE"}, "regime: an appeal is under the regime"),
    ],
)
def test_an_appeal_that_cannot_be_taken_is_refused_clearly(
    ctx: ServiceContext, make: str, appeal_raw: dict[str, Any], problem: str
) -> None:
    if make == "open":
        original = log(ctx, country="US", subdivision="TX").request
    elif make == "ccpa":
        original = refused(ctx, regime="ccpa", country="US", access_scope="categories")
    else:
        original = refused(ctx, country="US", subdivision="TX")
    raw: dict[str, Any] = {"type": "appeal", "appeal_of": original.reference, **appeal_raw}
    with pytest.raises(InvalidInput) as refused_:
        log(ctx, **{k: v for k, v in raw.items() if v is not None})
    assert any(p.startswith(problem) or problem in p for p in refused_.value.problems), refused_.value.problems
    assert "<script>" not in str(refused_.value)


def test_an_appeal_never_gets_a_flow_run(ctx: ServiceContext) -> None:
    from dsar.services.orchestration import InMemoryOrchestrator, reconcile, start_processing

    original = refused(ctx, country="US", subdivision="NH")
    a = log(ctx, type="appeal", appeal_of=original.reference).request
    orchestrator = InMemoryOrchestrator()
    with pytest.raises(InvalidInput, match="runs no flow"):
        start_processing(ctx, orchestrator, a.id)
    assert all(done.reference != a.reference for done in reconcile(ctx, orchestrator))
    assert a.id not in {run.request_id for run in orchestrator.started}
