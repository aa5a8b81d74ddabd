"""Extensions, stop-the-clock, receipt confirmations and the deadline watch (dsar.services.deadlines)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dsar.domain.decisions import EXTENSION_STEP
from dsar.domain.errors import InvalidInput, TransitionNotAllowed
from dsar.services import deadlines as dl
from dsar.services import processing, queries
from dsar.services.admin import hold_request, withdraw_request
from tests.unit.services.conftest import World
from tests.unit.services.fakes import FailingNotifier

CCPA = {"regime": "ccpa", "country": "US", "subdivision": "CA", "access_scope": "specific_pieces"}


def stored(w: World, rid: str) -> object:
    with w.uow() as uow:
        return uow.deadlines.get(rid)


# --- extension ------------------------------------------------------------------------------


def test_an_extension_moves_the_date_sends_the_letter_and_records_the_decision(world: World) -> None:
    rid = world.log()
    d = dl.extend_request(world.ctx, rid, "Ten years of orders across three systems.", "Lena Legal")
    assert d.extended and d.due == date(2026, 6, 2) and d.statutory_due == date(2026, 4, 2)
    (context,) = world.letters.contexts("extension")
    assert (context["new_due"], context["previous_due"], context["reasons"]) == (
        date(2026, 6, 2),
        date(2026, 4, 2),
        "Ten years of orders across three systems.",
    )
    assert context["request"]["subject_name"] == "Jane Doe" and context["sent_on"] == date(2026, 3, 2)
    assert len(world.mailer.sent) == 1
    assert world.details(rid, "DeadlineExtended") == [
        {"from": "2026-04-02", "to": "2026-06-02", "by": "Lena Legal", "reason": "Ten years of orders across three systems."}
    ]
    assert world.details(rid, "LetterSent")[0]["kind"] == "extension"
    with world.uow() as uow:
        decision = uow.decisions.get(rid, EXTENSION_STEP)
    assert decision is not None and decision.approver == "Lena Legal"


def test_a_second_extension_is_refused_and_writes_nothing(world: World) -> None:
    rid = world.log()
    dl.extend_request(world.ctx, rid, "complex", "Lena")
    events = world.db.committed_events
    with pytest.raises(InvalidInput, match="already extended"):
        dl.extend_request(world.ctx, rid, "again", "Lena")
    assert world.db.committed_events == events and len(world.mailer.sent) == 1


def test_an_extension_after_the_notice_date_is_refused(world: World) -> None:
    rid = world.log(**CCPA)
    world.clock.advance(days=45)
    with pytest.raises(InvalidInput, match="too late"):
        dl.extend_request(world.ctx, rid, "complex", "Lena")


def test_regimes_without_an_extension_and_finished_requests_cannot_be_extended(world: World) -> None:
    lgpd = world.log(regime="lgpd", country="BR")
    with pytest.raises(InvalidInput, match="provides no extension"):
        dl.extend_request(world.ctx, lgpd, "complex", "Lena")
    rid = world.log(subject={"name": "Other", "emails": ["other@example.com"]})
    withdraw_request(world.ctx, rid, "the subject withdrew")
    with pytest.raises(TransitionNotAllowed):
        dl.extend_request(world.ctx, rid, "complex", "Lena")


def test_an_extension_needs_a_reason_and_a_name(world: World) -> None:
    rid = world.log()
    with pytest.raises(InvalidInput) as caught:
        dl.extend_request(world.ctx, rid, " ", "")
    assert list(caught.value.problems) == ["reason: required", "by: required"]


# --- confirmation of receipt ------------------------------------------------------------------


def test_a_receipt_confirmation_is_recorded_once(world: World) -> None:
    rid = world.log(**CCPA)
    first = dl.acknowledge_receipt(world.ctx, rid, "phone", "Sam Support", "called back")
    world.clock.advance(days=1)
    again = dl.acknowledge_receipt(world.ctx, rid, "mail", "Someone Else")
    assert first.acknowledged_at == again.acknowledged_at == world.clock.now - timedelta(days=1)
    assert world.details(rid, "ReceiptConfirmed") == [{"how": "phone", "by": "Sam Support", "note": "called back"}]


def test_a_receipt_confirmation_by_an_unknown_channel_is_refused(world: World) -> None:
    rid = world.log(**CCPA)
    with pytest.raises(InvalidInput, match="unknown channel"):
        dl.acknowledge_receipt(world.ctx, rid, "pigeon", "Sam")
    assert "ReceiptConfirmed" not in world.events(rid)


# --- stop-the-clock -------------------------------------------------------------------------


def test_a_uk_pause_stops_the_clock_and_its_answer_moves_the_date(world: World) -> None:
    rid = world.log(regime="uk-gdpr", country="GB", subdivision="ENG")
    world.clock.advance(days=3)
    paused = dl.pause_clock(world.ctx, rid, "asked for a copy of an ID")
    assert paused.clock_stopped
    world.clock.advance(days=7)
    restarted = dl.restart_clock(world.ctx, rid)
    assert not restarted.clock_stopped and restarted.paused_days == 7 and restarted.due > paused.due
    assert world.details(rid, "ClockPaused") == [{"asked_on": "2026-03-05", "reason": "asked for a copy of an ID", "moves_due": True}]
    assert world.details(rid, "ClockRestarted") == [{"answered_on": "2026-03-12", "paused_days": 7, "due": restarted.due.isoformat()}]


def test_a_second_pause_is_a_new_event_and_an_open_one_cannot_be_opened_twice(world: World) -> None:
    rid = world.log(regime="uk-gdpr", country="GB", subdivision="ENG")
    dl.pause_clock(world.ctx, rid, "ID")
    with pytest.raises(InvalidInput, match="already stopped"):
        dl.pause_clock(world.ctx, rid, "ID again")
    dl.restart_clock(world.ctx, rid)
    dl.pause_clock(world.ctx, rid, "clarification")
    assert world.events(rid).count("ClockPaused") == 2
    with pytest.raises(InvalidInput, match="not stopped"):
        dl.restart_clock(
            world.ctx, world.log(regime="uk-gdpr", country="GB", subdivision="ENG", subject={"name": "O", "emails": ["o@example.com"]})
        )


def test_a_gdpr_pause_is_recorded_but_keeps_the_statutory_date(world: World) -> None:
    rid = world.log()
    world.clock.advance(days=2)
    dl.pause_clock(world.ctx, rid, "clarification")
    world.clock.advance(days=5)
    assert dl.restart_clock(world.ctx, rid).due == date(2026, 4, 2)


def test_regimes_without_stop_the_clock_refuse_a_pause(world: World) -> None:
    rid = world.log(**CCPA)
    with pytest.raises(InvalidInput, match="no stop-the-clock"):
        dl.pause_clock(world.ctx, rid, "ID")


def test_a_pause_before_receipt_or_in_the_future_is_refused(world: World) -> None:
    rid = world.log()
    for on in (date(2026, 3, 1), date(2026, 3, 3)):
        with pytest.raises(InvalidInput, match="cannot be recorded"):
            dl.pause_clock(world.ctx, rid, "ID", on)


# --- the watch ------------------------------------------------------------------------------


def test_each_threshold_alerts_once_and_a_second_sweep_raises_nothing(world: World) -> None:
    rid = world.log()
    assert dl.sweep(world.ctx, [7, 3], date(2026, 3, 26)).notified[0].kind == "due-in-7d"
    assert dl.sweep(world.ctx, [7, 3], date(2026, 3, 26)).raised == []
    assert [a.kind for a in dl.sweep(world.ctx, [7, 3], date(2026, 3, 30)).notified] == ["due-in-3d"]
    assert [a.kind for a in dl.sweep(world.ctx, [7, 3], date(2026, 4, 3)).notified] == ["breached"]
    assert [d["kind"] for d in world.details(rid, "DeadlineAlertRaised")] == ["due-in-7d", "due-in-3d", "breached"]


def test_a_request_first_seen_late_is_notified_once_for_the_most_urgent_kind(world: World) -> None:
    rid = world.log()
    result = dl.sweep(world.ctx, [7, 3, 1], date(2026, 4, 3))
    assert sorted(a.kind for a in result.raised) == ["breached", "due-in-1d", "due-in-3d", "due-in-7d"]
    assert [a.kind for a in result.notified] == ["breached"]
    assert world.details(rid, "DeadlineAlertRaised") == [{"kind": "breached", "due": "2026-04-02", "days_left": -1}]


def test_an_unconfirmed_receipt_is_watched_until_someone_records_it(world: World) -> None:
    rid = world.log(**CCPA)
    kinds = {a.kind for a in dl.sweep(world.ctx, [3], date(2026, 3, 17)).notified}
    assert "ack-breached" in kinds
    dl.acknowledge_receipt(world.ctx, rid, "phone", "Sam")
    assert not any(a.kind.startswith("ack-") for a in dl.sweep(world.ctx, [3], date(2026, 3, 20)).raised)


def test_a_failed_delivery_stays_pending_and_is_sent_once_when_it_works(world: World) -> None:
    world.log()
    dl.sweep(world.ctx, [7], date(2026, 3, 26))
    notifier = FailingNotifier(failures=1)
    assert dl.deliver(world.ctx, notifier) == dl.DeliveryReport(0, 1, False)
    assert dl.deliver(world.ctx, notifier) == dl.DeliveryReport(1, 0, False)
    assert dl.deliver(world.ctx, notifier) == dl.DeliveryReport(0, 0, False)
    (notice,) = notifier.delivered
    assert "DSR-2026-000001: due in 7 day(s), on 2026-04-02" == notice.title and "Jane" not in notice.body


def test_many_pending_alerts_go_out_as_one_digest(world: World) -> None:
    for i in range(3):
        world.log(subject={"name": f"P{i}", "emails": [f"p{i}@example.com"]})
    dl.sweep(world.ctx, [7], date(2026, 4, 3))
    notifier = FailingNotifier(failures=0)
    assert dl.deliver(world.ctx, notifier, digest_over=2) == dl.DeliveryReport(3, 0, True)
    (digest,) = notifier.delivered
    assert digest.title == "3 privacy requests need attention (3 past their statutory deadline)" and digest.urgent


def test_thresholds_must_be_days_ahead(world: World) -> None:
    with pytest.raises(InvalidInput):
        dl.sweep(world.ctx, [], date(2026, 3, 26))
    with pytest.raises(InvalidInput):
        dl.sweep(world.ctx, [-1], date(2026, 3, 26))


# --- issue 13, item 10: alerts say where the request stands; superseded ones are not pending ---


def test_an_alert_says_status_type_regime_and_what_the_request_waits_for(world: World) -> None:
    rid = world.log()
    processing.start_verification(world.ctx, rid)
    dl.sweep(world.ctx, [7], date(2026, 3, 26))
    notifier = FailingNotifier(failures=0)
    dl.deliver(world.ctx, notifier)
    (notice,) = notifier.delivered
    assert "Type: access; regime: gdpr; status: awaiting_verification." in notice.body
    assert "It waits for the subject's one-time code." in notice.body
    assert "Jane" not in notice.body and "example.com" not in notice.body


def test_a_held_request_s_alert_says_a_person_must_act(world: World) -> None:
    rid = world.log()
    hold_request(world.ctx, rid, "the shop database is down")
    dl.sweep(world.ctx, [7], date(2026, 3, 26))
    notifier = FailingNotifier(failures=0)
    dl.deliver(world.ctx, notifier)
    assert "ON HOLD" in notifier.delivered[0].body and "database" not in notifier.delivered[0].body


def test_an_undelivered_threshold_is_superseded_by_the_breach_and_never_sent(world: World) -> None:
    world.log()
    dl.sweep(world.ctx, [7, 3], date(2026, 3, 26))
    assert dl.deliver(world.ctx, FailingNotifier()) == dl.DeliveryReport(0, 1, False)  # the chat tool is down
    assert [(a.kind, a.state) for a in queries.alerts(world.ctx)] == [("due-in-7d", "failing")]
    dl.sweep(world.ctx, [7, 3], date(2026, 4, 3))
    states = {a.kind: a.state for a in queries.alerts(world.ctx)}
    assert states == {"due-in-7d": "superseded", "due-in-3d": "superseded", "breached": "pending"}
    notifier = FailingNotifier(failures=0)
    assert dl.deliver(world.ctx, notifier) == dl.DeliveryReport(1, 0, False)
    assert [n.title for n in notifier.delivered] == ["DSR-2026-000001: statutory deadline BREACHED (2026-04-02, 1 day(s) ago)"]
