"""What a mail service's bounce or complaint notice says (AWS SES's notification format, in an
SNS envelope or raw): pure parsing, no I/O. The queue it arrives through is an adapter
(:mod:`dsar.letters.bounces`); what dsar does with it, a service (:mod:`dsar.services.bounces`).

Nothing here keeps an address: a notice is known by the message ids it names (the service's
own id, which the mail ledger maps back to dsar's, and the Message-ID header dsar wrote, which
names the request and the letter) and by its kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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
