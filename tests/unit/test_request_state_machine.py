from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from dsar.domain.errors import InvalidInput, TransitionNotAllowed, UnknownJurisdiction, UnknownRegime
from dsar.domain.regimes import REGIMES, RequestType, get_regime, resolve_jurisdiction
from dsar.domain.request import (
    ANSWERING,
    DEADLINE_STOPPED,
    FINAL_STATUSES,
    MOVES,
    Channel,
    HoldChanged,
    Move,
    PrivacyRequest,
    Status,
    StatusChanged,
    SubjectIdentity,
    allowed_moves,
    apply_move,
    duplicate_reason,
    format_reference,
    normalise_email,
    parse_reference,
    set_hold,
)

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def a_request(status: Status = Status.RECEIVED, on_hold: bool = False) -> PrivacyRequest:
    return PrivacyRequest(
        id="r1",
        reference="DSR-2026-000001",
        type=RequestType.ACCESS,
        regime="gdpr",
        country="DE",
        subdivision=None,
        channel=Channel.EMAIL,
        received_at=AT,
        subject=SubjectIdentity("Jane Doe", ("jane@example.com",)),
        due=date(2026, 12, 23),
        status=status,
        on_hold=on_hold,
    )


HAPPY_PATH = [
    (Move.REQUEST_VERIFICATION, Status.AWAITING_VERIFICATION),
    (Move.CONFIRM_IDENTITY, Status.VERIFIED),
    (Move.START_PLANNING, Status.PLANNING),
    (Move.SUBMIT_PLAN, Status.AWAITING_SIGN_OFF),
    (Move.APPROVE_PLAN, Status.EXECUTING),
    (Move.FINISH_EXECUTION, Status.RESPONDING),
    (Move.CLOSE, Status.CLOSED),
]


def test_the_happy_path_walks_from_received_to_closed_emitting_one_event_per_move() -> None:
    r = a_request()
    for move, expected in HAPPY_PATH:
        before = r.status
        r, events = apply_move(r, move, at=AT)
        assert r.status is expected
        assert events == [StatusChanged("r1", AT, move.value, before.value, expected.value, "")]


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("move", list(Move))
def test_every_move_outside_the_table_raises_and_every_move_inside_it_lands_on_its_target(status: Status, move: Move) -> None:
    sources, target = MOVES[move]
    r = a_request(status)
    if status in sources:
        assert apply_move(r, move, at=AT)[0].status is target
    else:
        with pytest.raises(TransitionNotAllowed):
            apply_move(r, move, at=AT)


def test_final_statuses_allow_no_move_at_all() -> None:
    for status in (Status.CLOSED, Status.DENIED, Status.WITHDRAWN, Status.FAILED):
        assert allowed_moves(a_request(status)) == []


def test_a_request_on_hold_can_only_be_denied_withdrawn_or_failed() -> None:
    r = a_request(Status.VERIFIED, on_hold=True)
    with pytest.raises(TransitionNotAllowed, match="on hold"):
        apply_move(r, Move.START_PLANNING, at=AT)
    assert set(allowed_moves(r)) == {Move.DENY, Move.WITHDRAW, Move.FAIL}


def test_holding_and_releasing_emit_events_and_holding_twice_emits_none() -> None:
    r, events = set_hold(a_request(), True, at=AT, reason="legal hold")
    assert r.on_hold and events == [HoldChanged("r1", AT, True, "legal hold")]
    assert set_hold(r, True, at=AT, reason="again") == (r, [])
    released, events = set_hold(r, False, at=AT, reason="done")
    assert not released.on_hold and len(events) == 1


def test_a_closed_request_cannot_be_put_on_hold() -> None:
    with pytest.raises(TransitionNotAllowed):
        set_hold(a_request(Status.CLOSED), True, at=AT, reason="x")


def test_a_received_time_without_timezone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        PrivacyRequest(
            id="r",
            reference="DSR-2026-000001",
            type=RequestType.ACCESS,
            regime="gdpr",
            country="DE",
            subdivision=None,
            channel=Channel.WEB,
            received_at=datetime(2026, 1, 1),
            subject=SubjectIdentity("x"),
            due=date(2026, 2, 1),
        )


def test_references_are_human_friendly_and_parsed_strictly() -> None:
    assert format_reference(2026, 123) == "DSR-2026-000123"
    assert parse_reference(" dsr-2026-000123 ") == "DSR-2026-000123"
    for bad in ("DSR-26-1", "DSR-2026-000123; DROP TABLE", "../etc/passwd", ""):
        with pytest.raises(InvalidInput):
            parse_reference(bad)


def test_emails_are_normalised_and_malformed_ones_refused_without_echoing_them() -> None:
    assert normalise_email("  Jane.Doe@Example.COM ") == "jane.doe@example.com"
    for bad in ("jane", "jane@", "@example.com", "jane doe@example.com", "a@b", "x@exa mple.com", "j\x00@example.com"):
        with pytest.raises(InvalidInput) as info:
            normalise_email(bad)
        assert bad not in str(info.value)


def test_personal_data_does_not_show_in_the_repr_of_a_request_or_identity() -> None:
    r = a_request()
    assert "Jane" not in repr(r) and "jane@" not in repr(r) and "Jane" not in repr(r.subject)


def test_every_regime_of_the_regulations_is_known_and_unknown_codes_are_refused() -> None:
    # Issue 16 added 26 regimes (us-XX state laws, ca-qc, ch, kr, jp, sg, nz, za, tr, th, au); today's codes stay.
    assert {"gdpr", "uk-gdpr", "ccpa", "vcdpa", "cpa", "ctdpa", "ucpa", "tdpsa", "ocpa", "lgpd", "pipeda"} <= set(REGIMES)
    assert len(REGIMES) == 37
    with pytest.raises(UnknownRegime, match="known regimes"):
        get_regime("gdpr2")


def test_jurisdictions_are_checked_and_defaulted_per_regime() -> None:
    assert resolve_jurisdiction(get_regime("ccpa"), None, None) == ("US", "CA")
    assert resolve_jurisdiction(get_regime("uk-gdpr"), None, None) == ("GB", "ENG")
    assert resolve_jurisdiction(get_regime("gdpr"), "fr", None) == ("FR", None)
    with pytest.raises(UnknownJurisdiction):
        resolve_jurisdiction(get_regime("gdpr"), "US", None)
    with pytest.raises(UnknownJurisdiction):
        resolve_jurisdiction(get_regime("uk-gdpr"), None, "XYZ")


def test_utah_gives_a_correction_right_only_from_july_2026() -> None:
    ucpa = get_regime("ucpa")
    assert not ucpa.provides(RequestType.CORRECTION, date(2026, 6, 30))
    assert ucpa.provides(RequestType.CORRECTION, date(2026, 7, 1))
    assert not get_regime("pipeda").provides(RequestType.DELETION, date(2026, 7, 1))


def test_a_chat_is_a_channel_support_logs_requests_from() -> None:
    assert Channel("chat") is Channel.CHAT


def test_a_verified_duplicate_ends_by_withdrawal_and_only_an_answering_request_answers_it() -> None:
    # What dsar.services.processing does with a request verified with the same contact as an
    # earlier one: the move exists from VERIFIED and stops its clock.
    r = a_request(Status.VERIFIED)
    ended, (event,) = apply_move(r, Move.WITHDRAW, at=AT, reason=duplicate_reason("DSR-2026-000001"))
    assert ended.status is Status.WITHDRAWN and ended.status in DEADLINE_STOPPED
    assert isinstance(event, StatusChanged) and event.reason == "duplicate of DSR-2026-000001 (same verified contact)"
    # Verified and answered, or on the way to it; never one that will not answer.
    assert ANSWERING == {Status.VERIFIED, Status.PLANNING, Status.AWAITING_SIGN_OFF, Status.EXECUTING, Status.RESPONDING, Status.CLOSED}
    assert ANSWERING & FINAL_STATUSES == {Status.CLOSED}
    assert all(s not in ANSWERING for s in (Status.RECEIVED, Status.AWAITING_VERIFICATION, Status.DENIED, Status.WITHDRAWN, Status.FAILED))
