"""The console's queue (GET /console): soonest due first, due-soon and past-due shown in
colour and in words, filters by status, regime, type, due date and reference in a bookmarkable
GET form, legal-sensitive and on-hold marks."""

from __future__ import annotations

import re
from datetime import timedelta

from dsar.domain.accounts import Role
from dsar.services import casework, queries
from dsar.services.admin import hold_request
from tests.web.console_fixtures import Console, console, received_days_ago

__all__ = ["console"]


def row(html: str, reference: str) -> str:
    found = re.search(r"<tr[^>]*>(?:(?!</tr>).)*" + re.escape(reference) + r"(?:(?!</tr>).)*</tr>", html, re.S)
    assert found, f"{reference} is not in the queue"
    return found.group(0)


def order(html: str) -> list[str]:
    return re.findall(r'<a href="/console/requests/(DSR-\d{4}-\d{6})">', html)


def test_the_queue_lists_requests_soonest_due_first_with_due_date_and_days_left(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    fresh = console.log()
    older = console.log(type="deletion", received_at=received_days_ago(10))
    page = console.client.get("/console")
    assert page.status_code == 200
    assert order(page.text) == [older.reference, fresh.reference]
    view = queries.request_view(console.app.ctx, fresh.reference)
    line = row(page.text, fresh.reference)
    left = (view.deadline.due - console.today()).days
    assert view.deadline.due.isoformat() in line
    assert f">{left}<" in line
    assert "access" in line and "gdpr" in line and "received" in line


def test_due_soon_and_past_due_show_in_colour_and_in_words(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    late = console.log(received_at=received_days_ago(45))
    soon = console.log(type="deletion", received_at=received_days_ago(28))
    calm = console.log(type="correction", corrections=[{"attribute": "phone", "value": "+49 30 7654321"}])
    today = console.today()
    due = {r.reference: queries.request_view(console.app.ctx, r.reference).deadline.due for r in (late, soon, calm)}
    assert due[late.reference] < today  # the set-up: past due
    assert 0 <= (due[soon.reference] - today).days <= 5, "the set-up: due within five days"
    assert (due[calm.reference] - today).days > 5
    page = console.client.get("/console").text
    assert 'class="row-past-due"' in row(page, late.reference) and 'class="past-due"' in row(page, late.reference)
    assert "past due" in row(page, late.reference)
    assert 'class="due-soon"' in row(page, soon.reference) and "due soon" in row(page, soon.reference)
    assert "due-soon" not in row(page, calm.reference) and "past-due" not in row(page, calm.reference)
    assert "past due" not in row(page, calm.reference)


def test_filters_narrow_the_queue_and_stay_in_the_address(console: Console) -> None:
    console.sign_in(Role.AUDITOR)
    a = console.log()
    b = console.log(type="deletion")
    c = console.log(
        regime="ccpa",
        country="US",
        subdivision="CA",
        access_scope="categories",
        subject={"name": "Max Mustermann", "emails": ["max@example.com"]},
    )
    hold_request(console.app.ctx, b.id, "waiting for legal")

    def listed(query: str) -> set[str]:
        page = console.client.get("/console?" + query)
        assert page.status_code == 200
        return set(order(page.text))

    assert listed("regime=ccpa") == {c.reference}
    assert listed("type=deletion") == {b.reference}
    assert listed("status=received") == {a.reference, b.reference, c.reference}
    assert listed("status=closed") == set()
    assert listed(f"q={a.reference.lower()}") == {a.reference}
    far = (console.today() + timedelta(days=400)).isoformat()
    assert listed(f"due_before={far}") == {a.reference, b.reference, c.reference}
    assert listed(f"due_before={console.today().isoformat()}") == set()
    page = console.client.get("/console?regime=ccpa&type=access").text
    assert '<option value="ccpa" selected>' in page and '<option value="access" selected>' in page
    assert "on hold" in row(console.client.get("/console").text, b.reference)


def test_a_legal_sensitive_request_is_marked_in_the_queue(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    a = console.log()
    b = console.log(type="deletion")
    casework.flag_legal_sensitive(console.app.ctx, b.id, "solicitor's letter", by="sam")
    page = console.client.get("/console").text
    assert "legal-sensitive" in row(page, b.reference)
    assert "legal-sensitive" not in row(page, a.reference)


def test_bad_filters_are_named_and_ignored_and_never_echoed_raw(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    a = console.log()
    page = console.client.get("/console", params={"q": "<script>alert(1)</script>", "status": "nonsense", "due_before": "tomorrow"})
    assert page.status_code == 200
    assert "reference: expected a reference or part of one, e.g. DSR-2026-000123" in page.text
    assert "status: unknown" in page.text and "due before: not a date" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert a.reference in order(page.text)


def test_the_queue_comes_in_pages(console: Console) -> None:
    from dsar.web import console as console_module

    console.sign_in(Role.SUPPORT)
    size = console_module.PAGE_SIZE
    for i in range(size + 1):
        console.log(subject={"name": f"Person {i}", "emails": [f"p{i}@example.com"]})
    first = console.client.get("/console").text
    assert len(order(first)) == size
    assert 'page=2">Next' in first
    second = console.client.get("/console?page=2").text
    assert len(order(second)) == 1
    assert "Previous" in second and "Next" not in second
    assert not set(order(first)) & set(order(second))


def test_the_queue_says_which_open_requests_never_had_a_flow_run(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    waiting = console.log()
    running = console.log(type="deletion")
    assert console.post(f"/console/requests/{running.reference}/run", {}).status_code == 303
    page = console.client.get("/console").text
    assert "<strong>none yet</strong>" in row(page, waiting.reference)
    assert "started" in row(page, running.reference) and "none yet" not in row(page, running.reference)


def test_a_reference_is_found_by_its_beginning_its_year_and_number_or_its_number(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    a, b, c = (
        console.log(),
        console.log(type="deletion"),
        console.log(type="correction", corrections=[{"attribute": "phone", "value": "+49 30 1"}]),
    )
    year, number = a.reference.split("-")[1], int(a.reference.split("-")[2])

    def listed(q: str) -> set[str]:
        page = console.client.get("/console", params={"q": q})
        assert page.status_code == 200 and "reference: expected" not in page.text
        return set(order(page.text))

    everyone = {a.reference, b.reference, c.reference}
    assert listed(a.reference) == {a.reference}
    assert listed(f"  {b.reference.lower()} ") == {b.reference}
    assert listed(f"{year}-{number}") == {a.reference}  # without the zeros
    assert listed(str(number)) == {a.reference}  # the number, in any year
    assert listed(f"{number:06d}") == {a.reference}
    assert listed("DSR") == everyone and listed(f"dsr-{year}") == everyone and listed(f"DSR-{year}-") == everyone
    assert listed(f"{year}-999999") == set() and listed("999999") == set() and listed("DSR-1999") == set()
    # the filters still apply together with the search
    assert set(order(console.client.get("/console", params={"q": f"DSR-{year}", "type": "deletion"}).text)) == {b.reference}


def test_a_search_is_never_a_wildcard_nor_sql() -> None:
    from dsar.domain.errors import InvalidInput
    from dsar.domain.request import reference_search

    assert reference_search("DSR-2026-000123") == ("DSR-2026-000123", None)
    assert reference_search("2026-123") == ("DSR-2026-000123", None)
    assert reference_search("123") == (None, "DSR-%-000123")
    assert reference_search("1234567") == (None, "DSR-%-1234567")
    assert reference_search("dsr-2026-00") == (None, "DSR-2026-00%")
    for hostile in (
        "%",
        "_",
        "DSR-%",
        "DSR-2026_",
        "1' OR '1'='1",
        "123; DROP TABLE privacy_request",
        "DSR-2026-00-1",
        "",
        "x" * 100,
        "DSR-" + "1" * 30,
    ):
        try:
            reference_search(hostile)
        except InvalidInput as exc:
            assert hostile.strip() == "" or hostile not in str(exc)
        else:
            raise AssertionError(f"{hostile!r} was accepted")


def test_a_search_with_wildcard_characters_is_refused_by_name(console: Console) -> None:
    console.sign_in(Role.SUPPORT)
    console.log()
    page = console.client.get("/console", params={"q": "%"})
    assert page.status_code == 200
    assert "reference: expected a reference or part of one" in page.text
    assert order(page.text) != []  # the filter is ignored, the queue still shows
