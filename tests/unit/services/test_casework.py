"""Internal notes and the legal-sensitive mark (dsar.services.casework) on the in-memory unit
of work: audit events only, sealed like every payload, the mark derived from them."""

from __future__ import annotations

import pytest

from dsar.domain.errors import InvalidInput, NotFound
from dsar.services import casework
from tests.unit.services.conftest import World


def test_a_note_is_an_audit_event_saying_who_wrote_it_and_where(world: World) -> None:
    rid = world.log()
    casework.add_note(world.ctx, rid, "Called back.\nShe will send ID by post.", by="sam.support", via="console")
    assert world.details(rid, "InternalNoteAdded") == [
        {"text": "Called back.\nShe will send ID by post.", "by": "sam.support", "via": "console"}
    ]


def test_two_notes_written_in_the_same_instant_are_both_kept(world: World) -> None:
    rid = world.log()
    casework.add_note(world.ctx, rid, "first", by="sam")
    casework.add_note(world.ctx, rid, "second", by="sam")
    assert [d["text"] for d in world.details(rid, "InternalNoteAdded")] == ["first", "second"]


@pytest.mark.parametrize(
    ("text", "by", "problem"),
    [
        ("", "sam", "note: required"),
        ("   ", "sam", "note: required"),
        ("x" * (casework.MAX_NOTE + 1), "sam", f"note: longer than {casework.MAX_NOTE} characters"),
        ("bad \x07 bell", "sam", "note: control characters"),
        ("fine", "", "by: required"),
    ],
)
def test_a_bad_note_is_refused_and_nothing_is_written(world: World, text: str, by: str, problem: str) -> None:
    rid = world.log()
    before = world.events(rid)
    with pytest.raises(InvalidInput) as caught:
        casework.add_note(world.ctx, rid, text, by=by)
    assert problem in (caught.value.problems or [])
    assert world.events(rid) == before


def test_a_note_on_an_unknown_request_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        casework.add_note(world.ctx, "no-such-id", "hello", by="sam")


def test_the_flag_is_set_and_taken_off_once_each_and_read_back_from_the_events(world: World) -> None:
    rid = world.log()
    assert casework.legal_flag(world.ctx, rid) is None
    assert casework.flag_legal_sensitive(world.ctx, rid, "solicitor's letter", by="sam", via="console")
    assert not casework.flag_legal_sensitive(world.ctx, rid, "again", by="sam")
    flag = casework.legal_flag(world.ctx, rid)
    assert flag is not None and (flag.flagged, flag.reason, flag.by) == (True, "solicitor's letter", "sam")
    assert casework.flagged_ids(world.ctx, [rid]) == {rid}

    assert casework.unflag_legal_sensitive(world.ctx, rid, "settled", by="lena")
    assert not casework.unflag_legal_sensitive(world.ctx, rid, "settled", by="lena")
    assert casework.flagged_ids(world.ctx, [rid]) == set()
    # flagged again in the same instant: a new event, not a repeat of the first
    assert casework.flag_legal_sensitive(world.ctx, rid, "new claim", by="lena")
    assert world.events(rid).count("LegalSensitiveFlagged") == 2
    assert world.details(rid, "LegalSensitiveUnflagged") == [{"reason": "settled", "by": "lena", "via": "cli"}]
    assert casework.flagged_ids(world.ctx, [rid]) == {rid}


def test_only_flagged_requests_are_listed_as_flagged(world: World) -> None:
    a = world.log()
    b = world.log(type="deletion", subject={"name": "Max Mustermann", "emails": ["max@example.com"]})
    casework.flag_legal_sensitive(world.ctx, b, "regulator asked", by="sam")
    assert casework.flagged_ids(world.ctx, [a, b]) == {b}


def test_a_flag_needs_a_reason(world: World) -> None:
    rid = world.log()
    with pytest.raises(InvalidInput) as caught:
        casework.flag_legal_sensitive(world.ctx, rid, "  ", by="sam")
    assert list(caught.value.problems or []) == ["reason: required"]
    assert "LegalSensitiveFlagged" not in world.events(rid)
