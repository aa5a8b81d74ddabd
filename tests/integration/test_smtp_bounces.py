"""Letters an SMTP server accepted and then could not deliver: the server mails its report back to
the letters' sender (an RFC 3464 delivery status notification; a complaint in RFC 5965's
format), the mailbox is delivered into a Maildir folder (DSAR_MAIL_BOUNCE_MAILDIR), and the
deadline watch's bounce sweep reads it as it reads SES's queue: matched to the letter through the
Message-ID of the original the report returns, recorded once, alerted and held; every mail it
read is moved into the folder's ``settled`` subfolder, never deleted."""

from __future__ import annotations

import json
import mailbox
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from dsar.app import App, sweep_bounces
from dsar.domain.alerts import LETTER_BOUNCED
from dsar.domain.bounces import COMPLAINT, PERMANENT, TRANSIENT, MalformedNotice, parse_report
from dsar.domain.errors import ConfigurationError
from dsar.domain.letters import message_id
from dsar.letters.bounces import MaildirBounceSource
from dsar.letters.outbox import build_message
from dsar.persistence.mail_ledger import SqlMailLedger
from dsar.services.bounces import sweep_bounces as sweep
from dsar.services.context import ServiceContext
from dsar.services.intake import log_request
from dsar.services.ports import OutgoingMail

SENDER = "privacy@example-shop.test"
SUBJECT_ADDRESS = "jane.doe@example.com"


def letter(mid: str) -> EmailMessage:
    """The message dsar's SMTP transport sends for this letter (the same builder)."""
    return build_message(OutgoingMail(message_id=mid, to=SUBJECT_ADDRESS, sender=SENDER, subject="Your request", body="Dear Jane,\n"))


def dsn(
    original: EmailMessage, *, action: str = "failed", status: str = "5.1.1", report_id: str = "dsn-1@mx.test", whole: bool = False
) -> bytes:
    """A delivery status notification as Postfix writes one: a human part, the delivery status
    (per-message and per-recipient fields), and the original's headers (or the whole of it)."""
    returned = (
        "Content-Type: message/rfc822\n\n" + original.as_string()
        if whole
        else "Content-Type: text/rfc822-headers\n\n" + "".join(f"{k}: {v}\n" for k, v in original.items())
    )
    return _report(
        "delivery-status",
        report_id,
        f"I'm sorry to have to inform you that your message could not be delivered to <{SUBJECT_ADDRESS}>.",
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example-shop.test\nArrival-Date: Sun, 6 Dec 2026 10:00:00 +0000\n\n"
        f"Final-Recipient: rfc822; {SUBJECT_ADDRESS}\nOriginal-Recipient: rfc822;{SUBJECT_ADDRESS}\nAction: {action}\n"
        f"Status: {status}\nRemote-MTA: dns; mx.example.com\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{SUBJECT_ADDRESS}>: Recipient address rejected: User unknown\n",
        returned,
    )


def arf(original: EmailMessage, report_id: str = "arf-1@isp.test") -> bytes:
    """A complaint in the Abuse Reporting Format (RFC 5965), the original attached."""
    return _report(
        "feedback-report",
        report_id,
        "This is an email abuse report.",
        "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: ISP-FBL/1.0\nVersion: 1\n",
        "Content-Type: message/rfc822\n\n" + original.as_string(),
    )


def _report(report_type: str, report_id: str, human: str, *parts: str) -> bytes:
    b = "=_report_boundary"
    head = (
        "From: MAILER-DAEMON@mx.example-shop.test (Mail Delivery System)\n"
        f"To: {SENDER}\nSubject: Undelivered Mail Returned to Sender\nMessage-ID: <{report_id}>\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type={report_type}; boundary="{b}"\n\n'
    )
    body = f"--{b}\nContent-Type: text/plain; charset=us-ascii\n\n{human}\n\n"
    body += "".join(f"--{b}\n{p}\n" for p in parts)
    return (head + body + f"--{b}--\n").encode()


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    path = tmp_path / "bounces"
    mailbox.Maildir(path, create=True)
    return path


def deliver(path: Path, raw: bytes) -> None:
    mailbox.Maildir(path, create=False).add(raw)


def logged(ctx: ServiceContext) -> str:
    """The reference of a new access request whose letters go to SUBJECT_ADDRESS."""
    return log_request(
        ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": [SUBJECT_ADDRESS]}}
    ).request.reference


def settled(path: Path) -> list[bytes]:
    box = mailbox.Maildir(path, create=False).get_folder("settled")
    return [box.get_bytes(k) for k in box.keys()]


def test_a_failed_delivery_is_recorded_once_alerted_held_and_every_read_mail_is_kept(sqlite_app: App, maildir: Path) -> None:
    ctx = sqlite_app.ctx
    ref = logged(ctx)
    original = letter(message_id(ref, "verify-1-1"))
    ledger = SqlMailLedger(sqlite_app.engine)
    source = MaildirBounceSource(maildir)

    deliver(maildir, dsn(original))
    done = sweep(ctx, source, ledger.message_for)
    assert done.recorded == [f"{ref}: verify-1-1 (permanent)"] and done.held == [ref] and done.alerted == [ref]
    with ctx.uow() as uow:
        rid = uow.requests.id_for_reference(ref)
        events = [e for e in uow.audit.events(rid) if e.kind == "LetterBounced"]
        alerts = [a for a in uow.alerts.undelivered(12) if a.request_id == rid]
        r = uow.requests.facts(rid)
    assert [e.details for e in events] == [{"letter": "verify-1-1", "bounce": "permanent", "subtype": "5.1.1"}]
    assert SUBJECT_ADDRESS not in json.dumps([e.details for e in events])  # the diagnostic names it; the record does not
    assert [a.kind for a in alerts] == [LETTER_BOUNCED] and r.on_hold
    assert mailbox.Maildir(maildir, create=False).keys() == [] and len(settled(maildir)) == 1  # moved, not deleted

    # the same report delivered again (a second copy in the mailbox): nothing new
    deliver(maildir, dsn(original))
    again = sweep(ctx, source, ledger.message_for)
    assert again.recorded == [] and again.held == [] and again.alerted == []

    # a delay (the original attached whole), a complaint, a success report, someone else's bounce,
    # a reply a person wrote, and a report carrying template and SQL syntax in its fields
    deliver(maildir, dsn(original, action="delayed", status="4.4.1", report_id="dsn-2@mx.test", whole=True))
    deliver(maildir, arf(original))
    deliver(maildir, dsn(original, action="delivered", status="2.0.0", report_id="dsn-3@mx.test"))
    deliver(maildir, dsn(letter("someone@else.test"), report_id="dsn-4@mx.test"))
    reply = EmailMessage()
    reply["From"], reply["Subject"] = SUBJECT_ADDRESS, f"Re: {ref}"
    reply.set_content("Please call me instead.\n")
    deliver(maildir, reply.as_bytes())
    deliver(maildir, dsn(original, status="{{ 7*7 }}'; DROP TABLE audit_event; --", report_id="dsn-5@mx.test"))
    more = sweep(ctx, source, ledger.message_for)
    assert sorted(more.recorded) == [f"{ref}: verify-1-1 (complaint)", f"{ref}: verify-1-1 (permanent)", f"{ref}: verify-1-1 (transient)"]
    assert (more.not_ours, more.not_failures, more.malformed) == (1, 1, 1)
    assert more.alerted == []  # the request has its alert already (one per request and kind)
    with ctx.uow() as uow:
        details = [e.details for e in uow.audit.events(rid) if e.kind == "LetterBounced"]
    assert {"letter": "verify-1-1", "bounce": "permanent", "subtype": ""} in details  # the hostile status: not a code, not kept
    assert mailbox.Maildir(maildir, create=False).keys() == []
    kept = settled(maildir)
    assert len(kept) == 8 and any(b"Please call me instead." in k for k in kept)  # the reply is there for a person


def test_the_watch_reads_the_maildir_of_its_settings_and_refuses_a_folder_that_is_none(
    sqlite_app: App, maildir: Path, tmp_path: Path
) -> None:
    ctx = sqlite_app.ctx
    ref = logged(ctx)
    assert sweep_bounces(sqlite_app) is None  # neither a queue nor a Maildir configured
    deliver(maildir, dsn(letter(message_id(ref, "ack")), action="delayed", status="4.2.2"))
    configured = App(**{**sqlite_app.__dict__, "settings": sqlite_app.settings.model_copy(update={"mail_bounce_maildir": maildir})})
    done = sweep_bounces(configured)
    assert done is not None and done.recorded == [f"{ref}: ack (transient)"] and done.held == []
    plain = tmp_path / "not-a-maildir"
    plain.mkdir()
    with pytest.raises(ConfigurationError, match="not a Maildir"):
        MaildirBounceSource(plain)


@pytest.mark.parametrize(
    ("action", "status", "kind", "subtype"),
    [
        ("failed", "5.7.1", PERMANENT, "5.7.1"),
        ("Failed", "5.0.0 (permanent failure)", PERMANENT, "5.0.0"),
        ("delayed", "4.4.7", TRANSIENT, "4.4.7"),
    ],
)
def test_a_report_says_what_happened_to_the_letter(action: str, status: str, kind: str, subtype: str) -> None:
    original = letter("DSR-2026-000001.verify-1-1@dsar")
    notice = parse_report(dsn(original, action=action, status=status), "file-1")
    assert (notice.kind, notice.subtype, notice.notice_id) == (kind, subtype, "dsn-1@mx.test")
    assert notice.message_id == "DSR-2026-000001.verify-1-1@dsar"
    complaint = parse_report(arf(original), "file-2")
    assert (complaint.kind, complaint.subtype, complaint.message_id) == (COMPLAINT, "abuse", "DSR-2026-000001.verify-1-1@dsar")


def test_anything_but_a_report_is_refused_without_its_content() -> None:
    plain = MIMEText("Dear privacy team, jane.doe@example.com here.")
    for raw in (plain.as_bytes(), b"\x00\xff garbage", b"", b"x" * (10 * 1024 * 1024 + 1)):
        with pytest.raises(MalformedNotice) as caught:
            parse_report(raw)
        assert "jane" not in str(caught.value)
    no_status = MIMEMultipart("report", report_type="delivery-status")
    no_status.attach(MIMEText("nothing here"))
    with pytest.raises(MalformedNotice, match="without delivery status"):
        parse_report(no_status.as_bytes())
