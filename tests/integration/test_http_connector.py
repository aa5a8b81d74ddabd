"""The `http` connector against a real local helpdesk API: the demo's helpdesk
(:mod:`dsar.demo.helpdesk`, http.server on 127.0.0.1) with test data, plus test-only
behaviours (throttling, failures, a loose or flooding search, page pagination) added by a
handler subclass here."""

from __future__ import annotations

import json
import logging
import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from dsar.connectors.base import Capability, CorrectionAction, ErasureAction, SubjectKeys, receipt_key, value_hash
from dsar.connectors.datamap import load_system_map
from dsar.connectors.http import HttpConnector, HttpSystem
from dsar.connectors.registry import connector_for
from dsar.demo.helpdesk import Helpdesk, HelpdeskHandler, instance_of, seed_helpdesk, start_helpdesk
from dsar.domain.errors import ConfigurationError, PermanentConnectorError, RetryableConnectorError
from dsar.domain.request import Correction

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "Bearer s3cret"
PREFIX = "/api"
JANE = "jane@example.com"


def _contacts() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"id": 1, "email": "Jane@Example.com", "name": "Jane Doe", "phone": "+49 30 1", "account_id": "acc-7"},
        {"id": 2, "email": "ana@example.com", "name": "Ana Silva", "phone": "+351 2", "account_id": "acc-8"},
        {"id": 3, "email": "jane@example.com", "name": "J. Doe", "phone": None, "account_id": "acc-7"},
        {"id": 4, "email": "lee@example.com", "name": "Lee Chan", "phone": "+65 3", "account_id": "acc-9"},
        {"id": 5, "email": "JANE@EXAMPLE.COM", "name": "Jane D.", "phone": "+49 30 5", "account_id": "acc-7"},
        {"id": 6, "email": "jane@example.com.evil.test", "name": "Not Jane", "phone": "+1 6", "account_id": "acc-6"},
    ]
    for r in rows:
        r["internal_notes"] = f"agent notes on {r['id']}"
        r["address"] = {"city": "Paris", "street": f"{r['id']} Rue de la Paix"}
    return rows


@dataclass
class Api:
    """The running helpdesk and the test's switches; every request is logged as (method, raw
    path with query, body)."""

    helpdesk: Helpdesk = field(init=False)
    log: list[tuple[str, str, bytes]] = field(default_factory=list)
    throttle: int = 0  # answer 429 (Retry-After: 0) to the next N requests
    fail: int = 0  # answer 500 to the next N requests
    only: str | None = None  # throttle and fail only requests of this method
    sloppy: bool = False  # the search ignores its filter and lists every contact
    flood: bool = False  # the search answers 1001 records
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return self.helpdesk.url

    @property
    def requests(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.log]

    def paths(self) -> list[str]:
        return [p for _, p, _ in self.log]

    def bodies(self, method: str) -> list[Any]:
        return [json.loads(b) for m, _, b in self.log if m == method]

    @property
    def contacts(self) -> dict[int, dict[str, Any]]:
        """A copy of the stored contacts by id."""
        return {int(k): v for k, v in self.helpdesk.store.snapshot()["contacts"].items()}

    def edit(self) -> AbstractContextManager[dict[str, Any]]:
        return self.helpdesk.store.edit()


def _handler(api: Api) -> type[HelpdeskHandler]:
    class TestHandler(HelpdeskHandler):
        def handle_api(self) -> None:
            with api.lock:
                api.log.append((self.command, self.path, self.body))
                if api.only in (None, self.command):
                    if api.throttle:
                        api.throttle -= 1
                        self.reply(429, {"error": "slow down"}, {"Retry-After": "0"})
                        return
                    if api.fail:
                        api.fail -= 1
                        self.reply(500, {"error": "boom"})
                        return
            if self.command == "PUT":  # an API that wants the whole record wrapped: {"contact": {...}}
                wrapped = json.loads(self.body)
                self.body = json.dumps(wrapped["contact"]).encode()
                self.command = "PATCH"
            super().handle_api()

        def search(self, data: Any, email: str | None) -> list[dict[str, Any]]:
            if api.flood:
                return [{"id": i, "email": email} for i in range(1001)]
            return super().search(data, None if api.sloppy else email)

        def page(self, rows: list[dict[str, Any]], query: Any) -> None:
            if api.flood:
                self.reply(200, {"data": rows, "next_cursor": None})
            elif "page" in query:  # page style: 2 per page, an empty page at the end
                start = (int(query["page"][0]) - 1) * 2
                self.reply(200, {"data": rows[start : start + 2]})
            else:
                super().page(rows, query)

    return TestHandler


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    seed_helpdesk(tmp_path, _contacts())
    state = Api()
    state.helpdesk = start_helpdesk(tmp_path, "s3cret", handler=_handler(state), page_size=2)
    try:
        yield state
    finally:
        state.helpdesk.stop()


def system_map(**changes: Any) -> HttpSystem:
    data: dict[str, Any] = {
        "system": "helpdesk",
        "type": "http",
        "title": "Support helpdesk",
        "connection": "HELPDESK_URL",
        "auth_secret": "HELPDESK_TOKEN",
        "purposes": ["customer support"],
        "legal_basis": "contract",
        "retention": "3 years after the last ticket",
        "source": "the subject",
        "locate": {
            "email": {"path": "/contacts", "query": {"email": "{email}"}, "items": "data"},
            "account_id": {"path": "/accounts/{account_id}/contacts", "items": "data"},
        },
        "export": {"path": "/contacts/{id}", "items": "data"},
        "erase": {"method": "DELETE", "path": "/contacts/{id}"},
        "correct": {"method": "PATCH", "path": "/contacts/{id}"},
        "fields": {
            "email": {"category": "contact"},
            "name": {"category": "identity", "correctable": "name"},
            "phone": {"category": "contact", "correctable": "phone"},
            "address.city": {"category": "address", "correctable": "city"},
        },
        "pagination": {"style": "cursor"},
        "max_retries": 2,
    }
    data.update(changes)
    return HttpSystem.model_validate(data)


@pytest.fixture
def connect() -> Iterator[Callable[..., HttpConnector]]:
    made: list[HttpConnector] = []

    def make(url: str, auth: str | None = TOKEN, **changes: Any) -> HttpConnector:
        c = HttpConnector(system_map(**changes), url, b"k", auth)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def keys(*emails: str, account_id: str | None = None) -> SubjectKeys:
    return SubjectKeys(emails=emails, account_id=account_id)


def test_locates_every_record_across_cursor_pages(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url)
    found = c.locate(keys("Jane@Example.COM"))
    assert [(m.entity, m.key, m.matched_on) for m in found.matches] == [
        ("records", "1", ("email",)),
        ("records", "3", ("email",)),
        ("records", "5", ("email",)),
    ]
    # two pages of two; the lower-cased email is what was sent
    assert api.paths() == [f"{PREFIX}/contacts?email=jane%40example.com", f"{PREFIX}/contacts?email=jane%40example.com&cursor=2"]
    assert c.locate(keys("nobody@example.com")).matches == ()


def test_locates_by_several_kinds_and_dedupes(api: Api, connect: Callable[..., HttpConnector]) -> None:
    found = connect(api.url).locate(keys(JANE, JANE.upper(), account_id="acc-7"))
    assert [(m.key, m.matched_on) for m in found.matches] == [
        ("1", ("account_id", "email")),
        ("3", ("account_id", "email")),
        ("5", ("account_id", "email")),
    ]


def test_page_pagination_reads_until_an_empty_page(api: Api, connect: Callable[..., HttpConnector]) -> None:
    found = connect(api.url, pagination={"style": "page"}).locate(keys(JANE))
    assert [m.key for m in found.matches] == ["1", "3", "5"]
    assert [urlsplit(p).query.split("&")[-1] for p in api.paths()] == ["page=1", "page=2", "page=3"]


def test_a_loose_search_is_checked_client_side(api: Api, connect: Callable[..., HttpConnector]) -> None:
    api.sloppy = True  # the API lists everyone, including jane@example.com.evil.test
    assert [m.key for m in connect(api.url).locate(keys(JANE)).matches] == ["1", "3", "5"]


def test_a_search_answering_too_much_fails(api: Api, connect: Callable[..., HttpConnector]) -> None:
    api.flood = True
    with pytest.raises(PermanentConnectorError, match="matched too much"):
        connect(api.url).locate(keys(JANE))


def test_export_returns_mapped_fields_only(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url)
    records = list(c.export(c.locate(keys(JANE))))
    assert [r.key for r in records] == ["1", "3", "5"]
    assert records[0].fields == {"email": "Jane@Example.com", "name": "Jane Doe", "phone": "+49 30 1", "address.city": "Paris"}
    assert records[1].fields["phone"] is None
    assert all(set(r.fields) == {"email", "name", "phone", "address.city"} for r in records)
    assert records[0].categories == {"email": "contact", "name": "identity", "phone": "contact", "address.city": "address"}
    text = repr(records)
    assert "agent notes" not in text and "Rue de la Paix" not in text and "Ana Silva" not in text
    assert f"{PREFIX}/contacts/3" in api.paths()


def test_export_skips_a_record_deleted_since_it_was_located(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url)
    located = c.locate(keys(JANE))
    with api.edit() as data:
        del data["contacts"]["3"]
    assert [r.key for r in c.export(located)] == ["1", "5"]


def test_erase_deletes_exactly_the_subjects_records_and_is_idempotent(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url)
    located = c.locate(keys(JANE))
    plan = c.plan_erasure(located)
    assert plan == [ErasureAction("records", "delete", 3)]
    api.log.clear()
    receipt = c.erase(located, plan)
    assert receipt.counts == {"records": {"delete": 3}} and receipt.total == 3
    assert api.requests == [("DELETE", f"{PREFIX}/contacts/{i}") for i in (1, 3, 5)]
    assert sorted(api.contacts) == [2, 4, 6]
    # again: every record answers 404, nothing more is counted
    assert c.erase(located, plan).total == 0
    relocated = c.locate(keys(JANE))
    assert relocated.matches == () and c.plan_erasure(relocated) == [] and c.erase(relocated, []).total == 0
    assert sorted(api.contacts) == [2, 4, 6]


def test_retain_is_planned_with_its_reason_and_deletes_nothing(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url, erase={"retain": "tickets: 6 years, limitation period"})
    located = c.locate(keys(JANE))
    plan = c.plan_erasure(located)
    assert plan == [ErasureAction("records", "retain", 3, "tickets: 6 years, limitation period")]
    assert c.erase(located, plan).counts == {"records": {"retain": 3}}
    assert not any(m == "DELETE" for m, _ in api.requests) and len(api.contacts) == 6


def test_unmapped_is_planned_as_such_and_never_erased(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url, erase=None)
    located = c.locate(keys(JANE))
    plan = c.plan_erasure(located)
    assert [(a.entity, a.action, a.rows) for a in plan] == [("records", "unmapped", 3)]
    with pytest.raises(PermanentConnectorError, match="without an erasure rule"):
        c.erase(located, plan)
    # a "delete" approval does not match a map without an erase call either
    with pytest.raises(PermanentConnectorError, match="does not match the data map"):
        c.erase(located, [ErasureAction("records", "delete", 3)])
    assert not any(m == "DELETE" for m, _ in api.requests) and len(api.contacts) == 6


def test_throttling_is_retried_honouring_retry_after(api: Api, connect: Callable[..., HttpConnector]) -> None:
    api.throttle = 2
    assert [m.key for m in connect(api.url).locate(keys(JANE)).matches] == ["1", "3", "5"]
    first = f"{PREFIX}/contacts?email=jane%40example.com"
    assert api.paths() == [first, first, first, first + "&cursor=2"]  # two 429s, then the answer


def test_a_server_error_once_is_retried(api: Api, connect: Callable[..., HttpConnector]) -> None:
    api.fail = 1
    assert len(connect(api.url).locate(keys(JANE)).matches) == 3
    assert len(api.requests) == 3


def test_a_persistent_server_error_is_retryable_after_max_retries(api: Api, connect: Callable[..., HttpConnector]) -> None:
    api.fail = 100
    with pytest.raises(RetryableConnectorError) as info:
        connect(api.url, max_retries=1).locate(keys(JANE))
    assert len(api.requests) == 2  # the first try and one retry
    assert "helpdesk" in str(info.value) and "HTTP 500" in str(info.value)
    assert_clean(info.value)


def test_an_unreachable_system_is_retryable(connect: Callable[..., HttpConnector]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = connect(f"http://127.0.0.1:{port}", max_retries=1)
    with pytest.raises(RetryableConnectorError) as info:
        c.locate(keys(JANE))
    assert_clean(info.value)
    health = c.check()
    assert not health.ok and "unreachable" in health.detail


def test_a_wrong_token_is_permanent_and_never_echoed(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url, auth="Bearer wrong-s3cret")
    with pytest.raises(PermanentConnectorError, match="credentials refused") as info:
        c.locate(keys(JANE))
    assert len(api.requests) == 1  # not retried
    assert_clean(info.value, "wrong-s3cret")
    health = c.check()
    assert not health.ok and "credentials refused" in health.detail


def test_check_reports_a_reachable_api(api: Api, connect: Callable[..., HttpConnector]) -> None:
    health = connect(api.url).check()
    assert health.ok and health.warnings == ()
    assert api.paths() == [PREFIX]


def test_nothing_of_the_subject_or_the_credential_is_logged(
    api: Api, connect: Callable[..., HttpConnector], caplog: pytest.LogCaptureFixture
) -> None:
    c = connect(api.url)
    with caplog.at_level(logging.DEBUG):
        located = c.locate(keys(JANE, account_id="acc-7"))
        list(c.export(located))
        c.erase(located, c.plan_erasure(located))
    text = caplog.text.lower()
    assert "s3cret" not in text and "jane" not in text and "acc-7" not in text


HOSTILE = ["' OR 1=1 --", "%", "*", "../", "../../admin", "a?b#c", "a\x00b", "x" * 100_000, ".", "..", "{id}", "%2e%2e%2f"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_values_match_nothing_and_never_reach_another_path(api: Api, connect: Callable[..., HttpConnector], hostile: str) -> None:
    c = connect(api.url)
    located = c.locate(keys(hostile, account_id=hostile))
    assert located.matches == ()
    assert c.plan_erasure(located) == [] and c.erase(located, []).total == 0
    sendable = "\x00" not in hostile and len(hostile) <= 1000 and hostile not in (".", "..")
    assert len(api.requests) == (2 if sendable else 0)
    for method, raw in api.requests:
        parts = urlsplit(raw)
        assert method == "GET" and "#" not in raw
        if parts.path == f"{PREFIX}/contacts":
            assert parse_qs(parts.query) == {"email": [hostile.lower()]}
        else:
            # one encoded path segment, decoded by the server back to exactly the value
            assert parts.path.startswith(f"{PREFIX}/accounts/") and parts.path.endswith("/contacts") and parts.query == ""
            segment = parts.path[len(f"{PREFIX}/accounts/") : -len("/contacts")]
            assert "/" not in segment and unquote(segment) == hostile
    # nothing broke: the real subject is still there, all of them
    assert len(c.locate(keys(JANE)).matches) == 3 and len(api.contacts) == 6


def test_hostile_record_ids_from_the_api_are_refused(api: Api, connect: Callable[..., HttpConnector]) -> None:
    with api.edit() as data:
        data["contacts"]["1"]["id"] = ".."
    with pytest.raises(PermanentConnectorError, match="cannot be used in a path"):
        connect(api.url).locate(keys(JANE))


@pytest.mark.parametrize(
    "url",
    ["not a url", "", "ftp://user:pw@example.com/x", "file:///etc/passwd", "http:///nohost", "http://127.0.0.1:1/x?pw=1", "//example.com"],
)
def test_a_bad_base_url_is_permanent_and_names_only_the_system(url: str) -> None:
    with pytest.raises(PermanentConnectorError) as info:
        HttpConnector(system_map(), url, auth_value=TOKEN)
    assert str(info.value).startswith("helpdesk: ")
    assert "pw" not in str(info.value) and "example.com" not in str(info.value)


def test_from_env_reads_the_named_variable(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELPDESK_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="HELPDESK_TOKEN") as info:
        HttpConnector.from_env(system_map(), api.url)
    assert "s3cret" not in str(info.value)
    monkeypatch.setenv("HELPDESK_TOKEN", TOKEN)
    c = HttpConnector.from_env(system_map(), api.url)
    try:
        assert len(c.locate(keys(JANE)).matches) == 3
    finally:
        c.close()


@pytest.mark.parametrize(
    "changes",
    [
        {"locate": {"email": {"path": "/contacts"}}},  # a search that does not use the subject's value
        {"locate": {"email": {"path": "/contacts/{phone}"}}},  # another kind's placeholder
        {"locate": {"name": {"path": "/contacts/{email}"}}},  # not an identity kind
        {"locate": {"email": {"method": "DELETE", "path": "/contacts/{email}"}}},
        {"export": {"path": "/contacts"}},
        {"export": {"path": "/contacts/{id}/{email}"}},
        {"erase": {"method": "GET", "path": "/contacts/{id}"}},
        {"erase": {"method": "DELETE", "path": "//evil.example/{id}"}},
        {"export": {"path": "/contacts/../admin/{id}"}},
        {"export": {"path": "/contacts/{id}?all=1"}},
        {"export": {"path": "/contacts/{idx}"}},
        {"export": {"path": "/contacts/{id"}},
        {"correct": {"method": "GET", "path": "/contacts/{id}"}},
        {"correct": {"method": "DELETE", "path": "/contacts/{id}"}},
        {"correct": {"method": "PATCH", "path": "/contacts"}},
        {"correct": {"method": "PATCH", "path": "/contacts/{id}", "query": {"email": "{email}"}}},
        {"correct": None},  # correctable fields without a correct call
        {
            "fields": {
                "address": {"category": "address", "correctable": "postal_address"},
                "address.city": {"category": "a", "correctable": "city"},
            }
        },
        {"erase": {"method": "PUT", "path": "/contacts/{id}"}},
        {"auth_secret": "Bearer s3cret"},  # a value where the variable's name belongs
        {"auth_header": "X-Bad Header"},
        {"unknown": 1},
    ],
)
def test_the_data_map_refuses_unsafe_calls(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        system_map(**changes)


def assert_clean(exc: BaseException, *secrets: str) -> None:
    """Neither the message nor any exception a traceback would print holds the credential or the subject's values."""
    printed: list[str] = []
    cur: BaseException | None = exc
    while cur is not None:
        printed.extend(traceback.format_exception_only(cur))
        cur = cur.__cause__ if cur.__cause__ is not None else (None if cur.__suppress_context__ else cur.__context__)
    text = "".join(printed).lower()
    for value in ("s3cret", "jane", "example.com", *secrets):
        assert value.lower() not in text


# --- correction ----------------------------------------------------------------------------------
RECEIPT_KEY = receipt_key(b"k", "helpdesk")


def fix(**values: str) -> list[Correction]:
    return [Correction(attribute, value) for attribute, value in values.items()]


def test_correct_is_a_capability_only_when_the_call_is_mapped(api: Api, connect: Callable[..., HttpConnector]) -> None:
    assert Capability.CORRECT in connect(api.url).capabilities
    plain = {"email": {"category": "contact"}, "name": {"category": "identity"}}
    c = connect(api.url, correct=None, fields=plain)
    assert Capability.CORRECT not in c.capabilities and Capability.ERASE in c.capabilities
    assert Capability.CORRECT not in HttpConnector.capabilities  # the class itself is unchanged
    with pytest.raises(PermanentConnectorError, match="does not support correct"):
        c.plan_correction(c.locate(keys(JANE)), fix(name="Jane Roe"))


def test_plan_correction_lists_each_requested_correctable_field(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url)
    located = c.locate(keys(JANE))
    plan = c.plan_correction(located, fix(phone="+49 30 999", postal_address="1 Main St", name="Jane Roe"))
    assert plan == [CorrectionAction("records", "name", "name", 3), CorrectionAction("records", "phone", "phone", 3)]
    assert c.plan_correction(located, fix(loyalty_tier="gold")) == []  # the system holds no such attribute
    assert c.plan_correction(c.locate(keys("nobody@example.com")), fix(phone="1")) == []
    assert {m for m, _ in api.requests} == {"GET"}  # planning changes nothing


def test_correct_changes_only_differing_records_and_a_second_run_changes_nothing(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url)
    located = c.locate(keys(JANE))
    wanted = fix(phone="+49 30 1")
    plan = c.plan_correction(located, wanted)
    before = api.contacts
    api.log.clear()
    receipt = c.correct(located, plan, wanted)
    # record 1 already holds the number; 3 (none) and 5 (another) change
    assert [(ch.entity, ch.key, ch.field) for ch in receipt.changes] == [("records", "3", "phone"), ("records", "5", "phone")]
    assert receipt.unchanged == 1 and receipt.total == 2 and receipt.counts() == {"records": {"phone": 2}}
    new = value_hash(RECEIPT_KEY, "+49 30 1")
    assert [(ch.old_hash, ch.new_hash) for ch in receipt.changes] == [
        (value_hash(RECEIPT_KEY, None), new),
        (value_hash(RECEIPT_KEY, "+49 30 5"), new),
    ]
    assert api.requests == [
        ("GET", f"{PREFIX}/contacts/1"),
        ("GET", f"{PREFIX}/contacts/3"),
        ("PATCH", f"{PREFIX}/contacts/3"),
        ("GET", f"{PREFIX}/contacts/5"),
        ("PATCH", f"{PREFIX}/contacts/5"),
    ]
    assert api.bodies("PATCH") == [{"phone": "+49 30 1"}, {"phone": "+49 30 1"}]
    after = api.contacts
    for cid in (1, 3, 5):
        assert after[cid] == {**before[cid], "phone": "+49 30 1"}
    for cid in (2, 4, 6):
        assert after[cid] == before[cid]
    # again: everything already holds the value, nothing is sent
    api.log.clear()
    again = c.correct(located, plan, wanted)
    assert again.changes == () and again.unchanged == 3 and again.total == 0
    assert {m for m, _ in api.requests} == {"GET"}
    assert api.contacts == after


def test_an_unapproved_field_is_left_alone(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url)
    located = c.locate(keys(JANE))
    wanted = fix(name="Jane Roe", phone="+49 30 77")
    plan = c.plan_correction(located, wanted)
    assert [a.field for a in plan] == ["name", "phone"]
    approved = [a for a in plan if a.field == "phone"]  # legal approved the phone number only
    receipt = c.correct(located, approved, wanted)
    assert {ch.field for ch in receipt.changes} == {"phone"} and receipt.total == 3
    assert api.bodies("PATCH") == [{"phone": "+49 30 77"}] * 3
    assert [api.contacts[i]["name"] for i in (1, 3, 5)] == ["Jane Doe", "J. Doe", "Jane D."]
    assert c.correct(located, [], wanted).total == 0


def test_an_approval_that_does_not_match_the_map_or_the_request_changes_nothing(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url)
    located = c.locate(keys(JANE))
    wanted = fix(phone="+49 30 77")
    for bad in (
        CorrectionAction("records", "email", "email", 3),  # not correctable
        CorrectionAction("records", "phone", "mobile", 3),  # another attribute than the map's
        CorrectionAction("tickets", "phone", "phone", 3),  # no such entity
    ):
        with pytest.raises(PermanentConnectorError, match="does not match the data map"):
            c.correct(located, [bad], wanted)
    with pytest.raises(PermanentConnectorError, match="asks no new value for name") as info:
        c.correct(located, [CorrectionAction("records", "name", "name", 3)], wanted)
    assert_clean(info.value, "+49 30 77")
    assert not any(m == "PATCH" for m, _ in api.requests)


def test_dotted_fields_are_sent_as_nested_objects(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url)
    located = c.locate(keys(JANE))
    wanted = fix(city="Lyon", phone="+33 4 1")
    receipt = c.correct(located, c.plan_correction(located, wanted), wanted)
    assert receipt.total == 6
    assert api.bodies("PATCH")[0] == {"phone": "+33 4 1", "address": {"city": "Lyon"}}
    assert api.contacts[1]["address"] == {"city": "Lyon", "street": "1 Rue de la Paix"}  # merged, the street kept
    assert api.contacts[2]["address"]["city"] == "Paris"


def test_items_on_the_correct_call_wraps_the_body(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url, correct={"method": "PUT", "path": "/contacts/{id}", "items": "contact"})
    located = c.locate(keys(JANE))
    wanted = fix(name="Jane Roe")
    assert c.correct(located, c.plan_correction(located, wanted), wanted).total == 3
    assert api.bodies("PUT") == [{"contact": {"name": "Jane Roe"}}] * 3
    assert {api.contacts[i]["name"] for i in (1, 3, 5)} == {"Jane Roe"}


def test_a_record_gone_since_it_was_located_counts_nothing(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url)
    located = c.locate(keys(JANE))
    with api.edit() as data:
        del data["contacts"]["3"]
    wanted = fix(phone="+49 30 77")
    receipt = c.correct(located, c.plan_correction(located, wanted), wanted)
    assert [ch.key for ch in receipt.changes] == ["1", "5"] and receipt.unchanged == 0
    assert ("PATCH", f"{PREFIX}/contacts/3") not in api.requests


def test_throttling_and_server_errors_during_correct_are_retried(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url)
    located = c.locate(keys(JANE))
    wanted = fix(phone="+49 30 77")
    plan = c.plan_correction(located, wanted)
    api.only, api.throttle, api.fail = "PATCH", 1, 1  # the first PATCH: 429, then 500, then done
    api.log.clear()
    receipt = c.correct(located, plan, wanted)
    assert receipt.total == 3
    assert [m for m, _ in api.requests] == ["GET", "PATCH", "PATCH", "PATCH", "GET", "PATCH", "GET", "PATCH"]
    assert {api.contacts[i]["phone"] for i in (1, 3, 5)} == {"+49 30 77"}
    # a GET failing during the read is retried too
    api.only, api.fail = "GET", 1
    assert c.correct(located, plan, wanted).unchanged == 3


def test_a_persistent_failure_during_correct_is_retryable_and_clean(api: Api, connect: Callable[..., HttpConnector]) -> None:
    c = connect(api.url, max_retries=1)
    located = c.locate(keys(JANE))
    wanted = fix(phone="+49 30 77")
    plan = c.plan_correction(located, wanted)
    api.only, api.fail = "PATCH", 100
    with pytest.raises(RetryableConnectorError, match="correct: PATCH /contacts/{id}: HTTP 500") as info:
        c.correct(located, plan, wanted)
    assert_clean(info.value, "+49 30 77", "+49 30 1")
    assert api.contacts[1]["phone"] == "+49 30 1"
    api.fail = 0  # once the API recovers, a rerun finishes the job
    assert c.correct(located, plan, wanted).total == 3


HOSTILE_VALUES = [
    "' OR 1=1 --",
    "../../admin",
    "{id}",
    "%2e%2e%2f",
    '{"admin": true}',
    '", "email": "attacker@evil.test',
    "<script>alert(1)</script>",
    "Zoë Ünïcødé 😀 \u202e",
    "line\nbreak\ttab",
    "\\u0000",
    "x" * 10_000,
]


@pytest.mark.parametrize("hostile", HOSTILE_VALUES)
def test_hostile_new_values_are_stored_literally(api: Api, connect: Callable[..., HttpConnector], hostile: str) -> None:
    c = connect(api.url)
    located = c.locate(keys(JANE))
    wanted = fix(name=hostile)
    before = api.contacts
    receipt = c.correct(located, c.plan_correction(located, wanted), wanted)
    assert receipt.total == 3
    assert api.bodies("PATCH") == [{"name": hostile}] * 3
    assert [p for m, p in api.requests if m == "PATCH"] == [f"{PREFIX}/contacts/{i}" for i in (1, 3, 5)]
    after = api.contacts
    for cid in (1, 3, 5):
        assert after[cid] == {**before[cid], "name": hostile}  # exactly the value; no other field touched
    for cid in (2, 4, 6):
        assert after[cid] == before[cid]
    assert [r.fields["name"] for r in c.export(located)] == [hostile] * 3
    assert c.correct(located, c.plan_correction(located, wanted), wanted).unchanged == 3


def test_the_receipt_and_the_log_hold_no_plain_values(
    api: Api, connect: Callable[..., HttpConnector], caplog: pytest.LogCaptureFixture
) -> None:
    c = connect(api.url)
    with caplog.at_level(logging.DEBUG):
        located = c.locate(keys(JANE))
        wanted = fix(name="Janet Newname", phone="+49 30 424242")
        receipt = c.correct(located, c.plan_correction(located, wanted), wanted)
    assert receipt.total == 6
    text = (repr(receipt) + json.dumps([ch.as_json() for ch in receipt.changes]) + caplog.text).lower()
    for value in ("janet", "newname", "424242", "jane doe", "j. doe", "jane d.", "+49 30 1", "+49 30 5", "s3cret", "jane@"):
        assert value not in text
    assert all(ch.old_hash.startswith("hmac-sha256:") and ch.new_hash.startswith("hmac-sha256:") for ch in receipt.changes)
    # keyed per system: another system's receipt hashes the same value differently
    assert value_hash(receipt_key(b"k", "crm"), "+49 30 424242") not in text


# --- the demo helpdesk with the demo company's data map -------------------------------------------
DEMO_JANE = "jane.doe@example.com"


def test_the_demo_helpdesk_map_locates_exports_corrects_and_erases_a_demo_subject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "helpdesk"
    system = load_system_map(ROOT / "connectors" / "helpdesk.yaml")
    assert isinstance(system, HttpSystem)
    with start_helpdesk(folder, "demo-t0ken") as helpdesk:
        env = helpdesk.environment()
        assert set(env) == {"DSAR_DEMO_HELPDESK_URL", "DSAR_DEMO_HELPDESK_TOKEN"} and env["DSAR_DEMO_HELPDESK_URL"].endswith("/api")
        monkeypatch.setenv("DSAR_DEMO_HELPDESK_TOKEN", env["DSAR_DEMO_HELPDESK_TOKEN"])
        c = connector_for(system, env, b"k")
        try:
            assert c.check().ok and c.check().warnings == ()
            assert Capability.CORRECT in c.capabilities
            located = c.locate(SubjectKeys(emails=(DEMO_JANE,)))
            assert [m.key for m in located.matches] == ["1", "2"]  # by mail and by chat (another case)
            assert c.locate(SubjectKeys(emails=("lee.chan@example.com",))).matches == ()
            assert c.locate(SubjectKeys(emails=("robin.nobody@example.org",))).matches == ()
            records = list(c.export(located))
            assert [r.fields["email"] for r in records] == [DEMO_JANE, "Jane.Doe@Example.com"]
            assert [len(r.fields["tickets"]) for r in records] == [2, 1]
            assert set(records[0].fields) == {"email", "name", "phone", "company", "created_at", "tickets"}
            assert records[0].categories["tickets"] == "support_history"

            wanted = [Correction("phone", "+49 30 5550101"), Correction("name", "Jane Doe")]
            plan = c.plan_correction(located, wanted)
            assert [(a.field, a.rows) for a in plan] == [("name", 2), ("phone", 2)]
            receipt = c.correct(located, plan, wanted)
            # record 1: the old number changes, the name is right; record 2: both change
            assert sorted((ch.key, ch.field) for ch in receipt.changes) == [("1", "phone"), ("2", "name"), ("2", "phone")]
            assert receipt.unchanged == 1
            assert [(r.fields["name"], r.fields["phone"]) for r in c.export(located)] == [("Jane Doe", "+49 30 5550101")] * 2
            assert c.correct(located, plan, wanted).unchanged == 4

            erased = c.erase(located, c.plan_erasure(located))
            assert erased.counts == {"records": {"delete": 2}}
            assert c.erase(located, c.plan_erasure(located)).total == 0
            assert c.locate(SubjectKeys(emails=(DEMO_JANE,))).matches == ()
            assert len(c.locate(SubjectKeys(emails=("max.mustermann@example.de",))).matches) == 1
        finally:
            c.close()
        data = helpdesk.store.snapshot()
        assert not any(t["contact_id"] in (1, 2) for t in data["tickets"].values())  # her tickets went with her
        # the API refuses a missing or wrong token; the health check needs none
        assert httpx.get(helpdesk.url + "/contacts").status_code == 401
        assert httpx.get(helpdesk.url + "/contacts", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(helpdesk.url + "/health").json() == {"status": "ok", "instance": instance_of(folder)}
    # a second run (another process, the same folder) keeps what the first changed
    seed_helpdesk(folder)
    with start_helpdesk(folder, "another-t0ken") as again:
        contacts = again.store.snapshot()["contacts"]
        assert not any(v["email"].lower() == DEMO_JANE for v in contacts.values())
        assert any(v["email"] == "jane.doe@example.org" for v in contacts.values())  # another Jane Doe, untouched
        assert httpx.get(again.url, headers={"Authorization": again.auth_value}).status_code == 200
    assert sorted(p.name for p in folder.iterdir()) == ["helpdesk.json"]  # no temporary file left behind


def test_the_demo_helpdesk_pages_with_a_cursor_and_refuses_bad_patches(tmp_path: Path) -> None:
    with start_helpdesk(tmp_path, "demo-t0ken", page_size=5) as helpdesk:
        auth = {"Authorization": helpdesk.auth_value}
        ids: list[int] = []
        cursor: str | None = None
        while True:
            params = {"cursor": cursor} if cursor else {}
            body = httpx.get(helpdesk.url + "/contacts", headers=auth, params=params).json()
            ids += [r["id"] for r in body["data"]]
            assert all("internal_notes" not in r for r in body["data"])
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert ids == sorted(ids) and len(ids) == len(helpdesk.store.snapshot()["contacts"]) > 5
        assert httpx.get(helpdesk.url + "/contacts", headers=auth, params={"email": ""}).json()["data"] == []
        url = helpdesk.url + "/contacts/1"
        bad: Any
        for bad in ({"id": 9}, {"internal_notes": "x"}, {"phone": 5}, {"address": "x"}, []):
            assert httpx.patch(url, headers=auth, json=bad).status_code == 422
        assert httpx.patch(url, headers=auth, content=b"{not json").status_code == 400
        assert httpx.patch(helpdesk.url + "/contacts/999", headers=auth, json={"name": "x"}).status_code == 404
        assert httpx.delete(helpdesk.url + "/contacts/999", headers=auth).status_code == 404
        assert httpx.patch(url, headers=auth, json={"phone": None}).json()["data"]["phone"] is None
