"""Repeats are linked after verification, only between requests verified with the same contact
(security probe, item 4; dsar.services.processing.confirm_code)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dsar.domain.decisions import DenialReason, SignOff, SignOffDecision
from dsar.domain.request import DEADLINE_STOPPED, Status, duplicate_reason
from dsar.services import processing as svc
from dsar.services.intake import log_request
from tests.signoff import approve, sign
from tests.unit.services.conftest import JANE, World

MALLORY = "mallory@evil.example"


def submission(*emails: str, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": list(emails)}}
    raw.update(overrides)
    return raw


def log(w: World, *emails: str, **overrides: Any) -> str:
    return log_request(w.ctx, submission(*emails, **overrides)).request.id


def verify(w: World, rid: str) -> svc.VerificationOutcome:
    svc.start_verification(w.ctx, rid)
    return svc.confirm_code(w.ctx, rid, w.letters.last_code())


def answer(w: World, rid: str) -> Status:
    svc.plan_request(w.ctx, rid)
    approve(w.ctx, rid)
    svc.execute_plan(w.ctx, rid)
    return svc.send_response(w.ctx, rid)


def facts(w: World, rid: str) -> Any:
    with w.uow() as uow:
        return uow.requests.facts(rid)


def mails_to(w: World, address: str) -> list[Any]:
    return [m for m in w.mailer.sent.values() if m.to == address]


def test_a_request_naming_the_victim_s_address_after_another_reaches_only_the_victim(world: World) -> None:
    w = world
    attacker = log(w, MALLORY, JANE)
    svc.start_verification(w.ctx, attacker)
    assert mails_to(w, MALLORY) == []  # the link goes to the address on file, never to one only typed
    (to_victim,) = mails_to(w, JANE)
    assert facts(w, attacker).reference in to_victim.subject
    assert facts(w, attacker).status is Status.AWAITING_VERIFICATION  # mallory cannot read it
    w.clock.advance(hours=1)
    victim = log(w, JANE)
    mine, theirs = facts(w, victim), facts(w, attacker)
    assert victim != attacker and mine.reference != theirs.reference and mine.linked_to is None
    assert verify(w, victim) is svc.VerificationOutcome.VERIFIED
    assert facts(w, victim).status is Status.VERIFIED and facts(w, victim).linked_to is None  # not linked to mallory's
    assert answer(w, victim) is Status.CLOSED
    assert "DuplicateLinked" not in w.events(victim) and "DuplicateLinked" not in w.events(attacker)
    assert all(m.to == JANE for m in w.mailer.sent.values())


def test_a_request_naming_the_victim_first_does_not_touch_the_victim_s_own_request(world: World) -> None:
    w = world
    attacker = log(w, JANE, MALLORY)  # the code goes to the victim, who never gives it away
    svc.start_verification(w.ctx, attacker)
    victim = log(w, JANE)
    assert verify(w, victim) is svc.VerificationOutcome.VERIFIED
    assert facts(w, victim).status is Status.VERIFIED and facts(w, victim).linked_to is None
    assert facts(w, attacker).status is Status.AWAITING_VERIFICATION


def test_two_requests_verified_with_the_same_address_in_the_window_are_linked_and_the_second_ends_without_a_letter(world: World) -> None:
    w = world
    first = log(w, JANE)
    verify(w, first)
    w.clock.advance(hours=3)
    second = log(w, JANE, channel="email")
    assert verify(w, second) is svc.VerificationOutcome.VERIFIED

    one, two = facts(w, first), facts(w, second)
    assert two.status is Status.WITHDRAWN and two.status in DEADLINE_STOPPED and two.linked_to == first
    assert one.status is Status.VERIFIED and one.linked_to is None
    assert w.details(second, "DuplicateLinked") == [{"role": "duplicate", "other": one.reference}]
    assert w.details(first, "DuplicateLinked") == [{"role": "original", "other": two.reference}]
    (withdrawn,) = [d for d in w.details(second, "StatusChanged") if d["to"] == "withdrawn"]
    assert withdrawn["reason"] == duplicate_reason(one.reference) == f"duplicate of {one.reference} (same verified contact)"

    assert svc.send_response(w.ctx, second) is Status.WITHDRAWN  # nothing to send for the duplicate
    assert answer(w, first) is Status.CLOSED
    letters = [m for m in mails_to(w, JANE) if not m.subject.startswith("verification_code")]
    assert [m.subject for m in letters] == [f"access_response {one.reference}"]  # one answer for both
    with w.uow() as uow:
        assert uow.letters.get(second, "access_response") is None


def test_a_duplicate_of_a_request_closed_within_the_window_is_linked(world: World) -> None:
    w = world
    first = log(w, JANE)
    verify(w, first)
    assert answer(w, first) is Status.CLOSED
    w.clock.advance(hours=5)
    second = log(w, JANE)
    verify(w, second)
    assert facts(w, second).status is Status.WITHDRAWN and facts(w, second).linked_to == first


def test_a_request_verified_with_another_customer_s_contact_is_not_linked(world: World) -> None:
    w = world
    first = log(w, JANE)
    verify(w, first)
    second = log(w, "someone@example.org")  # another customer on file
    assert verify(w, second) is svc.VerificationOutcome.VERIFIED
    assert facts(w, second).status is Status.VERIFIED and facts(w, second).linked_to is None
    assert "DuplicateLinked" not in w.events(first)


def test_requests_outside_the_window_are_not_linked(world: World) -> None:
    w = world
    first = log(w, JANE)
    verify(w, first)
    w.clock.advance(hours=w.ctx.policy.duplicate_window_hours, seconds=1)
    second = log(w, JANE)
    verify(w, second)
    assert facts(w, second).status is Status.VERIFIED and facts(w, second).linked_to is None


def test_a_request_received_earlier_is_never_ended_as_the_duplicate_of_a_later_one(world: World) -> None:
    w = world
    earlier = log(w, JANE)
    svc.start_verification(w.ctx, earlier)
    w.clock.advance(hours=1)
    later = log(w, JANE)
    verify(w, later)  # verified first: nothing earlier is verified yet
    w.clock.advance(hours=1)
    # the earlier request's code, then: its own clock is the earlier one, so it is not ended
    codes = w.letters.contexts("verification_code")
    code = next(c["code"] for c in codes if c["request"]["reference"] == facts(w, earlier).reference)
    assert svc.confirm_code(w.ctx, earlier, code) is svc.VerificationOutcome.VERIFIED
    assert facts(w, earlier).status is Status.VERIFIED and facts(w, later).status is Status.VERIFIED


def test_another_type_regime_or_an_unanswered_first_request_is_not_linked(world: World) -> None:
    w = world
    first = log(w, JANE)
    verify(w, first)
    deletion = log(w, JANE, type="deletion")
    verify(w, deletion)
    uk = log(w, JANE, regime="uk-gdpr", country="GB", subdivision="ENG")
    verify(w, uk)
    assert {facts(w, r).status for r in (deletion, uk)} == {Status.VERIFIED}

    denied = log(w, JANE, type="deletion", regime="uk-gdpr", country="GB", subdivision="ENG")
    verify(w, denied)
    svc.plan_request(w.ctx, denied)
    sign(w.ctx, denied, SignOff(SignOffDecision.DENY, DenialReason.EXEMPT, note="a legal hold"))
    assert facts(w, denied).status is Status.DENIED
    again = log(w, JANE, type="deletion", regime="uk-gdpr", country="GB", subdivision="ENG")
    verify(w, again)
    assert facts(w, again).status is Status.VERIFIED and facts(w, again).linked_to is None


def test_a_correction_asking_for_something_else_is_never_a_duplicate(world: World) -> None:
    w = world

    def correction(value: str) -> dict[str, Any]:
        return {"type": "correction", "corrections": [{"attribute": "phone", "value": value}]}

    first = log(w, JANE, **correction("+44 1"))
    verify(w, first)
    other = log(w, JANE, **correction("+44 2"))
    verify(w, other)
    assert facts(w, other).status is Status.VERIFIED and facts(w, other).linked_to is None
    same = log(w, JANE, **correction("+44 1"))
    verify(w, same)
    assert facts(w, same).status is Status.WITHDRAWN and facts(w, same).linked_to == first


def test_a_duplicate_is_linked_to_the_earliest_request_and_never_to_another_duplicate(world: World) -> None:
    w = world
    first = log(w, JANE)
    verify(w, first)
    ids = []
    for _ in range(2):
        w.clock.advance(minutes=10)
        ids.append(log(w, JANE))
        verify(w, ids[-1])
    assert [facts(w, r).linked_to for r in ids] == [first, first]
    assert [d["role"] for d in w.details(first, "DuplicateLinked")] == ["original", "original"]


def test_confirming_a_code_again_links_nothing_twice(world: World) -> None:
    w = world
    first = log(w, JANE)
    verify(w, first)
    second = log(w, JANE)
    verify(w, second)
    before = (w.events(first), w.events(second))
    assert svc.confirm_code(w.ctx, second, w.letters.last_code()) is svc.VerificationOutcome.NOT_WAITING
    assert (w.events(first), w.events(second)) == before


def test_the_window_counts_from_when_each_request_was_received_not_when_it_was_logged(world: World) -> None:
    w = world
    # logged by staff now, but it came in by post 30 hours ago
    received = (w.clock() - timedelta(hours=30)).isoformat()
    by_post = log(w, JANE, channel="mail", received_at=received)
    verify(w, by_post)
    w.clock.advance(minutes=5)
    online = log(w, JANE)
    verify(w, online)
    assert facts(w, online).status is Status.VERIFIED and facts(w, online).linked_to is None
