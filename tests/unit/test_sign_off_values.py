"""Legal's decision as a domain value (dsar.domain.decisions): a denial needs a reason for the
subject, ``other`` its words; the internal note is apart and never the subject's reason."""

from __future__ import annotations

import pytest

from dsar.domain.decisions import DENIAL_REASON_TEXT, DenialReason, SignOff, SignOffDecision, denial_reason_text, sign_off
from dsar.domain.errors import InvalidInput


def test_an_approval_takes_no_reason_and_keeps_its_note_internal() -> None:
    given = sign_off("approve", note="checked the plan with the DPO")
    assert given == SignOff(SignOffDecision.APPROVE, None, "", "checked the plan with the DPO")
    assert given.approved and given.subject_reason() == ""


@pytest.mark.parametrize("reason", [None, "", "  "])
def test_a_denial_without_a_reason_for_the_subject_is_refused_at_input(reason: str | None) -> None:
    with pytest.raises(InvalidInput) as refused:
        sign_off("deny", reason, note="INTERNAL ONLY: the note is no reason")
    assert "reason: a denial needs a reason code for the subject" in refused.value.problems


def test_other_needs_its_words_and_they_are_the_subject_s_reason() -> None:
    with pytest.raises(InvalidInput) as refused:
        sign_off("deny", "other", "")
    assert refused.value.problems == ("reason text: 'other' needs the reason in words for the subject",)
    given = sign_off("deny", "other", "  the account was closed   in 2019 ", "internal")
    assert given.subject_reason() == "the account was closed in 2019"


@pytest.mark.parametrize("reason", list(DenialReason))
def test_every_reason_code_reads_in_plain_words_never_the_note(reason: DenialReason) -> None:
    given = sign_off("deny", reason.value, "details" if reason is DenialReason.OTHER else "", "INTERNAL ONLY")
    assert given.reason is reason
    words = given.subject_reason()
    assert words and "INTERNAL" not in words and "_" not in words
    if reason is not DenialReason.OTHER:
        assert words == DENIAL_REASON_TEXT[reason]


def test_reason_codes_are_read_leniently_and_unknown_ones_named() -> None:
    assert sign_off("DENY", "Manifestly-Unfounded-or-Excessive").reason is DenialReason.MANIFESTLY_UNFOUNDED_OR_EXCESSIVE
    assert sign_off("deny", "not a consumer").reason is DenialReason.NOT_A_CONSUMER
    with pytest.raises(InvalidInput) as refused:
        sign_off("deny", "because")
    assert refused.value.problems[0].startswith("reason: one of unverifiable, not_a_consumer")


def test_an_approval_with_a_reason_code_and_an_unknown_decision_are_refused() -> None:
    with pytest.raises(InvalidInput, match="an approval takes no reason code"):
        sign_off("approve", "exempt")
    with pytest.raises(InvalidInput, match="approve or deny"):
        sign_off("maybe")


def test_reason_text_is_one_line_of_bounded_length_without_direction_marks() -> None:
    assert sign_off("deny", "other", "line one\nline two").reason_text == "line one line two"
    with pytest.raises(InvalidInput, match="reason text is too long"):
        sign_off("deny", "other", "x" * 501)
    with pytest.raises(InvalidInput, match="control"):
        sign_off("deny", "other", "abc\u202edef")


def test_detail_for_a_coded_reason_follows_its_plain_words() -> None:
    assert (
        denial_reason_text(DenialReason.EXEMPT, "GDPR Art. 17(3)(b)") == DENIAL_REASON_TEXT[DenialReason.EXEMPT] + " (GDPR Art. 17(3)(b))"
    )
