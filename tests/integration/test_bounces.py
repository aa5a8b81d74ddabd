"""Letters SES accepted and then could not deliver: its notices, through SNS into an SQS queue
(moto), are read by the deadline watch's bounce sweep, matched to the letter through the mail
ledger or the Message-ID header, recorded once on the request, alerted to the team and, for a
request still open, held."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dsar.app import App
from dsar.domain.alerts import LETTER_BOUNCED
from dsar.domain.bounces import parse_notice
from dsar.domain.letters import message_id
from dsar.letters.bounces import SqsBounceSource
from dsar.letters.transports import SesMailer
from dsar.persistence.mail_ledger import SqlMailLedger
from dsar.services.bounces import sweep_bounces
from dsar.services.deadlines import describe
from dsar.services.intake import log_request
from dsar.services.ports import OutgoingMail

SENDER = "privacy@example-shop.test"
SUBJECT_ADDRESS = "jane.doe@example.com"


def ses_notice(
    kind: str, ses_id: str, *, header_id: str | None = None, feedback: str = "fb-1", bounce_type: str = "Permanent", envelope: bool = True
) -> str:
    mail: dict[str, Any] = {
        "timestamp": "2026-12-06T10:00:00.000Z",
        "messageId": ses_id,
        "source": SENDER,
        "destination": [SUBJECT_ADDRESS],
    }
    if header_id is not None:
        mail["commonHeaders"] = {"from": [SENDER], "to": [SUBJECT_ADDRESS], "messageId": f"<{header_id}>"}
    doc: dict[str, Any] = {"notificationType": kind, "mail": mail}
    if kind == "Bounce":
        doc["bounce"] = {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "feedbackId": feedback,
            "bouncedRecipients": [{"emailAddress": SUBJECT_ADDRESS}],
        }
    elif kind == "Complaint":
        doc["complaint"] = {
            "complaintFeedbackType": "abuse",
            "feedbackId": feedback,
            "complainedRecipients": [{"emailAddress": SUBJECT_ADDRESS}],
        }
    message = json.dumps(doc)
    if not envelope:
        return message
    return json.dumps(
        {"Type": "Notification", "MessageId": f"sns-{feedback}", "TopicArn": "arn:aws:sns:eu-west-1:123:ses", "Message": message}
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str]]:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        ses = boto3.client("ses", region_name="eu-west-1")
        ses.verify_email_identity(EmailAddress=SENDER)
        sqs = boto3.client("sqs", region_name="eu-west-1")
        url = sqs.create_queue(QueueName="dsar-bounces")["QueueUrl"]
        yield ses, sqs, url


def mail(mid: str) -> OutgoingMail:
    return OutgoingMail(message_id=mid, to=SUBJECT_ADDRESS, sender=SENDER, subject="Your request", body="Dear Jane Doe,\n")


def test_a_permanent_bounce_is_recorded_once_alerted_and_holds_the_open_request(sqlite_app: App, aws: tuple[Any, Any, str]) -> None:
    ses, sqs, url = aws
    ctx = sqlite_app.ctx
    logged = log_request(
        ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": [SUBJECT_ADDRESS]}}
    )
    ref = logged.request.reference
    ledger = SqlMailLedger(sqlite_app.engine)
    letter_id = message_id(ref, "verify-1-1")
    assert SesMailer(ses, ledger).send(mail(letter_id)) is True
    provider = _provider_id(sqlite_app, letter_id)

    # the notice names only SES's id (no headers): matched through the ledger
    sqs.send_message(QueueUrl=url, MessageBody=ses_notice("Bounce", provider))
    source = SqsBounceSource(sqs, url)
    done = sweep_bounces(ctx, source, ledger.message_for)
    assert done.recorded == [f"{ref}: verify-1-1 (permanent)"] and done.held == [ref] and done.alerted == [ref]
    with ctx.uow() as uow:
        rid = uow.requests.id_for_reference(ref)
        events = [e for e in uow.audit.events(rid) if e.kind == "LetterBounced"]
        alerts = [a for a in uow.alerts.undelivered(12) if a.request_id == rid]
        r = uow.requests.facts(rid)
    assert [e.details for e in events] == [{"letter": "verify-1-1", "bounce": "permanent", "subtype": "General"}]
    assert SUBJECT_ADDRESS not in json.dumps([e.details for e in events])
    assert [a.kind for a in alerts] == [LETTER_BOUNCED] and r.on_hold
    notice = describe(alerts[0], r)
    assert notice.urgent and "could not be delivered" in notice.title and SUBJECT_ADDRESS not in notice.body
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # settled: deleted from the queue

    # the queue delivers the same notice again: nothing new
    sqs.send_message(QueueUrl=url, MessageBody=ses_notice("Bounce", provider))
    again = sweep_bounces(ctx, source, ledger.message_for)
    assert again.recorded == [] and again.held == [] and again.alerted == []

    # a transient bounce and a complaint, matched by the Message-ID header (raw delivery): recorded only
    sqs.send_message(
        QueueUrl=url,
        MessageBody=ses_notice("Bounce", "other-ses-id", header_id=letter_id, feedback="tr-2", bounce_type="Transient", envelope=False),
    )
    sqs.send_message(QueueUrl=url, MessageBody=ses_notice("Complaint", "other-ses-id", header_id=letter_id, feedback="cp-3"))
    # not dsar's mail, a delivery report, and garbage: counted and deleted
    sqs.send_message(QueueUrl=url, MessageBody=ses_notice("Bounce", "unknown", header_id="<someone@else>", feedback="fb-4"))
    sqs.send_message(QueueUrl=url, MessageBody=ses_notice("Delivery", provider, feedback="dl-5"))
    sqs.send_message(QueueUrl=url, MessageBody="{'; DROP TABLE audit_event; --")
    more = sweep_bounces(ctx, source, ledger.message_for)
    assert sorted(more.recorded) == [f"{ref}: verify-1-1 (complaint)", f"{ref}: verify-1-1 (transient)"]
    assert more.alerted == [] and (more.not_ours, more.not_failures, more.malformed) == (1, 1, 1)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with ctx.uow() as uow:
        assert [a.kind for a in uow.alerts.undelivered(12) if a.request_id == rid] == [LETTER_BOUNCED]  # still the one


def _provider_id(app: App, mid: str) -> str:
    from sqlmodel import Session, select

    from dsar.persistence.mail_ledger import MailLedgerRow

    with Session(app.engine) as s:
        row = s.exec(select(MailLedgerRow).where(MailLedgerRow.message_id == mid)).one()
    assert row.provider_id
    return row.provider_id


def test_a_notice_is_read_from_the_sns_envelope_or_raw_and_from_event_publishing() -> None:
    enveloped = parse_notice(ses_notice("Bounce", "ses-1", header_id="DSR-2026-000001.denial@dsar"))
    assert (enveloped.kind, enveloped.provider_id, enveloped.message_id, enveloped.notice_id) == (
        "permanent",
        "ses-1",
        "DSR-2026-000001.denial@dsar",
        "fb-1",
    )
    published = json.loads(ses_notice("Bounce", "ses-2", envelope=False))
    published["eventType"] = published.pop("notificationType")
    assert parse_notice(json.dumps(published)).kind == "permanent"
    assert parse_notice(ses_notice("Delivery", "ses-3")).failure is False
    undetermined = json.loads(ses_notice("Bounce", "ses-4", envelope=False))
    undetermined["bounce"]["bounceType"] = "Undetermined"
    assert parse_notice(json.dumps(undetermined)).kind == "undetermined"
    from dsar.domain.bounces import MalformedNotice

    for bad in ("", "[]", "{}", json.dumps({"notificationType": "Bounce"}), json.dumps({"Type": "Notification", "Message": "nope"})):
        with pytest.raises(MalformedNotice):
            parse_notice(bad)
