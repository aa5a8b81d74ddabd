"""The repository contract: what every implementation of the ports in
:mod:`dsar.services.ports` does, written against the Protocols only and run over the in-memory
implementation and the SQL one on SQLite and PostgreSQL (``uow_factory`` in conftest.py).

Times read back are compared as instants (a backend may hand back UTC without its zone).
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dsar.audit.chain import GENESIS, first_broken
from dsar.domain.alerts import NewAlert
from dsar.domain.deadlines import Deadline
from dsar.domain.decisions import SIGN_OFF_STEP, manual_step_key
from dsar.domain.errors import IntegrityError, NotFound
from dsar.domain.events import (
    CheckpointRecord,
    DeadlineExtended,
    HoldChanged,
    KeyShredded,
    LetterSent,
    RequestLogged,
    StatusChanged,
)
from dsar.domain.letters import SentLetter
from dsar.domain.plan import (
    CorrectionAction,
    CorrectStep,
    EraseStep,
    ErasureAction,
    ErasureKind,
    ExportStep,
    ManualStep,
    Operation,
    Receipt,
)
from dsar.domain.regimes import AccessScope, RequestType
from dsar.domain.request import (
    ANSWERING,
    AgentKind,
    AuthorizedAgent,
    Channel,
    Correction,
    PrivacyRequest,
    Status,
    SubjectIdentity,
    format_reference,
)
from dsar.domain.verification_case import CaseState, VerificationCase
from dsar.domain.verification_policy import Level, Requirement
from dsar.services.ports import RequestQuery, UnitOfWork, UnitOfWorkFactory

SHREDDED = "[shredded]"  # the subject's name once the request's key is destroyed
NOT_OPENED = "[not opened]"  # ... and when read without its personal data
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DUE = date(2026, 4, 2)


def instant(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def a_request(
    number: int,
    *,
    name: str = "Jane Doe",
    emails: tuple[str, ...] = ("jane@example.com",),
    account_id: str | None = None,
    type: RequestType = RequestType.ACCESS,
    regime: str = "gdpr",
    logged_at: datetime = T0,
    status: Status = Status.RECEIVED,
    linked_to: str | None = None,
) -> PrivacyRequest:
    return PrivacyRequest(
        id=uuid.uuid4().hex,
        reference=format_reference(2026, number),
        type=type,
        regime=regime,
        country="DE",
        subdivision=None,
        channel=Channel.WEB,
        received_at=logged_at,
        subject=SubjectIdentity(name=name, emails=emails, account_id=account_id),
        due=DUE,
        status=status,
        logged_at=logged_at,
        linked_to=linked_to,
    )


def add(uow: UnitOfWork, r: PrivacyRequest, due: date = DUE, acknowledge_by: date | None = None) -> PrivacyRequest:
    uow.requests.add(r, Deadline(due, acknowledge_by, due, due + timedelta(days=61), due), T0)
    return r


def stored(factory: UnitOfWorkFactory, *requests: PrivacyRequest) -> None:
    with factory() as uow:
        for r in requests:
            add(uow, r)
        uow.commit()


# --- requests -------------------------------------------------------------------------------


def test_a_request_reads_back_with_its_personal_data(uow_factory: UnitOfWorkFactory) -> None:
    r = PrivacyRequest(
        id=uuid.uuid4().hex,
        reference=format_reference(2026, 1),
        type=RequestType.CORRECTION,
        regime="ccpa",
        country="US",
        subdivision="CA",
        channel=Channel.EMAIL,
        received_at=T0,
        subject=SubjectIdentity(
            name="Jane Doe",
            emails=("jane@example.com", "j@example.org"),
            phone="+1 415 555 0100",
            postal_address="1 Main St",
            account_id="C-1",
            extra=(("loyalty", "L-9"),),
        ),
        due=DUE,
        access_scope=AccessScope.CATEGORIES,
        agent=AuthorizedAgent("Agent A", "agent@example.com", AgentKind.POWER_OF_ATTORNEY, "Agency"),
        status=Status.VERIFIED,
        on_hold=True,
        logged_at=T0 + timedelta(minutes=5),
        corrections=(Correction("phone", "+1 415 555 0199"),),
    )
    with uow_factory() as uow:
        add(uow, r)
        uow.commit()
    with uow_factory() as uow:
        got = uow.requests.get(r.id)
    assert got.subject == r.subject
    assert (got.agent, got.corrections, got.access_scope) == (r.agent, r.corrections, r.access_scope)
    assert (got.reference, got.type, got.regime, got.country, got.subdivision, got.channel) == (
        r.reference,
        r.type,
        r.regime,
        r.country,
        r.subdivision,
        r.channel,
    )
    assert (got.status, got.on_hold, got.due, got.linked_to) == (Status.VERIFIED, True, DUE, None)
    assert instant(got.received_at) == T0
    assert instant(got.logged_at) == T0 + timedelta(minutes=5)


def test_a_request_without_a_logged_time_is_logged_at_the_time_it_is_added(uow_factory: UnitOfWorkFactory) -> None:
    r = replace(a_request(1), logged_at=None)
    with uow_factory() as uow:
        uow.requests.add(r, Deadline(DUE), T0 + timedelta(hours=1))
        assert instant(uow.requests.get(r.id).logged_at) == T0 + timedelta(hours=1)


def test_facts_give_the_request_without_its_personal_data(uow_factory: UnitOfWorkFactory) -> None:
    r = replace(a_request(1, account_id="C-1"), agent=AuthorizedAgent("Agent A"), corrections=(Correction("phone", "1"),))
    stored(uow_factory, r)
    with uow_factory() as uow:
        facts = uow.requests.facts(r.id)
        assert uow.requests.is_shredded(r.id) is False
    assert facts.subject == SubjectIdentity(name=NOT_OPENED)
    assert (facts.agent, facts.corrections) == (None, ())
    assert (facts.id, facts.reference, facts.type, facts.regime, facts.status, facts.due) == (
        r.id,
        r.reference,
        r.type,
        r.regime,
        r.status,
        DUE,
    )


def test_an_unknown_request_is_not_found(uow_factory: UnitOfWorkFactory) -> None:
    ghost = a_request(99)
    with uow_factory() as uow:
        with pytest.raises(NotFound):
            uow.requests.get(ghost.id)
        with pytest.raises(NotFound):
            uow.requests.facts(ghost.id)
        with pytest.raises(NotFound):
            uow.requests.id_for_reference(ghost.reference)
        with pytest.raises(NotFound):
            uow.requests.save_state(ghost, T0)
        with pytest.raises(NotFound):
            uow.requests.flow_run_id(ghost.id)
        with pytest.raises(NotFound):
            uow.deadlines.get(ghost.id)
        with pytest.raises(NotFound):
            uow.deadlines.mark_acknowledged(ghost.id, T0)
        with pytest.raises(NotFound):
            uow.requests.shred(ghost.id, T0)


def test_a_reference_finds_its_request_id(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(7)
    stored(uow_factory, r)
    with uow_factory() as uow:
        assert uow.requests.id_for_reference("DSR-2026-000007") == r.id


def test_reference_numbers_count_up_within_a_year_and_each_year_starts_at_one(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert [uow.requests.next_reference_number(2026) for _ in range(3)] == [1, 2, 3]
        assert uow.requests.next_reference_number(2027) == 1
        uow.commit()
    with uow_factory() as uow:
        assert uow.requests.next_reference_number(2026) == 4
        assert uow.requests.next_reference_number(2027) == 2


def test_saving_the_state_changes_status_and_hold_only(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        changed = replace(r, status=Status.VERIFIED, on_hold=True, subject=SubjectIdentity("Someone Else"), regime="ccpa")
        uow.requests.save_state(changed, T0 + timedelta(hours=1))
        uow.commit()
    with uow_factory() as uow:
        got = uow.requests.get(r.id)
    assert (got.status, got.on_hold) == (Status.VERIFIED, True)
    assert (got.subject, got.regime) == (r.subject, "gdpr")


def test_a_flow_run_id_is_remembered(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        assert uow.requests.flow_run_id(r.id) is None
        uow.requests.set_flow_run(r.id, "run-123")
        uow.commit()
    with uow_factory() as uow:
        assert uow.requests.flow_run_id(r.id) == "run-123"


def test_a_query_lists_soonest_due_first_then_by_reference(uow_factory: UnitOfWorkFactory) -> None:
    late, early_b, early_a = a_request(1), a_request(3), a_request(2)
    with uow_factory() as uow:
        add(uow, late, due=DUE + timedelta(days=10))
        add(uow, early_b, due=DUE)
        add(uow, early_a, due=DUE)
        uow.commit()
    with uow_factory() as uow:
        listed = uow.requests.query(RequestQuery())
    assert [r.reference for r in listed] == [early_a.reference, early_b.reference, late.reference]


def test_a_query_filters_by_status_and_due_before_and_stops_at_its_limit(uow_factory: UnitOfWorkFactory) -> None:
    rs = [a_request(i) for i in range(1, 6)]
    with uow_factory() as uow:
        for i, r in enumerate(rs):
            add(uow, r, due=DUE + timedelta(days=i))
        uow.requests.save_state(replace(rs[1], status=Status.VERIFIED), T0)
        uow.requests.save_state(replace(rs[3], status=Status.VERIFIED), T0)
        uow.commit()
    with uow_factory() as uow:
        verified = uow.requests.query(RequestQuery(status=Status.VERIFIED))
        before = uow.requests.query(RequestQuery(due_before=DUE + timedelta(days=2)))
        first_two = uow.requests.query(RequestQuery(limit=2))
        both = uow.requests.query(RequestQuery(status=Status.RECEIVED, due_before=DUE + timedelta(days=3)))
    assert [r.id for r in verified] == [rs[1].id, rs[3].id]
    assert [r.id for r in before] == [rs[0].id, rs[1].id]  # strictly before
    assert [r.id for r in first_two] == [rs[0].id, rs[1].id]
    assert [r.id for r in both] == [rs[0].id, rs[2].id]


def test_a_query_filters_by_regime_and_continues_after_a_due_date_and_reference(uow_factory: UnitOfWorkFactory) -> None:
    rs = [a_request(i, regime="ccpa" if i == 3 else "gdpr") for i in range(1, 6)]
    with uow_factory() as uow:
        for i, r in enumerate(rs):
            add(uow, r, due=DUE + timedelta(days=i // 2))  # due: 0, 0, 1, 1, 2 days after DUE
        uow.commit()
    with uow_factory() as uow:
        ccpa = uow.requests.query(RequestQuery(regime="ccpa"))
        gdpr = uow.requests.query(RequestQuery(regime="gdpr"))
        page1 = uow.requests.query(RequestQuery(limit=2))
        page2 = uow.requests.query(RequestQuery(limit=2, after=(DUE, rs[1].reference)))
        page3 = uow.requests.query(RequestQuery(limit=2, after=(DUE + timedelta(days=1), rs[3].reference)))
        mid_day = uow.requests.query(RequestQuery(after=(DUE + timedelta(days=1), rs[2].reference), regime="gdpr"))
    assert [r.id for r in ccpa] == [rs[2].id]
    assert [r.id for r in gdpr] == [rs[0].id, rs[1].id, rs[3].id, rs[4].id]
    assert [r.id for r in page1 + page2 + page3] == [r.id for r in rs]
    assert [r.id for r in mid_day] == [rs[3].id, rs[4].id]


def test_a_query_filters_by_regime_type_and_reference_a_page_at_a_time(uow_factory: UnitOfWorkFactory) -> None:
    gdpr_access = a_request(1)
    ccpa_access = a_request(2, regime="ccpa")
    gdpr_deletion = a_request(3, type=RequestType.DELETION)
    with uow_factory() as uow:
        for i, r in enumerate((gdpr_access, ccpa_access, gdpr_deletion)):
            add(uow, r, due=DUE + timedelta(days=i))
        uow.commit()
    with uow_factory() as uow:
        ccpa = uow.requests.query(RequestQuery(regime="ccpa"))
        deletions = uow.requests.query(RequestQuery(request_type=RequestType.DELETION))
        one = uow.requests.query(RequestQuery(reference=gdpr_deletion.reference))
        none = uow.requests.query(RequestQuery(regime="ccpa", request_type=RequestType.DELETION))
        second_page = uow.requests.query(RequestQuery(limit=2, offset=2))
        past_the_end = uow.requests.query(RequestQuery(offset=3))
    assert [r.id for r in ccpa] == [ccpa_access.id]
    assert [r.id for r in deletions] == [gdpr_deletion.id]
    assert [r.id for r in one] == [gdpr_deletion.id]
    assert none == [] and past_the_end == []
    assert [r.id for r in second_page] == [gdpr_deletion.id]


def test_a_query_gives_requests_without_their_personal_data(uow_factory: UnitOfWorkFactory) -> None:
    stored(uow_factory, a_request(1))
    with uow_factory() as uow:
        (listed,) = uow.requests.query(RequestQuery())
    assert listed.subject == SubjectIdentity(name=NOT_OPENED)


def verified(factory: UnitOfWorkFactory, *pairs: tuple[PrivacyRequest, str | None]) -> None:
    """Store requests, each recorded as verified with its contact (None: never verified)."""
    with factory() as uow:
        for r, contact in pairs:
            add(uow, r)
            if contact is not None:
                uow.requests.record_verified_contact(r.id, contact)
        uow.commit()


def test_requests_verified_with_a_contact_are_found_by_it_earliest_received_first(uow_factory: UnitOfWorkFactory) -> None:
    jane = "jane@example.com"
    a = a_request(1, status=Status.VERIFIED, logged_at=T0)
    b = a_request(2, status=Status.CLOSED, logged_at=T0 + timedelta(hours=1))
    c = a_request(3, status=Status.PLANNING, logged_at=T0 + timedelta(hours=2))
    other = a_request(4, status=Status.VERIFIED, emails=("other@example.com", jane))
    unverified = a_request(5, status=Status.VERIFIED)  # gave jane's address, never verified with it
    verified(uow_factory, (c, jane), (other, "other@example.com"), (a, jane), (unverified, None), (b, jane))
    with uow_factory() as uow:
        found = uow.requests.verified_with(jane, RequestType.ACCESS, "gdpr", T0 - timedelta(hours=1), T0 + timedelta(hours=3))
        inclusive = uow.requests.verified_with(jane, RequestType.ACCESS, "gdpr", T0 + timedelta(hours=1), T0 + timedelta(hours=2))
        nobody = uow.requests.verified_with("nobody@example.com", RequestType.ACCESS, "gdpr", T0 - timedelta(days=9), T0)
    assert [r.id for r in found] == [a.id, b.id, c.id]
    assert {r.subject.name for r in found} == {NOT_OPENED}  # nothing decrypted
    assert [r.id for r in inclusive] == [b.id, c.id] and nobody == []


def test_verified_with_skips_other_types_regimes_linked_and_unanswering_requests(uow_factory: UnitOfWorkFactory) -> None:
    jane = "jane@example.com"
    first = a_request(1, status=Status.EXECUTING)
    pairs: list[tuple[PrivacyRequest, str | None]] = [(first, jane)]
    pairs += [(a_request(2, status=Status.VERIFIED, type=RequestType.DELETION), jane)]
    pairs += [(a_request(3, status=Status.VERIFIED, regime="uk-gdpr"), jane)]
    pairs += [(a_request(4, status=Status.WITHDRAWN, linked_to=first.id), jane)]
    pairs += [(a_request(10 + n, status=s), jane) for n, s in enumerate(Status) if s not in ANSWERING]
    verified(uow_factory, *pairs)
    with uow_factory() as uow:
        found = uow.requests.verified_with(jane, RequestType.ACCESS, "gdpr", T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [r.id for r in found] == [first.id]


def test_the_received_window_compares_instants_whatever_the_zone_received_in(uow_factory: UnitOfWorkFactory) -> None:
    berlin = replace(a_request(1, status=Status.VERIFIED), received_at=T0.astimezone(ZoneInfo("Europe/Berlin")))
    verified(uow_factory, (berlin, "jane@example.com"))
    with uow_factory() as uow:
        at = uow.requests.verified_with("jane@example.com", RequestType.ACCESS, "gdpr", T0, T0)
        local = T0.astimezone(ZoneInfo("America/Los_Angeles"))  # bounds in another zone: the same instant
        assert [r.id for r in uow.requests.verified_with("jane@example.com", RequestType.ACCESS, "gdpr", local, local)] == [berlin.id]
        earlier = (T0 - timedelta(hours=2), T0 - timedelta(minutes=1))
        before = uow.requests.verified_with("jane@example.com", RequestType.ACCESS, "gdpr", *earlier)
    assert [r.id for r in at] == [berlin.id] and before == []


def test_a_verified_contact_recorded_again_is_kept_once_and_an_unknown_request_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1, status=Status.VERIFIED)
    verified(uow_factory, (r, "jane@example.com"))
    with uow_factory() as uow:
        uow.requests.record_verified_contact(r.id, "jane@example.com")
        uow.commit()
    with uow_factory() as uow:
        found = uow.requests.verified_with("jane@example.com", RequestType.ACCESS, "gdpr", T0, T0)
        with pytest.raises(NotFound):
            uow.requests.record_verified_contact(uuid.uuid4().hex, "jane@example.com")
    assert [x.id for x in found] == [r.id]


def test_a_link_to_an_earlier_request_is_stored_and_read_back(uow_factory: UnitOfWorkFactory) -> None:
    first, second = a_request(1, status=Status.VERIFIED), a_request(2, status=Status.VERIFIED)
    verified(uow_factory, (first, "jane@example.com"), (second, "jane@example.com"))
    with uow_factory() as uow:
        uow.requests.link(second.id, first.id)
        uow.commit()
    with uow_factory() as uow:
        assert uow.requests.facts(second.id).linked_to == first.id
        assert uow.requests.get(second.id).linked_to == first.id and uow.requests.get(first.id).linked_to is None
        # a linked request is nobody's original
        found = uow.requests.verified_with("jane@example.com", RequestType.ACCESS, "gdpr", T0, T0)
        assert [r.id for r in found] == [first.id]
        with pytest.raises(NotFound):
            uow.requests.link(second.id, uuid.uuid4().hex)
    with uow_factory() as uow:
        with pytest.raises(NotFound):
            uow.requests.link(uuid.uuid4().hex, first.id)


def test_a_link_is_undone_with_its_unit_of_work(uow_factory: UnitOfWorkFactory) -> None:
    first, second = a_request(1, status=Status.VERIFIED), a_request(2, status=Status.VERIFIED)
    verified(uow_factory, (first, "jane@example.com"), (second, None))
    with uow_factory() as uow:
        uow.requests.link(second.id, first.id)
        uow.requests.record_verified_contact(second.id, "jane@example.com")  # no commit
    with uow_factory() as uow:
        assert uow.requests.facts(second.id).linked_to is None
        found = uow.requests.verified_with("jane@example.com", RequestType.ACCESS, "gdpr", T0, T0)
    assert [r.id for r in found] == [first.id]


def test_references_count_and_shredded_answer_for_the_ids_asked(uow_factory: UnitOfWorkFactory) -> None:
    a, b = a_request(1), a_request(2)
    stored(uow_factory, a, b)
    with uow_factory() as uow:
        uow.requests.shred(b.id, T0)
        assert uow.requests.references({a.id, b.id, "nope"}) == {a.id: a.reference, b.id: b.reference}
        assert uow.requests.references(set()) == {}
        assert uow.requests.shredded({a.id, b.id, "nope"}) == {b.id}
        assert uow.requests.count() == 2


def test_shred_candidates_are_finished_requests_past_retention_whose_key_remains(uow_factory: UnitOfWorkFactory) -> None:
    closed_late, withdrawn_early, failed, open_, shredded, recent = (a_request(i) for i in range(1, 7))
    stored(uow_factory, closed_late, withdrawn_early, failed, open_, shredded, recent)
    with uow_factory() as uow:
        uow.requests.save_state(replace(closed_late, status=Status.CLOSED), T0 + timedelta(days=2))
        uow.requests.save_state(replace(withdrawn_early, status=Status.WITHDRAWN), T0 + timedelta(days=1))
        uow.requests.save_state(replace(failed, status=Status.FAILED), T0)  # still owes an answer
        uow.requests.save_state(replace(shredded, status=Status.DENIED), T0)
        uow.requests.shred(shredded.id, T0 + timedelta(days=3))
        uow.requests.save_state(replace(recent, status=Status.CLOSED), T0 + timedelta(days=30))
        uow.commit()
    with uow_factory() as uow:
        assert uow.requests.shred_candidates(T0 + timedelta(days=10)) == [
            (withdrawn_early.id, withdrawn_early.reference),
            (closed_late.id, closed_late.reference),
        ]


def test_the_retention_clock_starts_when_a_request_is_first_finished(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        uow.requests.save_state(replace(r, status=Status.CLOSED), T0)
        uow.requests.save_state(replace(r, status=Status.CLOSED, on_hold=False), T0 + timedelta(days=20))
        assert uow.requests.shred_candidates(T0 + timedelta(days=1)) == [(r.id, r.reference)]


def test_shredding_destroys_the_personal_data_and_keeps_the_facts_and_the_chain(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        uow.audit.append([RequestLogged(r.id, T0, r.reference, "access", "gdpr", "web")])
        sealed = uow.keys.seal(r.id, b"export", "export/1")
        uow.decisions.record(r.id, SIGN_OFF_STEP, "approve", "legal@example.com", None, T0)
        uow.commit()
    with uow_factory() as uow:
        uow.audit.append([KeyShredded(r.id, T0 + timedelta(days=400), 12)])
        uow.requests.shred(r.id, T0 + timedelta(days=400))
        uow.commit()
    with uow_factory() as uow:
        got = uow.requests.get(r.id)
        assert got.subject == SubjectIdentity(name=SHREDDED)
        assert (got.reference, got.status, got.due) == (r.reference, r.status, DUE)
        assert uow.requests.is_shredded(r.id) is True
        assert uow.requests.facts(r.id).subject == SubjectIdentity(name=SHREDDED)
        assert [x.subject.name for x in uow.requests.query(RequestQuery())] == [SHREDDED]
        assert uow.requests.shredded({r.id}) == {r.id}
        assert [e.details for e in uow.audit.events(r.id)] == [{"shredded": True}, {"shredded": True}]
        assert uow.audit.open_details(next(uow.audit.iter_chain())) == {"shredded": True}
        assert first_broken(uow.audit.iter_chain()) is None
        with pytest.raises(NotFound):
            uow.keys.open(r.id, sealed, "export/1")
        with pytest.raises(NotFound):
            uow.keys.seal(r.id, b"more", "export/2")
        decision = uow.decisions.get(r.id, SIGN_OFF_STEP)
        assert decision is not None and decision.decision == "approve"


def test_events_for_a_shredded_request_cannot_be_appended(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        uow.requests.shred(r.id, T0)
        with pytest.raises(NotFound):
            uow.audit.append([HoldChanged(r.id, T0, True, "x")])


# --- deadlines and pauses -------------------------------------------------------------------


def test_the_stored_deadline_reads_back_with_the_due_date_as_the_statutory_one(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    with uow_factory() as uow:
        uow.requests.add(r, Deadline(DUE, date(2026, 3, 16), date(2026, 4, 1), date(2026, 6, 2)), T0)
        uow.commit()
    with uow_factory() as uow:
        d = uow.deadlines.get(r.id)
    assert (d.due, d.acknowledge_by, d.extension_notice_by, d.extended_due, d.statutory_due) == (
        DUE,
        date(2026, 3, 16),
        date(2026, 4, 1),
        date(2026, 6, 2),
        DUE,
    )
    assert (d.extended, d.paused_days, d.clock_stopped, d.acknowledged_at) == (False, 0, False, None)


def test_saving_a_deadline_moves_the_due_date_and_keeps_the_statutory_one(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    moved = date(2026, 6, 2)
    with uow_factory() as uow:
        old = uow.deadlines.get(r.id)
        uow.deadlines.save(r.id, replace(old, due=moved, extended=True, paused_days=3, clock_stopped=True, statutory_due=date(2030, 1, 1)))
        uow.commit()
    with uow_factory() as uow:
        d = uow.deadlines.get(r.id)
        assert (d.due, d.statutory_due, d.extended, d.paused_days, d.clock_stopped) == (moved, DUE, True, 3, True)
        assert uow.requests.facts(r.id).due == moved
        assert uow.requests.get(r.id).due == moved


def test_receipt_is_acknowledged_once_and_the_first_time_counts(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        assert uow.deadlines.mark_acknowledged(r.id, T0 + timedelta(hours=1)) is True
        assert uow.deadlines.mark_acknowledged(r.id, T0 + timedelta(hours=2)) is False
        uow.commit()
    with uow_factory() as uow:
        assert instant(uow.deadlines.get(r.id).acknowledged_at) == T0 + timedelta(hours=1)


def test_pauses_are_listed_in_the_order_asked_with_their_reasons_and_answers(uow_factory: UnitOfWorkFactory) -> None:
    r, other = a_request(1), a_request(2)
    stored(uow_factory, r, other)
    with uow_factory() as uow:
        first = uow.deadlines.add_pause(r.id, date(2026, 3, 3), "asked for ID", T0)
        uow.deadlines.add_pause(other.id, date(2026, 3, 3), None, T0)
        second = uow.deadlines.add_pause(r.id, date(2026, 3, 10), None, T0)
        uow.deadlines.answer_pause(first, date(2026, 3, 5))
        uow.commit()
    with uow_factory() as uow:
        pauses = uow.deadlines.pauses(r.id)
        assert uow.deadlines.pauses(a_request(3).id) == []
    assert [(p.id, p.asked_on, p.answered_on, p.reason) for p in pauses] == [
        (first, date(2026, 3, 3), date(2026, 3, 5), "asked for ID"),
        (second, date(2026, 3, 10), None, None),
    ]
    assert first != second


def test_answering_an_unknown_pause_is_not_found(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.deadlines.answer_pause(424242, date(2026, 3, 5))


# --- the audit log --------------------------------------------------------------------------


def test_an_empty_log_has_the_genesis_head_and_no_checkpoint(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.audit.head() == (0, GENESIS)
        assert list(uow.audit.iter_chain()) == []
        assert uow.audit.checkpoints() == []
        assert uow.audit.latest_checkpoint() is None
        assert uow.audit.append([]) == 0


def test_events_come_back_in_order_with_their_payloads_opened(uow_factory: UnitOfWorkFactory) -> None:
    r, other = a_request(1), a_request(2)
    stored(uow_factory, r, other)
    berlin = T0.astimezone(ZoneInfo("Europe/Berlin"))
    with uow_factory() as uow:
        n = uow.audit.append(
            [
                RequestLogged(r.id, berlin, r.reference, "access", "gdpr", "web"),
                RequestLogged(other.id, T0, other.reference, "access", "gdpr", "web"),
                StatusChanged(r.id, T0 + timedelta(minutes=1), "request_verification", "received", "awaiting_verification"),
            ]
        )
        assert n == 3
        uow.commit()
    with uow_factory() as uow:
        events = uow.audit.events(r.id)
        assert uow.audit.events(a_request(3).id) == []
    assert [(e.seq, e.kind) for e in events] == [(1, "RequestLogged"), (3, "StatusChanged")]
    assert events[0].details == {"reference": r.reference, "type": "access", "regime": "gdpr", "channel": "web"}
    assert events[1].details == {"move": "request_verification", "from": "received", "to": "awaiting_verification"}
    assert instant(events[0].at) == T0


def test_the_requests_with_an_event_of_a_kind_are_found_once_each(uow_factory: UnitOfWorkFactory) -> None:
    r, other, third = a_request(1), a_request(2), a_request(3)
    stored(uow_factory, r, other, third)
    with uow_factory() as uow:
        uow.audit.append(
            [
                RequestLogged(r.id, T0, r.reference, "access", "gdpr", "web"),
                RequestLogged(other.id, T0, other.reference, "access", "gdpr", "web"),
                HoldChanged(r.id, T0, True, "first"),
                HoldChanged(r.id, T0 + timedelta(minutes=1), False, "second"),
                HoldChanged(third.id, T0, True, "third"),
            ]
        )
        uow.commit()
    with uow_factory() as uow:
        assert uow.audit.request_ids_with("HoldChanged") == sorted([r.id, third.id])
        assert uow.audit.request_ids_with("RequestLogged") == sorted([r.id, other.id])
        assert uow.audit.request_ids_with("EscalationRaised") == []


def test_an_event_whose_key_the_log_holds_is_not_appended_again(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    extended = DeadlineExtended(r.id, T0, DUE, DUE + timedelta(days=61), "dpo", "complex")
    with uow_factory() as uow:
        assert uow.audit.append([extended]) == 1
        uow.commit()
    with uow_factory() as uow:
        again = replace(extended, at=T0 + timedelta(days=1), reason="re-run")  # same key: {id}:extended
        assert uow.audit.append([again, HoldChanged(r.id, T0, True, "check")]) == 1
        uow.commit()
    with uow_factory() as uow:
        events = uow.audit.events(r.id)
        assert [e.kind for e in events] == ["DeadlineExtended", "HoldChanged"]
        assert events[0].details["reason"] == "complex"
        assert uow.audit.head()[0] == 2


def test_repeats_within_one_batch_are_appended_once(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    letter = LetterSent(r.id, T0, "access_response", "t.txt", "m@dsar")
    with uow_factory() as uow:
        assert uow.audit.append([letter, replace(letter, at=T0 + timedelta(seconds=1)), letter]) == 1
        assert len(uow.audit.events(r.id)) == 1


def test_the_chain_head_follows_the_last_event_and_the_chain_verifies(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        uow.audit.append([HoldChanged(r.id, T0 + timedelta(minutes=i), i % 2 == 0, f"held for reason number {i}") for i in range(5)])
        uow.commit()
    with uow_factory() as uow:
        chain = list(uow.audit.iter_chain())
        size, head = uow.audit.head()
    assert [e.seq for e in chain] == [1, 2, 3, 4, 5]
    assert (size, head) == (5, chain[-1].hash)
    assert chain[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))
    assert first_broken(chain) is None
    # sealed at rest (a reason long enough that random ciphertext never holds it by chance: a
    # two-byte one did, about once in a thousand runs)
    assert b"held for reason number 0" not in chain[0].details_enc


def test_iterating_the_chain_gives_the_range_asked_for(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        uow.audit.append([HoldChanged(r.id, T0 + timedelta(minutes=i), True, str(i)) for i in range(6)])
        assert [e.seq for e in uow.audit.iter_chain(3)] == [3, 4, 5, 6]
        assert [e.seq for e in uow.audit.iter_chain(2, 4)] == [2, 3, 4]
        assert [e.seq for e in uow.audit.iter_chain(7)] == []
        assert uow.audit.open_details(next(uow.audit.iter_chain(4, 4))) == {"on_hold": "true", "reason": "3"}


def test_event_seqs_filter_by_request_by_time_and_up_to_a_size(uow_factory: UnitOfWorkFactory) -> None:
    a, b = a_request(1), a_request(2)
    stored(uow_factory, a, b)
    with uow_factory() as uow:
        uow.audit.append([HoldChanged((a, b)[i % 2].id, T0 + timedelta(hours=i), True, str(i)) for i in range(6)])
        seqs = uow.audit.event_seqs
        assert seqs(None, None, None, 6) == [1, 2, 3, 4, 5, 6]
        assert seqs(None, None, None, 4) == [1, 2, 3, 4]
        assert seqs([a.id], None, None, 6) == [1, 3, 5]
        assert seqs([a.id, b.id], T0 + timedelta(hours=1), T0 + timedelta(hours=4), 6) == [2, 3, 4]  # since inclusive, until not
        assert seqs([], None, None, 6) == []


def test_checkpoints_are_kept_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    cps = [
        CheckpointRecord(i, f"{i:064x}", f"{i + 1:064x}", T0 + timedelta(days=i), "ed25519:k", f"statement {i}", f"sig{i}", a)
        for i, a in ((1, None), (2, "s3://bucket/cp-2?versionId=1"))
    ]
    with uow_factory() as uow:
        for cp in cps:
            uow.audit.add_checkpoint(cp)
        uow.commit()
    with uow_factory() as uow:
        got = uow.audit.checkpoints()
        latest = uow.audit.latest_checkpoint()
    assert [replace(c, signed_at=instant(c.signed_at)) for c in got] == cps
    assert latest is not None and latest.tree_size == 2 and latest.archived_as == "s3://bucket/cp-2?versionId=1"


# --- challenges, decisions, plans, receipts, letters -----------------------------------------


def test_the_latest_challenge_is_the_newest_and_attempts_are_counted(uow_factory: UnitOfWorkFactory) -> None:
    r, other = a_request(1), a_request(2)
    stored(uow_factory, r, other)
    with uow_factory() as uow:
        assert uow.challenges.latest(r.id) is None
        first = uow.challenges.add(r.id, "email", "d1", T0, T0 + timedelta(hours=72))
        second = uow.challenges.add(r.id, "email", "d2", T0 + timedelta(hours=1), T0 + timedelta(hours=73))
        uow.challenges.add(other.id, "email", "d3", T0 + timedelta(hours=2), T0 + timedelta(hours=74))
        assert (first.attempts, first.consumed_at, first.code_digest) == (0, None, "d1")
        uow.commit()
    with uow_factory() as uow:
        latest = uow.challenges.latest(r.id)
        assert latest is not None
        assert (latest.id, latest.channel, latest.code_digest, latest.attempts) == (second.id, "email", "d2", 0)
        assert (uow.challenges.count(r.id), uow.challenges.count(other.id), uow.challenges.count("no-such-request")) == (2, 1, 0)
        assert instant(latest.expires_at) == T0 + timedelta(hours=73)
        uow.challenges.record_attempt(second.id, consumed_at=None)
        uow.challenges.record_attempt(second.id, consumed_at=T0 + timedelta(hours=2))
        uow.commit()
    with uow_factory() as uow:
        latest = uow.challenges.latest(r.id)
        assert latest is not None
        assert (latest.attempts, instant(latest.consumed_at)) == (2, T0 + timedelta(hours=2))


def test_the_codes_of_ended_requests_are_found_and_deleted_per_request(uow_factory: UnitOfWorkFactory) -> None:
    ended, waiting, withdrawn = a_request(1, status=Status.CLOSED), a_request(2), a_request(3, status=Status.WITHDRAWN)
    stored(uow_factory, ended, waiting, withdrawn)
    with uow_factory() as uow:
        for r in (ended, ended, waiting, withdrawn):
            uow.challenges.add(r.id, "email", "d", T0, T0 + timedelta(hours=72))
        uow.commit()
    with uow_factory() as uow:
        assert sorted(uow.challenges.of_ended_requests(10)) == sorted([ended.id, withdrawn.id])
        assert len(uow.challenges.of_ended_requests(1)) == 1
        assert uow.challenges.delete_for(ended.id) == 2
        assert uow.challenges.delete_for(ended.id) == 0
        uow.commit()
    with uow_factory() as uow:
        assert uow.challenges.of_ended_requests(10) == [withdrawn.id]
        assert (uow.challenges.count(ended.id), uow.challenges.count(waiting.id)) == (0, 1)


def test_the_cases_of_ended_requests_are_found_until_closed_and_a_closed_case_keeps_its_record(uow_factory: UnitOfWorkFactory) -> None:
    denied, waiting, closed = a_request(1, status=Status.DENIED), a_request(2), a_request(3, status=Status.CLOSED)
    stored(uow_factory, denied, waiting, closed)
    req = Requirement(Level.HIGH, 2, declaration=True)
    with uow_factory() as uow:
        cases = {
            r.id: uow.cases.add(
                VerificationCase(0, r.id, T0, T0 + timedelta(hours=72), True, "email", req, salt="s" * 32, link_digest="l", code_digest="c")
            )
            for r in (denied, waiting, closed)
        }
        uow.cases.save(replace(cases[closed.id], state=CaseState.CLOSED))
        uow.commit()
    with uow_factory() as uow:
        assert uow.cases.of_ended_requests(10) == [denied.id]
        forgotten = replace(cases[denied.id], state=CaseState.CLOSED, salt="", link_digest=None, code_digest=None, declaration=b"kept")
        uow.cases.save(forgotten)
        uow.commit()
    with uow_factory() as uow:
        assert uow.cases.of_ended_requests(10) == []
        got = uow.cases.get(denied.id)
        assert got is not None and (got.state, got.salt, got.link_digest, got.code_digest) == (CaseState.CLOSED, "", None, None)
        assert got.declaration == b"kept" and got.requirement == req


def test_an_attempt_on_an_unknown_challenge_is_not_found(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow, pytest.raises(NotFound):
        uow.challenges.record_attempt(424242, consumed_at=None)


def test_decisions_read_back_per_step_with_their_notes(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        uow.decisions.record(r.id, SIGN_OFF_STEP, "approve", "legal@example.com", "checked the exemptions", T0)
        uow.decisions.record(r.id, manual_step_key("ledger"), "done", "ops@example.com", None, T0 + timedelta(hours=1))
        uow.commit()
    with uow_factory() as uow:
        release = uow.decisions.get(r.id, SIGN_OFF_STEP)
        manual = uow.decisions.get(r.id, manual_step_key("ledger"))
        assert uow.decisions.get(r.id, "extension") is None
    assert release is not None and manual is not None
    assert (release.step, release.decision, release.approver, release.note) == (
        SIGN_OFF_STEP,
        "approve",
        "legal@example.com",
        "checked the exemptions",
    )
    assert (manual.step, manual.decision, manual.note, instant(manual.at)) == ("manual:ledger", "done", None, T0 + timedelta(hours=1))


EVERY_STEP_KIND = [
    ExportStep("crm", 3, ("customer", "order")),
    ExportStep("analytics", 0),
    EraseStep(
        "shop",
        5,
        (
            ErasureAction("customer", ErasureKind.DELETE, 1),
            ErasureAction("order", ErasureKind.ANONYMISE, 3),
            ErasureAction("invoice", ErasureKind.RETAIN, 1, "HGB 257: ten years"),
            ErasureAction("note", ErasureKind.UNMAPPED, 2),
        ),
    ),
    EraseStep("empty", 0),
    CorrectStep("billing", 2, (CorrectionAction("customer", "phone_number", "phone", 2),)),
    CorrectStep("nothing", 1),
    ManualStep("ledger", Operation.ERASE),
    ManualStep("paper", Operation.ERASE, kept="kept for tax law"),
    ManualStep("archive", Operation.EXPORT),
]


def test_a_plan_with_every_kind_of_step_round_trips_ordered_by_system(uow_factory: UnitOfWorkFactory) -> None:
    r, other = a_request(1), a_request(2)
    stored(uow_factory, r, other)
    with uow_factory() as uow:
        assert uow.plans.get(r.id) == []
        uow.plans.save(r.id, EVERY_STEP_KIND)
        uow.plans.save(other.id, [ExportStep("crm", 1, ("customer",))])
        uow.commit()
    with uow_factory() as uow:
        assert uow.plans.get(r.id) == sorted(EVERY_STEP_KIND, key=lambda s: s.system)
        assert uow.plans.get(other.id) == [ExportStep("crm", 1, ("customer",))]


def test_a_plan_revised_at_approval_reads_back_with_legal_s_exemptions(uow_factory: UnitOfWorkFactory) -> None:
    from dsar.domain.exemptions import Exemption, LegalGround, apply_exemptions

    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        uow.plans.save(r.id, EVERY_STEP_KIND)
        uow.commit()
    kept = [
        Exemption("ledger", LegalGround.LEGAL_HOLD),
        Exemption("shop/order", LegalGround.GDPR_17_3_E),
        Exemption("crm/customer.email", LegalGround.LEGAL_HOLD),
    ]
    with uow_factory() as uow:
        plan = uow.plans.get(r.id)
        revised = [new for old, new in zip(plan, apply_exemptions(plan, kept), strict=True) if new != old]
        assert revised
        uow.plans.revise(r.id, revised)
        with pytest.raises(NotFound):
            uow.plans.revise(r.id, [ExportStep("nowhere", 1)])
        uow.commit()
    with uow_factory() as uow:
        assert uow.plans.get(r.id) == apply_exemptions(sorted(EVERY_STEP_KIND, key=lambda s: s.system), kept)


def test_receipts_read_back_ordered_by_system(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    shop = Receipt("shop", "export", 4, "exports/r1/shop.json.enc", T0)
    crm = Receipt("crm", "erase", 2, None, T0 + timedelta(minutes=1))
    with uow_factory() as uow:
        assert uow.plans.receipts(r.id) == []
        uow.plans.add_receipt(r.id, shop)
        uow.plans.add_receipt(r.id, crm)
        uow.commit()
    with uow_factory() as uow:
        got = uow.plans.receipts(r.id)
    assert [replace(x, at=instant(x.at)) for x in got] == [crm, shop]


def test_a_sent_letter_is_recorded_per_kind(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    letter = SentLetter("access_response", "gdpr/access_response.en.txt", f"{r.reference}.access_response@dsar", T0)
    with uow_factory() as uow:
        uow.letters.add(r.id, letter)
        uow.commit()
    with uow_factory() as uow:
        got = uow.letters.get(r.id, "access_response")
        assert uow.letters.get(r.id, "denial") is None
    assert got is not None and replace(got, at=instant(got.at)) == letter


# --- the deadline watch's alerts --------------------------------------------------------------


def test_the_watch_sees_open_requests_due_by_the_horizon_soonest_first(uow_factory: UnitOfWorkFactory) -> None:
    soon_b, soon_a, later, closed, paused, failed = (a_request(i) for i in (2, 1, 3, 4, 5, 6))
    with uow_factory() as uow:
        add(uow, soon_b, due=DUE)
        add(uow, soon_a, due=DUE)
        add(uow, later, due=DUE + timedelta(days=30))
        add(uow, closed, due=DUE - timedelta(days=5))
        add(uow, paused, due=DUE - timedelta(days=5))
        add(uow, failed, due=DUE - timedelta(days=1))
        uow.requests.save_state(replace(closed, status=Status.CLOSED), T0)
        uow.requests.save_state(replace(failed, status=Status.FAILED), T0)  # still owes an answer on time
        uow.deadlines.save(paused.id, replace(uow.deadlines.get(paused.id), clock_stopped=True))
        uow.deadlines.save(soon_a.id, replace(uow.deadlines.get(soon_a.id), extended=True))
        uow.commit()
    with uow_factory() as uow:
        candidates = uow.alerts.watch_candidates(DUE + timedelta(days=1))
    assert [(c.request_id, c.due) for c in candidates] == [
        (failed.id, DUE - timedelta(days=1)),
        (soon_a.id, DUE),
        (soon_b.id, DUE),
    ]
    first = candidates[0]
    assert (first.reference, first.regime, first.status, first.extended) == (failed.reference, "gdpr", "failed", False)
    assert candidates[1].extended is True


def test_the_receipt_watch_follows_acknowledge_by_until_receipt_is_confirmed(uow_factory: UnitOfWorkFactory) -> None:
    ack_by = date(2026, 3, 16)
    waiting, confirmed, paused, withdrawn, no_ack = (a_request(i) for i in range(1, 6))
    with uow_factory() as uow:
        for r in (waiting, confirmed, paused, withdrawn):
            add(uow, r, acknowledge_by=ack_by)
        add(uow, no_ack)
        uow.deadlines.mark_acknowledged(confirmed.id, T0)
        uow.deadlines.save(paused.id, replace(uow.deadlines.get(paused.id), clock_stopped=True))  # does not excuse it
        uow.requests.save_state(replace(withdrawn, status=Status.WITHDRAWN), T0)
        uow.commit()
    with uow_factory() as uow:
        candidates = uow.alerts.watch_candidates(ack_by, "ack_watch")
        responses = uow.alerts.watch_candidates(ack_by, "watch_due")
    assert sorted(c.request_id for c in candidates) == sorted([waiting.id, paused.id])
    assert {c.due for c in candidates} == {ack_by}
    assert responses == []


def test_alerted_gives_the_alerts_raised_for_the_candidates_current_dates(uow_factory: UnitOfWorkFactory) -> None:
    r, other = a_request(1), a_request(2)
    with uow_factory() as uow:
        add(uow, r)
        add(uow, other, due=DUE + timedelta(days=60))
        uow.alerts.add(
            [
                NewAlert(r.id, r.reference, "due-in-7d", DUE, 7, True),
                NewAlert(r.id, r.reference, "due-in-3d", DUE, 3, False),
                NewAlert(other.id, other.reference, "due-in-7d", DUE + timedelta(days=60), 7, True),
            ],
            T0,
        )
        uow.commit()
    horizon = DUE + timedelta(days=1)
    with uow_factory() as uow:
        assert uow.alerts.alerted(horizon) == {(r.id, DUE, "due-in-7d"), (r.id, DUE, "due-in-3d")}
        assert uow.alerts.alerted(horizon, "ack_watch") == set()
        # Once the date moves (an extension), the alerts of the old date no longer count.
        uow.deadlines.save(r.id, replace(uow.deadlines.get(r.id), due=DUE + timedelta(days=1), extended=True))
        assert uow.alerts.alerted(horizon) == set()


def test_alerts_wait_for_delivery_until_delivered_or_out_of_attempts(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        uow.alerts.add(
            [
                NewAlert(r.id, r.reference, "due-in-7d", DUE, 7, True),
                NewAlert(r.id, r.reference, "due-in-3d", DUE, 3, False),  # covered by a more urgent one
                NewAlert(r.id, r.reference, "due-in-1d", DUE, 1, True),
            ],
            T0,
        )
        uow.commit()
    with uow_factory() as uow:
        pending = uow.alerts.undelivered(3)
        assert [a.kind for a in pending] == ["due-in-7d", "due-in-1d"]
        assert all(a.attempts == 0 and a.delivered_at is None and a.last_error is None for a in pending)
        seven, one = pending
        uow.alerts.record_delivery([seven.id, one.id], T0 + timedelta(minutes=1), "x" * 600)
        uow.alerts.record_delivery([one.id], T0 + timedelta(minutes=2), None)
        uow.commit()
    with uow_factory() as uow:
        (left,) = uow.alerts.undelivered(3)
        assert (left.id, left.attempts, left.last_error) == (seven.id, 1, "x" * 500)
        assert uow.alerts.undelivered(1) == []
        by_id = {a.id: a for a in uow.alerts.recent(r.id)}
    delivered = by_id[one.id]
    assert (delivered.attempts, delivered.last_error, instant(delivered.delivered_at)) == (2, None, T0 + timedelta(minutes=2))
    covered = next(a for a in by_id.values() if a.kind == "due-in-3d")
    assert (covered.notify, instant(covered.delivered_at), covered.attempts) == (False, T0, 0)


def test_a_superseded_alert_is_settled_unsent_and_a_delivered_one_is_left_alone(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    with uow_factory() as uow:
        uow.alerts.add([NewAlert(r.id, r.reference, "due-in-7d", DUE, 7, True), NewAlert(r.id, r.reference, "due-in-1d", DUE, 1, True)], T0)
        uow.commit()
    with uow_factory() as uow:
        seven, one = uow.alerts.undelivered(3)
        uow.alerts.record_delivery([one.id], T0, "down")
        uow.alerts.record_delivery([seven.id], T0, None)
        uow.alerts.supersede([seven.id, one.id], T0 + timedelta(hours=1))
        uow.commit()
    with uow_factory() as uow:
        assert uow.alerts.undelivered(3) == []
        by_kind = {a.kind: a for a in uow.alerts.recent(r.id)}
    assert (by_kind["due-in-1d"].notify, instant(by_kind["due-in-1d"].delivered_at), by_kind["due-in-1d"].last_error) == (
        False,
        T0 + timedelta(hours=1),
        None,
    )
    assert (by_kind["due-in-7d"].notify, instant(by_kind["due-in-7d"].delivered_at)) == (True, T0)


def test_recent_alerts_come_newest_first_for_one_request_or_all(uow_factory: UnitOfWorkFactory) -> None:
    a, b = a_request(1), a_request(2)
    stored(uow_factory, a, b)
    with uow_factory() as uow:
        assert uow.alerts.recent() == []
        uow.alerts.add([NewAlert(a.id, a.reference, "due-in-7d", DUE, 7, True)], T0)
        uow.alerts.add([NewAlert(b.id, b.reference, "due-in-7d", DUE, 7, True)], T0 + timedelta(days=1))
        uow.alerts.add([NewAlert(a.id, a.reference, "breached", DUE, 0, True)], T0 + timedelta(days=2))
        uow.commit()
    with uow_factory() as uow:
        every = uow.alerts.recent()
        mine = uow.alerts.recent(a.id)
        newest = uow.alerts.recent(limit=1)
    assert [(x.request_id, x.kind) for x in every] == [(a.id, "breached"), (b.id, "due-in-7d"), (a.id, "due-in-7d")]
    assert [x.kind for x in mine] == ["breached", "due-in-7d"]
    assert [x.kind for x in newest] == ["breached"]
    first = every[-1]
    assert (first.reference, first.due, first.days_left, instant(first.raised_at), first.notify) == (a.reference, DUE, 7, T0, True)


# --- data keys ------------------------------------------------------------------------------


def test_data_keys_seal_for_one_request_and_place_only(uow_factory: UnitOfWorkFactory) -> None:
    a, b = a_request(1), a_request(2)
    stored(uow_factory, a, b)
    with uow_factory() as uow:
        sealed = uow.keys.seal(a.id, b"the export", "export/a/shop")
    assert b"the export" not in sealed
    with uow_factory() as uow:
        assert uow.keys.open(a.id, sealed, "export/a/shop") == b"the export"
        with pytest.raises(IntegrityError):
            uow.keys.open(a.id, sealed, "export/a/crm")
        with pytest.raises(IntegrityError):
            uow.keys.open(b.id, sealed, "export/a/shop")
        with pytest.raises(NotFound):
            uow.keys.seal(a_request(3).id, b"x", "export")


def test_every_data_key_is_under_the_current_master_key(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.keys.key_ids() == set()
    stored(uow_factory, a_request(1), a_request(2))
    with uow_factory() as uow:
        assert len(uow.keys.key_ids()) == 1
        assert uow.keys.rewrap() == 0


# --- transactions ---------------------------------------------------------------------------


def test_leaving_a_unit_of_work_without_commit_writes_nothing(uow_factory: UnitOfWorkFactory) -> None:
    kept = a_request(1)
    stored(uow_factory, kept)
    dropped = a_request(2)
    with uow_factory() as uow:
        head = uow.audit.head()
        number = uow.requests.next_reference_number(2026)
    with uow_factory() as uow:
        add(uow, dropped)
        uow.requests.save_state(replace(kept, status=Status.VERIFIED), T0)
        uow.audit.append([HoldChanged(kept.id, T0, True, "x")])
        uow.deadlines.mark_acknowledged(kept.id, T0)
        uow.decisions.record(kept.id, SIGN_OFF_STEP, "approve", "legal", None, T0)
        uow.alerts.add([NewAlert(kept.id, kept.reference, "due-in-7d", DUE, 7, True)], T0)
        assert uow.requests.next_reference_number(2026) == number
    with uow_factory() as uow:
        assert uow.requests.count() == 1
        assert uow.requests.get(kept.id).status is Status.RECEIVED
        assert uow.audit.head() == head
        assert uow.deadlines.get(kept.id).acknowledged_at is None
        assert uow.decisions.get(kept.id, SIGN_OFF_STEP) is None
        assert uow.alerts.recent() == []
        assert uow.requests.next_reference_number(2026) == number


def test_a_failure_inside_the_block_rolls_back(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    with pytest.raises(RuntimeError), uow_factory() as uow:
        add(uow, r)
        raise RuntimeError("crash halfway")
    with uow_factory() as uow:
        assert uow.requests.count() == 0


def test_work_after_a_commit_is_a_new_transaction(uow_factory: UnitOfWorkFactory) -> None:
    first, second = a_request(1), a_request(2)
    with uow_factory() as uow:
        add(uow, first)
        uow.commit()
        add(uow, second)
    with uow_factory() as uow:
        assert uow.requests.references({first.id, second.id}) == {first.id: first.reference}


def test_a_unit_of_work_sees_its_own_writes_before_commit(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    with uow_factory() as uow:
        add(uow, r)
        uow.audit.append([HoldChanged(r.id, T0, True, "x")])
        assert uow.requests.get(r.id).subject == r.subject
        assert [e.kind for e in uow.audit.events(r.id)] == ["HoldChanged"]


# --- one row where one is allowed -----------------------------------------------------------

DUPLICATES = {
    "request": lambda uow, r: add(uow, r),
    "decision": lambda uow, r: uow.decisions.record(r.id, SIGN_OFF_STEP, "deny", "legal", None, T0),
    "letter": lambda uow, r: uow.letters.add(r.id, SentLetter("denial", "t.txt", "m@dsar", T0)),
    "plan step": lambda uow, r: uow.plans.save(r.id, [ExportStep("crm", 2)]),
    "receipt": lambda uow, r: uow.plans.add_receipt(r.id, Receipt("crm", "export", 1, None, T0)),
    "alert": lambda uow, r: uow.alerts.add([NewAlert(r.id, r.reference, "due-in-7d", DUE, 7, True)], T0),
}


@pytest.mark.parametrize("what", list(DUPLICATES))
def test_a_second_row_where_only_one_is_allowed_is_refused_as_an_integrity_error(uow_factory: UnitOfWorkFactory, what: str) -> None:
    r = a_request(1)
    stored(uow_factory, r)
    write = DUPLICATES[what]
    with uow_factory() as uow:
        if what != "request":
            write(uow, r)
        uow.commit()
    with uow_factory() as uow, pytest.raises(IntegrityError):
        write(uow, r)
    with uow_factory() as uow:
        assert uow.requests.count() == 1


# --- concurrent units of work ----------------------------------------------------------------


def test_concurrent_units_of_work_get_distinct_reference_numbers_and_keep_one_chain(uow_factory: UnitOfWorkFactory) -> None:
    r = a_request(1)
    stored(uow_factory, r)

    def take(i: int) -> int:
        with uow_factory() as uow:
            n = uow.requests.next_reference_number(2026)
            uow.audit.append([HoldChanged(r.id, T0 + timedelta(seconds=i), True, str(i))])
            uow.commit()
            return n

    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = list(pool.map(take, range(12)))
    assert sorted(numbers) == list(range(1, 13))
    with uow_factory() as uow:
        assert uow.audit.head()[0] == 12
        assert first_broken(uow.audit.iter_chain()) is None
