"""Escalations to legal on the in-memory unit of work: support's legal-sensitive flag escalates
by itself and holds the request; the queue is ordered by legal's response target (2 working
days by default); a decision is proven like a sign-off (refused attempts recorded); proceeding
releases only the escalation's own hold; a missed target raises one alert, delivered like a
deadline alert; time to resolution is reported."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dsar.domain.decisions import SignOffRefusal
from dsar.domain.errors import InvalidInput, TransitionNotAllowed
from dsar.domain.escalations import EscalationDecision, EscalationPoint
from dsar.services import casework, deadlines
from dsar.services import escalations as esc
from dsar.services.admin import hold_request
from tests.signoff import LEGAL, code, enrol
from tests.unit.services.conftest import World
from tests.unit.services.fakes import FailingNotifier


def on_hold(world: World, rid: str) -> bool:
    with world.uow() as uow:
        return uow.requests.facts(rid).on_hold


def test_support_s_legal_sensitive_flag_escalates_by_itself_and_holds_the_request(world: World) -> None:
    rid = world.log()  # received Monday 2026-03-02
    assert casework.flag_legal_sensitive(world.ctx, rid, "the caller mentioned a lawsuit", by="sam", via="console")
    (x,) = esc.escalations(world.ctx, rid)
    assert (x.number, x.point, x.by, x.open, x.held) == (1, EscalationPoint.LEGAL_SENSITIVE, "sam", True, True)
    assert x.target == date(2026, 3, 4)  # two working days
    assert on_hold(world, rid)
    (raised,) = world.details(rid, "EscalationRaised")
    assert raised["reason"] == "the caller mentioned a lawsuit" and raised["via"] == "console"
    # flagging again, or escalating the same point, adds nothing while it is open
    assert esc.escalate(world.ctx, rid, "legal-sensitive", "again", by="sam").number == 1
    assert len(esc.escalations(world.ctx, rid)) == 1


def test_the_target_counts_working_days_and_the_queue_is_ordered_by_it(world: World) -> None:
    first = world.log()
    world.clock.advance(days=4)  # Friday 2026-03-06: two working days on is Tuesday
    later = world.log(subject={"name": "Other", "emails": ["other@example.com"]})
    x = esc.escalate(world.ctx, later, EscalationPoint.MANIFESTLY_UNFOUNDED_OR_EXCESSIVE, "fifth request this month", by="sam")
    assert x.target == date(2026, 3, 10)
    world.clock.advance(days=-4)
    y = esc.escalate(world.ctx, first, EscalationPoint.VERIFICATION_DOWNGRADE, "asks to skip the data points", by="dsar")
    assert y.target == date(2026, 3, 4)
    world.clock.advance(days=4)
    queue = esc.legal_queue(world.ctx)
    assert [(q.request_id, q.missed) for q in queue] == [(first, True), (later, False)]
    with pytest.raises(InvalidInput, match="unknown escalation point"):
        esc.escalate(world.ctx, first, "nonsense", "x", by="sam")
    with pytest.raises(InvalidInput, match="say why"):
        esc.escalate(world.ctx, first, "verification_risk", "  ", by="sam")


def test_legal_decides_proven_by_the_code_and_proceeding_releases_the_escalation_s_hold(world: World) -> None:
    rid = world.log()
    esc.escalate(world.ctx, rid, EscalationPoint.VERIFICATION_RISK, "the JWT carried a risk claim", by="dsar")
    secret = enrol(world.ctx)
    wrong = f"{(int(code(world.ctx, secret)) + 1) % 1_000_000:06d}"
    refused = esc.resolve(world.ctx, rid, 1, "proceed", LEGAL, wrong, via="console")
    assert refused == esc.ResolveResult(False, SignOffRefusal.WRONG_CODE)
    assert world.details(rid, "SignOffRefused")[0]["step"] == "escalation:1" and on_hold(world, rid)
    assert esc.resolve(world.ctx, rid, 1, "proceed", "sam.support", code(world.ctx, secret)).refused is SignOffRefusal.NOT_ON_ROSTER
    with pytest.raises(InvalidInput, match="say why it stays on hold"):
        esc.resolve(world.ctx, rid, 1, "keep_on_hold", LEGAL, code(world.ctx, secret))
    world.clock.advance(hours=5)
    assert esc.resolve(world.ctx, rid, 1, "proceed", LEGAL, code(world.ctx, secret), note="checked", via="cli").recorded
    assert not on_hold(world, rid)
    (done,) = world.details(rid, "EscalationResolved")
    assert done["decision"] == "proceed" and done["approver"] == LEGAL and done["hours"] == 5.0 and done["late"] is False
    assert done["verified_by"] == "totp" and done["note"] == "checked"
    with pytest.raises(TransitionNotAllowed, match="decided already"):
        esc.resolve(world.ctx, rid, 1, "proceed", LEGAL, code(world.ctx, secret))
    assert esc.legal_queue(world.ctx) == []


def test_a_hold_that_was_there_before_the_escalation_stays(world: World) -> None:
    rid = world.log()
    hold_request(world.ctx, rid, "waiting for the subject's ID", by="sam")
    x = esc.escalate(world.ctx, rid, EscalationPoint.LEGAL_SENSITIVE, "regulator involved", by="sam")
    assert not x.held
    secret = enrol(world.ctx)
    assert esc.resolve(world.ctx, rid, 1, EscalationDecision.PROCEED, LEGAL, code(world.ctx, secret)).recorded
    assert on_hold(world, rid)  # support's own hold is support's to release


def test_a_missed_target_raises_one_alert_delivered_like_a_deadline_alert_and_is_reported(world: World) -> None:
    rid = world.log()
    esc.escalate(world.ctx, rid, EscalationPoint.LEGAL_SENSITIVE, "minor", by="sam")  # target Wed 2026-03-04
    assert esc.sweep_missed(world.ctx, date(2026, 3, 4)) == []
    swept = deadlines.sweep(world.ctx, [7, 3, 1], as_of=date(2026, 3, 5))
    missed = [a for a in swept.raised if a.kind.startswith("legal-")]
    assert [(a.kind, a.due, a.days_left) for a in missed] == [("legal-target-missed-1", date(2026, 3, 4), -1)]
    assert deadlines.sweep(world.ctx, [7, 3, 1], as_of=date(2026, 3, 6)).raised == []  # once
    notifier = FailingNotifier(failures=0)
    deadlines.deliver(world.ctx, notifier)
    (notice,) = [n for n in notifier.delivered if "legal's response target MISSED" in n.title]
    assert notice.urgent and "/console/legal" in notice.body and "minor" not in notice.body
    assert world.details(rid, "EscalationTargetMissed") == [{"number": 1, "point": "legal_sensitive", "target": "2026-03-04"}]
    world.clock.advance(days=3, hours=2)
    secret = enrol(world.ctx)
    assert esc.resolve(world.ctx, rid, 1, "proceed", LEGAL, code(world.ctx, secret)).recorded
    assert world.details(rid, "EscalationResolved")[0]["late"] is True
    rep = esc.report(world.ctx)
    assert (rep.raised, rep.resolved, rep.open, rep.missed, rep.median_hours) == (1, 1, 0, 1, 74.0)
    assert rep.by_point == {"legal_sensitive": 1}
    assert esc.report(world.ctx, since=date(2026, 3, 3)).raised == 0
    assert timedelta(hours=74).total_seconds() / 3600 == rep.median_hours
