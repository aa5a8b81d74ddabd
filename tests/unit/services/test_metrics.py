"""The yearly request metrics (CCPA 11 CCR 7102): counts per type, outcomes, denial reasons
and days to the response, from the engine's records; no personal data."""

from __future__ import annotations

import json

from dsar.domain.decisions import SignOff, sign_off
from dsar.domain.request import Status
from dsar.services import processing as svc
from dsar.services.metrics import request_metrics
from tests.signoff import proceed_escalations, sign
from tests.unit.services.conftest import JANE, World


def _close(world: World, rid: str, given: SignOff | None = None) -> Status:
    world.verify(rid)
    svc.plan_request(world.ctx, rid)
    sign(world.ctx, rid, given or sign_off("approve"), f"legal.{rid[:8]}")
    status = svc.status_of(world.ctx, rid)
    if status is Status.EXECUTING:
        svc.execute_plan(world.ctx, rid)
    return svc.send_response(world.ctx, rid)


def test_the_year_s_requests_are_counted_by_type_outcome_reason_and_days_to_the_response(world: World) -> None:
    whole = world.log()
    world.clock.advance(days=3)
    assert _close(world, whole) is Status.CLOSED  # answered 3 days after receipt

    part = world.log()
    world.clock.advance(days=1)
    assert _close(world, part, sign_off("approve", exempt=[("shop/orders", "gdpr-17-3-e")])) is Status.CLOSED

    unverifiable = world.log()
    svc.start_verification(world.ctx, unverifiable)
    for _ in range(world.ctx.policy.verification_max_attempts):
        svc.confirm_code(world.ctx, unverifiable, "00000000")
    proceed_escalations(world.ctx, unverifiable)  # every try used up: legal lets the refusal go
    assert svc.send_response(world.ctx, unverifiable) is Status.DENIED

    not_a_consumer = world.log(type="deletion")
    world.clock.advance(days=10)
    assert _close(world, not_a_consumer, sign_off("deny", "not_a_consumer", "", "internal: an employee")) is Status.DENIED

    still_open = world.log()
    svc.start_verification(world.ctx, still_open)

    m = request_metrics(world.ctx, world.clock().year)
    access, deletion = m.by_type()["access"], m.by_type()["deletion"]
    assert (access.received, access.complied_in_whole, access.complied_in_part, access.denied, access.open) == (4, 1, 1, 1, 1)
    assert dict(access.denied_by_reason) == {"unverifiable": 1}
    assert sorted(access.days) == [0, 1, 3]  # the whole, the part, the could-not-verify letter
    assert (deletion.received, deletion.denied, dict(deletion.denied_by_reason), deletion.days) == (1, 1, {"not_a_consumer": 1}, [10])
    figures = access.as_json()
    assert figures["median_days"] == 1 and figures["mean_days"] == 1.3
    assert set(m.by_regime) == {"gdpr"}
    text = json.dumps(m.as_json())
    assert JANE not in text and "Jane" not in text and "employee" not in text  # counts only, never the note
    # another year, another regime: nothing
    assert request_metrics(world.ctx, world.clock().year - 1).by_type() == {}
    assert request_metrics(world.ctx, world.clock().year, "ccpa").by_type() == {}


def test_an_appeal_is_not_counted_as_a_request_of_its_own(world: World) -> None:
    from dataclasses import replace

    from dsar.services.intake import log_request

    world.ctx = replace(world.ctx, policy=replace(world.ctx.policy, public_form_url="https://forms.example-shop.test"))
    rid = world.log(regime="vcdpa", country=None)
    svc.start_verification(world.ctx, rid)
    for _ in range(world.ctx.policy.verification_max_attempts):
        svc.confirm_code(world.ctx, rid, "00000000")
    svc.send_response(world.ctx, rid)
    ref = svc.reference_of(world.ctx, rid)
    log_request(world.ctx, {"type": "appeal", "regime": "vcdpa", "appeal_of": ref, "subject": {"name": "Jane Doe", "emails": [JANE]}})
    m = request_metrics(world.ctx, world.clock().year)
    assert set(m.by_type()) == {"access"} and m.by_type()["access"].received == 1
