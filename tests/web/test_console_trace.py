"""The console's request page shows how each date was counted (issue 16): start, rule, the
days not counted and why, the roll-forward, citing the rule."""

from __future__ import annotations

from html import unescape

from dsar.domain.accounts import Role
from dsar.domain.deadlines import explain_deadlines, receipt_date
from dsar.services import queries
from tests.web.console_fixtures import Console, console

__all__ = ["console"]


def test_the_request_page_explains_the_due_date_citing_the_rule(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log(regime="uk-gdpr", country="GB", subdivision="ENG")
    html = unescape(console.client.get(f"/console/requests/{r.reference}").text)
    assert "How the dates were counted" in html
    view = queries.request_view(console.app.ctx, r.reference)
    trace = explain_deadlines("uk-gdpr", receipt_date(view.received_at, console.app.ctx.policy.timezone), country="GB", subdivision="ENG")
    assert trace.deadline.due == view.deadline.due
    for step in trace.steps:
        assert step.detail in html and step.rule in html
    assert "Reg. 1182/71 Art. 3(4)" in html


def test_a_new_state_laws_request_page_cites_its_statute(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    r = console.log(regime="us-ia", country="US", subdivision="IA")
    html = unescape(console.client.get(f"/console/requests/{r.reference}").text)
    assert "Iowa Code 715D.3(2)(a)" in html and "day 90 of 90 calendar days" in html


def test_an_appeals_page_opens_with_its_appeal_period_and_no_plan(console: Console) -> None:
    from datetime import UTC, datetime

    from dsar.domain.request import Move
    from dsar.services import recording

    console.sign_in(Role.SUPPORT)
    original = console.log(regime="us-tx", country="US")
    with console.app.ctx.uow() as uow:
        recording.move(uow, uow.requests.facts(original.id), Move.DENY, datetime.now(UTC), "exempt")
        uow.commit()
    appeal = console.log(type="appeal", regime=None, country=None, appeal_of=original.reference)
    answer = console.client.get(f"/console/requests/{appeal.reference}")
    assert answer.status_code == 200, answer.text[-2000:]
    page = unescape(answer.text)
    assert "Tex. Bus. & Com. Code 541.053" in page and "day 60 of 60 calendar days" in page
    assert original.reference in page and f"dsar request decide-appeal {appeal.reference}" in page
    assert console.client.get(f"/console/requests/{appeal.reference}/plan").status_code == 200  # an empty plan, no error
