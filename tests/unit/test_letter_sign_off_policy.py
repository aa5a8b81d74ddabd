"""DSAR_LETTER_SIGN_OFF as a rule (dsar.domain.letter_sign_off): which letters wait for legal's
approval before they go out, and the decision legal gives."""

from __future__ import annotations

import pytest

from dsar.domain.errors import InvalidInput
from dsar.domain.letter_sign_off import (
    DEFAULT_LETTER_SIGN_OFF,
    DEFAULT_POLICY,
    LetterDecision,
    letter_needs_sign_off,
    letter_sign_off,
    parse_letter_sign_off,
)
from dsar.domain.regimes import RequestType


def test_the_default_is_deletions_and_every_refusal() -> None:
    assert DEFAULT_LETTER_SIGN_OFF == "deletion,refusal"
    policy = parse_letter_sign_off(DEFAULT_LETTER_SIGN_OFF)
    assert policy == DEFAULT_POLICY
    assert letter_needs_sign_off(policy, RequestType.DELETION, "gdpr", refusal=False)
    assert letter_needs_sign_off(policy, RequestType.DELETION, "ccpa", refusal=False)
    assert not letter_needs_sign_off(policy, RequestType.ACCESS, "gdpr", refusal=False)
    assert not letter_needs_sign_off(policy, RequestType.CORRECTION, "gdpr", refusal=False)
    # a refusal of any type: legal's denial, could-not-verify, a partial refusal
    assert letter_needs_sign_off(policy, RequestType.ACCESS, "gdpr", refusal=True)
    assert letter_needs_sign_off(policy, RequestType.CORRECTION, "lgpd", refusal=True)


def test_request_types_alone() -> None:
    policy = parse_letter_sign_off(" access , correction ")
    assert policy.needs(RequestType.ACCESS, "gdpr", refusal=False)
    assert policy.needs("correction", "ccpa", refusal=False)
    assert not policy.needs(RequestType.DELETION, "gdpr", refusal=False)
    assert not policy.needs(RequestType.DELETION, "gdpr", refusal=True)  # refusal not listed
    assert policy.needs(RequestType.ACCESS, "gdpr", refusal=True)  # its type is
    assert policy.describe() == "access,correction"


def test_refusal_alone() -> None:
    policy = parse_letter_sign_off("refusal")
    assert policy.needs(RequestType.DELETION, "gdpr", refusal=True)
    assert not policy.needs(RequestType.DELETION, "gdpr", refusal=False)


def test_an_entry_for_one_regime_only() -> None:
    policy = parse_letter_sign_off("access@ccpa,refusal@gdpr")
    assert policy.needs(RequestType.ACCESS, "ccpa", refusal=False)
    assert not policy.needs(RequestType.ACCESS, "gdpr", refusal=False)
    assert policy.needs(RequestType.DELETION, "gdpr", refusal=True)
    assert not policy.needs(RequestType.DELETION, "ccpa", refusal=True)
    # a regime by its alias is the regime itself
    assert parse_letter_sign_off("access@us-ca") == parse_letter_sign_off("access@CCPA")
    assert parse_letter_sign_off("access@us-ca").describe() == "access@ccpa"


def test_none_turns_it_off() -> None:
    policy = parse_letter_sign_off("none")
    assert policy.describe() == "none"
    for kind in RequestType:
        assert not policy.needs(kind, "gdpr", refusal=True)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("deletion,refusals", "unknown entry 'refusals'"),
        ("erasure", "unknown entry 'erasure'"),
        ("appeal", "unknown entry 'appeal'"),
        ("access@narnia", "unknown regime in 'access@narnia'"),
        ("none,access", "none cannot be combined"),
        ("", "empty"),
        (" , ", "empty"),
    ],
)
def test_an_unknown_entry_is_an_error_naming_it(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        parse_letter_sign_off(text)


def test_a_return_needs_a_reason_and_an_approval_takes_none() -> None:
    assert letter_sign_off("approve", note="checked the retention lines").decision is LetterDecision.APPROVE
    returned = letter_sign_off("return", "the partial refusal names the wrong ground", "internal")
    assert returned.decision is LetterDecision.RETURN and returned.reason.startswith("the partial") and not returned.approved
    with pytest.raises(InvalidInput, match="a return needs a reason"):
        letter_sign_off("return", "  ")
    with pytest.raises(InvalidInput, match="an approval takes no reason"):
        letter_sign_off("approve", "why")
    with pytest.raises(InvalidInput, match="approve or return"):
        letter_sign_off("deny")
    with pytest.raises(InvalidInput, match="reason"):
        letter_sign_off("return", "two\nlines")
