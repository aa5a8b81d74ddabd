"""Text messages SNS accepted and then could not deliver: SNS's SMS delivery status logging writes
each failure to a CloudWatch Logs group (moto here), and the deadline watch's bounce sweep reads
the group's recent entries (DSAR_SMS_FAILURE_LOG_GROUP), matches each to dsar's text through the
mail ledger (SNS's message id), and records it once, alerts the team and holds the open request,
as for a bounced letter. Nothing of the entry (the number, the carrier's answer) is kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dsar.app import App, sweep_bounces
from dsar.domain.alerts import LETTER_BOUNCED
from dsar.domain.bounces import PERMANENT, MalformedNotice, parse_sms_failure
from dsar.domain.letters import message_id
from dsar.letters.bounces import SnsSmsFailureSource
from dsar.letters.sms import SnsTexter
from dsar.persistence.mail_ledger import SqlMailLedger
from dsar.services.bounces import sweep_bounces as sweep
from dsar.services.intake import log_request
from dsar.services.ports import TextMessage
from tests.integration.test_bounces import _provider_id

REGION = "eu-west-1"
NUMBER = "+49305550199"
GROUP = "sns/eu-west-1/123456789012/DirectPublishToPhoneNumber/Failure"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        logs = boto3.client("logs", region_name=REGION)
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="stream-1")
        yield boto3.client("sns", region_name=REGION), logs


def failure(sns_id: str, status: str = "FAILURE") -> str:
    """An entry as SNS writes it for a text it could not deliver."""
    return json.dumps(
        {
            "notification": {"messageId": sns_id, "timestamp": "2026-12-06 10:00:00.000"},
            "delivery": {
                "destination": NUMBER,
                "smsType": "Transactional",
                "providerResponse": f"Phone carrier has blocked this message for {NUMBER}",
                "dwellTimeMs": 1200,
            },
            "status": status,
        }
    )


def write(logs: Any, *messages: str, at: datetime | None = None) -> None:
    when = int((at or datetime.now(UTC)).timestamp() * 1000)
    logs.put_log_events(
        logGroupName=GROUP, logStreamName="stream-1", logEvents=[{"timestamp": when + i, "message": m} for i, m in enumerate(messages)]
    )


def texted(app: App, sns: Any, purpose: str) -> tuple[str, str]:
    """(reference, SNS's message id) of a request whose only contact is a phone, after dsar
    texted it through SNS for ``purpose``."""
    ref = log_request(
        app.ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "phone": NUMBER}}
    ).request.reference
    text_id = message_id(ref, purpose)
    assert SnsTexter(sns, SqlMailLedger(app.engine)).send(TextMessage(text_id, NUMBER, "Please confirm your request")) is True
    return ref, _provider_id(app, text_id)


def test_a_text_sns_could_not_deliver_is_recorded_once_alerted_and_holds_the_open_request(sqlite_app: App, aws: tuple[Any, Any]) -> None:
    sns, logs = aws
    ctx = sqlite_app.ctx
    ref, sns_id = texted(sqlite_app, sns, "verify-1-1.sms")
    ledger = SqlMailLedger(sqlite_app.engine)
    since = int((datetime.now(UTC) - timedelta(hours=48)).timestamp() * 1000)

    write(logs, failure(sns_id), failure(sns_id, status="SUCCESS"), failure("someone-else"), "not json {")
    done = sweep(ctx, SnsSmsFailureSource(logs, GROUP, since_ms=since), ledger.message_for)
    assert done.recorded == [f"{ref}: verify-1-1.sms (permanent)"] and done.held == [ref] and done.alerted == [ref]
    assert (done.not_ours, done.not_failures, done.malformed) == (1, 1, 1)
    with ctx.uow() as uow:
        rid = uow.requests.id_for_reference(ref)
        details = [e.details for e in uow.audit.events(rid) if e.kind == "LetterBounced"]
        alerts = [a.kind for a in uow.alerts.undelivered(12) if a.request_id == rid]
        held = uow.requests.facts(rid).on_hold
    assert details == [{"letter": "verify-1-1.sms", "bounce": "permanent", "subtype": "sms"}] and alerts == [LETTER_BOUNCED] and held
    assert NUMBER not in json.dumps(details) and "carrier" not in json.dumps(details)

    # the next sweep reads the same entries again (a log is not a queue): nothing new
    again = sweep(ctx, SnsSmsFailureSource(logs, GROUP, since_ms=since), ledger.message_for)
    assert again.recorded == [] and again.held == [] and again.alerted == []
    # an entry older than the look-back is not read
    late = sweep(ctx, SnsSmsFailureSource(logs, GROUP, since_ms=int(datetime.now(UTC).timestamp() * 1000) + 60_000), ledger.message_for)
    assert (late.recorded, late.not_ours, late.not_failures, late.malformed) == ([], 0, 0, 0)


def test_the_watch_reads_the_log_group_of_its_settings_across_pages(sqlite_app: App, aws: tuple[Any, Any]) -> None:
    sns, logs = aws
    ref, sns_id = texted(sqlite_app, sns, "letter-link.sms")
    write(logs, *[failure(f"unknown-{i}") for i in range(150)])  # more than one page of the log
    write(logs, failure(sns_id))
    configured = replace(sqlite_app, settings=sqlite_app.settings.model_copy(update={"sms_failure_log_group": GROUP}))
    done = sweep_bounces(configured)
    assert done is not None and done.recorded == [f"{ref}: letter-link.sms (permanent)"] and done.not_ours == 150


def test_an_entry_that_is_no_sms_record_is_refused_without_its_content() -> None:
    assert parse_sms_failure(failure("sns-1"), "ev-1").kind == PERMANENT
    for body in ("", "[]", json.dumps({"status": "FAILURE", "delivery": {"destination": NUMBER}}), json.dumps({"notification": {}})):
        with pytest.raises(MalformedNotice) as caught:
            parse_sms_failure(body, "ev-2")
        assert NUMBER not in str(caught.value)
