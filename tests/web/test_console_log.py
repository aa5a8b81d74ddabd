"""Logging a request in the console (GET/POST /console/requests/new): every field the CLI's
`dsar request new` takes, through the one intake; problems re-render the form escaped with
nothing stored; a repeat is linked and says so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dsar.domain.accounts import Role
from dsar.services import queries
from tests.web.console_fixtures import Console, console

__all__ = ["console"]

FULL: dict[str, Any] = {
    "type": "correction",
    "regime": "uk-gdpr",
    "country": "GB",
    "subdivision": "SCT",
    "channel": "chat",
    "name": "Jane Doe",
    "email": ["jane.doe@example.com", "jane@work.example.org", ""],
    "phone": "+44 131 496 0000",
    "postal_address": "1 High Street\nEdinburgh\nEH1 1AA",
    "account_id": "C-1001",
    "extra": "loyalty_card=LC-99\nmember_since = 2019",
    "agent_name": "Alex Agent",
    "agent_email": "alex@agents.example",
    "agent_kind": "power_of_attorney",
    "agent_organisation": "Agents Ltd",
    "corrections": "phone=+44 131 496 0001",
}


def requests_count(console: Console) -> int:
    return len(queries.request_list(console.app.ctx))


def test_the_form_offers_every_field_and_the_staff_channels(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    page = console.client.get("/console/requests/new")
    assert page.status_code == 200
    for name in (
        "type",
        "regime",
        "access_scope",
        "country",
        "subdivision",
        "channel",
        "received_on",
        "received_time",
        "name",
        "email",
        "phone",
        "postal_address",
        "account_id",
        "extra",
        "agent_name",
        "agent_email",
        "agent_kind",
        "agent_organisation",
        "corrections",
    ):
        assert f'name="{name}"' in page.text, name
    for channel in ("phone", "mail", "email", "chat"):
        assert f'<option value="{channel}"' in page.text
    assert '<option value="web"' not in page.text
    assert '<label for="name">' in page.text  # every field has its label


def test_a_phone_request_with_every_field_is_logged_and_its_page_opens(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    received = console.today() - timedelta(days=2)
    answer = console.post("/console/requests/new", FULL | {"received_on": received.isoformat(), "received_time": "14:30"})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith("/console/requests/DSR-") and location.endswith("?done=logged")
    reference = location.split("/")[-1].split("?")[0]
    view = queries.request_view(console.app.ctx, reference, reveal=True, via="test")
    assert (view.type, view.regime, view.country, view.subdivision, view.channel) == ("correction", "uk-gdpr", "GB", "SCT", "chat")
    assert view.received_at.date() == received and view.received_at.strftime("%H:%M") == "14:30"
    s = view.subject
    assert (s.name, s.emails, s.phone, s.account_id) == (
        "Jane Doe",
        ("jane.doe@example.com", "jane@work.example.org"),
        "+44 131 496 0000",
        "C-1001",
    )
    assert s.postal_address == "1 High Street\nEdinburgh\nEH1 1AA"
    assert dict(s.extra) == {"loyalty_card": "LC-99", "member_since": "2019"}
    assert view.agent is not None and (view.agent.name, view.agent.email, view.agent.kind) == (
        "Alex Agent",
        "alex@agents.example",
        "power_of_attorney",
    )
    assert [(c.attribute, c.value) for c in view.corrections] == [("phone", "+44 131 496 0001")]
    # the one intake started the run, with the request id only
    assert [(r.request_id, r.reference) for r in console.orchestrator.started] == [(view.id, reference)]
    page = console.client.get(location)
    assert page.status_code == 200 and "Request logged." in page.text


def test_a_repeat_is_logged_as_a_request_of_its_own(console: Console) -> None:
    # Nothing is verified at intake: a repeat is linked only after verification, between
    # requests verified with the same address (security probe, item 4).
    console.sign_in(Role.SUPPORT)
    first = console.post(
        "/console/requests/new",
        {"type": "access", "regime": "gdpr", "country": "DE", "channel": "phone", "name": "Jane Doe", "email": "jane.doe@example.com"},
    )
    again = console.post(
        "/console/requests/new",
        {"type": "access", "regime": "gdpr", "country": "DE", "channel": "mail", "name": "Jane Doe", "email": "jane.doe@example.com"},
    )
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] != first.headers["location"] and again.headers["location"].endswith("?done=logged")
    assert requests_count(console) == 2
    assert "Request logged." in console.client.get(again.headers["location"]).text


def test_without_an_orchestrator_the_request_is_logged_and_the_page_says_no_run_started(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    console.orchestrator.up = False
    answer = console.post(
        "/console/requests/new",
        {"type": "access", "regime": "gdpr", "country": "DE", "channel": "phone", "name": "Jane Doe", "email": "jane.doe@example.com"},
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith("?done=logged-norun")
    assert "no flow run was started" in console.client.get(answer.headers["location"]).text


def test_problems_re_render_the_form_escaped_and_nothing_is_stored(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    hostile = '<script>alert("x")</script>'
    answer = console.post(
        "/console/requests/new",
        {
            "type": "",
            "regime": "gdpr",
            "country": "DE",
            "channel": "phone",
            "name": hostile,
            "email": "not-an-address",
            "postal_address": f"{hostile}\nline two",
            "extra": "no equals sign",
        },
    )
    assert answer.status_code == 422
    assert "extra data points: each line is NAME=VALUE" in answer.text
    assert hostile not in answer.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in answer.text  # kept in the form, escaped
    assert requests_count(console) == 0
    answer = console.post(
        "/console/requests/new", {"type": "", "regime": "gdpr", "country": "DE", "channel": "phone", "email": "not-an-address"}
    )
    assert answer.status_code == 422
    assert "Type: required" in answer.text and "Email addresses: not a valid email address" in answer.text
    assert "not-an-address" in answer.text  # only in the input's value, for correcting
    assert requests_count(console) == 0


def test_a_channel_the_console_does_not_log_is_refused(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    answer = console.post(
        "/console/requests/new", {"type": "access", "regime": "gdpr", "country": "DE", "channel": "web", "name": "Jane Doe"}
    )
    assert answer.status_code == 422 and "channel: one of phone, mail, email, chat" in answer.text
    assert requests_count(console) == 0


def test_problems_name_the_fields_as_the_form_labels_them() -> None:
    from dsar.web.console import labelled

    assert labelled("subject.emails: not a valid email address") == "Email addresses: not a valid email address"
    assert labelled("received_at: lies in the future") == "Received: lies in the future"
    assert labelled("corrections.phone: named twice") == "Corrections (phone): named twice"
    assert labelled("something else entirely") == "something else entirely"
