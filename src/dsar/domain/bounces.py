"""What a mail service's bounce or complaint notice says: AWS SES's notification format (in an
SNS envelope or raw), or the report an SMTP server mails back (RFC 3464 delivery status
notifications, RFC 5965 complaints): pure parsing, no I/O. The queue it arrives through is an adapter
(:mod:`dsar.letters.bounces`); what dsar does with it, a service (:mod:`dsar.services.bounces`).

Nothing here keeps an address: a notice is known by the message ids it names (the service's
own id, which the mail ledger maps back to dsar's, and the Message-ID header dsar wrote, which
names the request and the letter) and by its kind.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from dataclasses import dataclass
from email.message import Message
from typing import Any

# What the notice says happened to the message.
PERMANENT, TRANSIENT, UNDETERMINED, COMPLAINT = "permanent", "transient", "undetermined", "complaint"


@dataclass(frozen=True)
class BounceNotice:
    """One notification about one message: ``kind`` one of the constants above (or
    ``delivery`` and the like for notices that are no failure)."""

    notice_id: str  # the service's id of this notification (feedbackId, or the SNS message id)
    provider_id: str  # the service's id of the message (SES MessageId)
    message_id: str | None  # the Message-ID header dsar wrote, when the notice carries headers
    kind: str
    subtype: str

    @property
    def failure(self) -> bool:
        return self.kind in (PERMANENT, TRANSIENT, UNDETERMINED, COMPLAINT)


class MalformedNotice(ValueError):
    """A queue message that is no SES notification (said without its content)."""


def parse_notice(body: str, queue_message_id: str = "") -> BounceNotice:
    """One SQS message body: an SNS notification envelope around the SES document, or the
    document itself (raw delivery). Raises MalformedNotice."""
    try:
        doc: Any = json.loads(body)
        if isinstance(doc, dict) and doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str):
            envelope_id = str(doc.get("MessageId") or "")
            doc = json.loads(doc["Message"])
        else:
            envelope_id = ""
    except (ValueError, TypeError) as exc:
        raise MalformedNotice("not JSON") from exc
    if not isinstance(doc, dict):
        raise MalformedNotice("not an object")
    what = str(doc.get("notificationType") or doc.get("eventType") or "")
    mail = doc.get("mail")
    if not what or not isinstance(mail, dict) or not mail.get("messageId"):
        raise MalformedNotice("no notification type or message id")
    provider_id = str(mail["messageId"])
    headers = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), dict) else {}
    header_id = headers.get("messageId") if isinstance(headers, dict) else None
    if not header_id:
        for h in mail.get("headers") or []:
            if isinstance(h, dict) and str(h.get("name", "")).lower() == "message-id":
                header_id = h.get("value")
    message_id = str(header_id).strip().strip("<>") if header_id else None
    kind, subtype, feedback = what.lower(), "", ""
    if what == "Bounce":
        bounce: dict[str, Any] = doc["bounce"] if isinstance(doc.get("bounce"), dict) else {}
        kind = {"Permanent": PERMANENT, "Transient": TRANSIENT}.get(str(bounce.get("bounceType")), UNDETERMINED)
        subtype = str(bounce.get("bounceSubType") or "")
        feedback = str(bounce.get("feedbackId") or "")
    elif what == "Complaint":
        complaint: dict[str, Any] = doc["complaint"] if isinstance(doc.get("complaint"), dict) else {}
        kind = COMPLAINT
        subtype = str(complaint.get("complaintFeedbackType") or "")
        feedback = str(complaint.get("feedbackId") or "")
    notice_id = feedback or envelope_id or queue_message_id or f"{provider_id}:{kind}"
    return BounceNotice(notice_id, provider_id, message_id, kind, subtype[:64])


# A report larger than this is not read (a bounce carries the original's headers, at most the
# original letter: well under it).
MAX_REPORT_BYTES = 10 * 1024 * 1024


def parse_report(raw: bytes, fallback_id: str = "") -> BounceNotice:
    """One mail from the mailbox an SMTP server's bounces go to: a delivery status notification
    (RFC 3464, ``multipart/report; report-type=delivery-status``) or a complaint in the Abuse
    Reporting Format (RFC 5965, ``report-type=feedback-report``). The letter is known by the
    Message-ID of the original the report returns (its headers, or the whole message); the notice
    by the report's own Message-ID (else ``fallback_id``: the mailbox's name of the file).

    A recipient whose ``Action`` is ``failed`` is a permanent bounce (``subtype``: its
    ``Status``, e.g. 5.1.1), ``delayed`` a transient one (the server goes on trying); a report
    that says ``delivered``, ``relayed`` or ``expanded`` is no failure. Raises MalformedNotice
    for anything that is not such a report (a reply someone wrote, a plain-text bounce)."""
    if len(raw) > MAX_REPORT_BYTES:
        raise MalformedNotice("larger than a bounce")
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.get_content_type() != "multipart/report":
        raise MalformedNotice("not a delivery or feedback report")
    report_type = str(msg.get_param("report-type", "") or "").lower()
    notice_id = _message_id(msg.get("Message-ID")) or fallback_id
    original: str | None = None
    status_blocks: list[Message] = []
    feedback_type = ""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in ("text/rfc822-headers", "text/rfc822-header"):
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                original = original or _message_id(email.message_from_bytes(text, policy=email.policy.compat32).get("Message-ID"))
        elif kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                original = original or _message_id(inner[0].get("Message-ID"))
        elif kind in ("message/delivery-status", "message/global-delivery-status"):
            blocks = part.get_payload()
            if isinstance(blocks, list):
                status_blocks += [b for b in blocks if isinstance(b, Message)]
            elif isinstance(blocks, str):  # some servers send it as plain text: read its blocks
                status_blocks += [email.message_from_string(b.strip() + "\n") for b in blocks.split("\n\n") if b.strip()]
        elif kind == "message/feedback-report":
            blocks = part.get_payload()
            fields = blocks[0] if isinstance(blocks, list) and blocks and isinstance(blocks[0], Message) else None
            if fields is None and isinstance(blocks, str):
                fields = email.message_from_string(blocks.strip() + "\n")
            if fields is not None:
                feedback_type = str(fields.get("Feedback-Type") or "").strip().lower()
    if report_type == "feedback-report" or feedback_type:
        return BounceNotice(notice_id, "", original, COMPLAINT, (feedback_type or "abuse")[:64])
    if report_type not in ("delivery-status", "global-delivery-status") or not status_blocks:
        raise MalformedNotice("a report without delivery status")
    actions = [(str(b.get("Action") or "").strip().lower(), _status(b.get("Status"))) for b in status_blocks if b.get("Action")]
    if not actions:
        raise MalformedNotice("a delivery status without an action")
    failed = [status for action, status in actions if action == "failed"]
    delayed = [status for action, status in actions if action == "delayed"]
    if failed:
        return BounceNotice(notice_id, "", original, PERMANENT, failed[0])
    if delayed:
        return BounceNotice(notice_id, "", original, TRANSIENT, delayed[0])
    return BounceNotice(notice_id, "", original, actions[0][0][:32] or "delivered", actions[0][1])


def _message_id(value: object) -> str | None:
    text = str(value or "").strip()
    return text.strip("<>").strip() or None if text else None


def _status(value: object) -> str:
    """An RFC 3463 status code (``5.1.1``), or nothing: never the diagnostic text (it may name
    the address)."""
    found = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})", str(value or ""))
    return found.group(1) if found else ""


def parse_sms_failure(body: str, event_id: str) -> BounceNotice:
    """One entry of the log AWS SNS writes for a text message it could not deliver (its SMS
    delivery status logging, the ``…/DirectPublishToPhoneNumber/Failure`` log group of CloudWatch
    Logs): the text is known by SNS's message id, which the mail ledger maps back to dsar's; the
    notice by the log event's id. SNS writes a failure only once it has given up, so it is a
    permanent bounce; nothing else is kept of it (the entry names the number and the carrier's
    answer). Raises MalformedNotice for an entry that is not such a record."""
    try:
        doc: Any = json.loads(body)
    except (ValueError, TypeError) as exc:
        raise MalformedNotice("not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("notification"), dict):
        raise MalformedNotice("not an SMS delivery record")
    provider_id = str(doc["notification"].get("messageId") or "")
    status = str(doc.get("status") or "").upper()
    if not provider_id or not status:
        raise MalformedNotice("an SMS delivery record without a message id or status")
    kind = PERMANENT if status == "FAILURE" else status.lower()[:32]
    return BounceNotice(event_id or f"{provider_id}:{kind}", provider_id, None, kind, "sms")
