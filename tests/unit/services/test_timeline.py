"""A request's audit events in words (dsar.services.timeline): pure, every kind the engine
writes has a rule, an unknown or odd event is still shown."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dsar.services.timeline import RULES, describe, words

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVENTS = Path(__file__).resolve().parents[3] / "src" / "dsar" / "domain" / "events.py"


def event_kinds() -> set[str]:
    tree = ast.parse(EVENTS.read_text())
    return {
        n.name for n in tree.body if isinstance(n, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id == "AuditEvent" for b in n.bases)
    }


def test_every_event_kind_of_a_request_has_words() -> None:
    # Staff events (StaffEvent and its kinds) go to the staff stream, never a request's timeline.
    kinds = event_kinds() - {"StaffEvent"}
    assert "StatusChanged" in kinds and "InternalNoteAdded" in kinds
    assert kinds - set(RULES) == set()


@pytest.mark.parametrize(
    ("kind", "details", "title", "lines", "who"),
    [
        (
            "StatusChanged",
            {"move": "withdraw", "from": "received", "to": "withdrawn", "reason": "by phone"},
            "Status: received → withdrawn",
            ("reason: by phone",),
            None,
        ),
        ("HoldChanged", {"on_hold": "true", "reason": "legal"}, "Put on hold", ("reason: legal",), None),
        ("HoldChanged", {"on_hold": "false", "reason": "ok"}, "Hold released", ("reason: ok",), None),
        ("SubjectDataViewed", {"via": "console:sam.support"}, "Subject's data revealed", ("through: console",), "sam.support"),
        ("SubjectDataViewed", {"via": "cli"}, "Subject's data revealed", ("through: cli",), None),
        (
            "DeadlineExtended",
            {"from": "2026-04-02", "to": "2026-06-02", "by": "lena", "reason": "complex"},
            "Deadline extended: 2026-04-02 → 2026-06-02",
            ("reason: complex",),
            "lena",
        ),
        ("InternalNoteAdded", {"text": "Called back", "by": "sam", "via": "console"}, "Internal note", ("Called back",), "sam"),
        (
            "VerificationRiskFlagged",
            {"rule": "tries_exhausted", "reason": "tries_exhausted: 5 of 5 tries failed", "escalation": 2, "joined": True},
            "Verification risk flagged: tries exhausted",
            ("reason: tries_exhausted: 5 of 5 tries failed", "joined the open escalation no. 2 (its reason stays; this one is kept here)"),
            None,
        ),
        (
            "LegalSensitiveFlagged",
            {"reason": "solicitor", "by": "sam", "via": "console"},
            "Flagged legal-sensitive",
            ("reason: solicitor",),
            "sam",
        ),
        (
            "DuplicateLinked",
            {"role": "duplicate", "other": "DSR-2026-000001"},
            "Duplicate of DSR-2026-000001 (same verified contact): that request's letters answer this one",
            (),
            None,
        ),
        (
            "DuplicateLinked",
            {"role": "original", "other": "DSR-2026-000002"},
            "DSR-2026-000002 was verified with the same contact: linked here as a duplicate, answered by this request",
            (),
            None,
        ),
        (
            "DuplicateSubmissionLinked",
            {"channel": "email", "received_at": "2026-03-02T09:00:00+00:00"},
            "The same request came in again and was linked here",
            ("channel: email", "received: 2026-03-02T09:00:00+00:00"),
            None,
        ),
        (
            "PlanMade",
            {"steps": [{"system": "shop", "operation": "export", "matches": 3}]},
            "Plan made (1 system(s))",
            ("shop: export, 3 matched",),
            None,
        ),
        (
            "SignOffRecorded",
            {"step": "release", "decision": "approve", "approver": "lena"},
            "Legal approved the response",
            (),
            "lena",
        ),
        (
            "SignOffRecorded",
            {
                "step": "release",
                "decision": "deny",
                "approver": "lena",
                "reason": "exempt",
                "note": "legal hold, matter 12",
                "verified_by": "totp",
                "via": "console",
            },
            "Legal refused the request",
            (
                "reason given to the subject: exempt",
                "internal note: legal hold, matter 12",
                "approver proven by an authenticator code",
                "given in: console",
            ),
            "lena",
        ),
        (
            "SignOffRefused",
            {"step": "release", "attempt": 2, "reason": "wrong_code", "via": "prefect-ui", "approver": "sam"},
            "Sign-off attempt refused (wrong code); still waiting",
            ("attempt 2", "given in: prefect-ui"),
            "sam",
        ),
        (
            "LetterSent",
            {"kind": "verification_code", "channel": "email", "attachments": 0},
            "Letter sent: verification code",
            ("by email",),
            None,
        ),
        ("ReceiptConfirmed", {"how": "phone", "by": "sam"}, "Receipt confirmed to the subject by phone", (), "sam"),
        (
            "ProcessingRestarted",
            {"previous_run": "r1", "previous_state": "CRASHED", "run": "r2"},
            "Flow run restarted by the reconciler",
            ("the previous run r1 was CRASHED", "new run: r2"),
            None,
        ),
    ],
)
def test_events_read_as_words_with_their_key_details_and_who(
    kind: str, details: dict[str, object], title: str, lines: tuple[str, ...], who: str | None
) -> None:
    entry = describe(7, kind, AT, details)
    assert (entry.seq, entry.at, entry.kind) == (7, AT, kind)
    assert (entry.title, entry.lines, entry.who) == (title, lines, who)


def test_an_unknown_kind_is_shown_in_words_with_its_details() -> None:
    entry = describe(1, "SomethingNewHappened", AT, {"count": 2, "ok": True})
    assert entry.title == "Something new happened"
    assert entry.lines == ("count: 2", "ok: yes")


def test_a_shredded_event_says_so() -> None:
    entry = describe(1, "InternalNoteAdded", AT, {"shredded": True})
    assert entry.title == "Internal note added"
    assert entry.lines == ("details shredded with the request's key",)


def test_an_odd_payload_is_shown_raw_rather_than_failing() -> None:
    entry = describe(1, "PlanMade", AT, {"steps": 5})
    assert entry.title == "Plan made"
    assert entry.lines == ("steps: 5",)


def test_words_splits_camel_case() -> None:
    assert words("DeadlineAlertRaised") == "Deadline alert raised"
