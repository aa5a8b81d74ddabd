"""The organisation's policy as the services read it (dsar.services.context)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dsar.domain.verification import VerificationPolicy
from dsar.services.context import Policy


def test_the_verification_policy_follows_the_organisation_s_settings() -> None:
    policy = Policy(verification_code_ttl_hours=96, verification_max_attempts=3)
    assert policy.verification == VerificationPolicy(code_ttl_hours=96, max_attempts=3)
    issued = datetime(2026, 3, 2, tzinfo=UTC)
    assert policy.verification.expires(issued) == issued + timedelta(hours=96)


def test_the_default_policy_gives_three_days_and_five_attempts() -> None:
    assert Policy().verification == VerificationPolicy(72, 5)
