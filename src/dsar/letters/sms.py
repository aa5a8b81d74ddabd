"""Text-message (SMS) transports: the outbox folder (the default) and AWS SNS.

The verification link and code go by SMS to a subject whose only contact on file is a phone
(:mod:`dsar.services.identity`). Like the mail transports, each message has a deterministic id
and goes once: the outbox writes one file per id and drops a second send; SNS consults the mail
ledger before publishing and records the message right after SNS accepted it, so a re-run never
texts twice. Transient failures are tried again (``attempts``), then raised as DeliveryFailed:
the caller holds the request with the reason.

Errors name the transport and the kind of failure, never the number or the text.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsar.domain.errors import ConfigurationError, DeliveryFailed
from dsar.letters.transports import send_once
from dsar.services.ports import MailLedger, TextMessage, TextMessenger

_SAFE = re.compile(r"[^A-Za-z0-9._-]")
# One number in E.164: a plus, a country code not starting with 0, at most 15 digits in all.
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# SNS's alphanumeric sender id: 1-11 letters and digits, at least one letter.
_SENDER_ID = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9]{1,11}")
# SNS refuses a message over 1600 bytes; a verification text is a fraction of that.
MAX_BODY = 1600


def _check(message: TextMessage, transport: str) -> None:
    """A message to exactly one E.164 number with a body of reasonable size; else DeliveryFailed
    naming the transport and the problem (never the number)."""
    if not E164.fullmatch(message.to):
        raise DeliveryFailed(f"{transport}: the recipient is not one phone number in E.164 form")
    if not message.body.strip() or len(message.body.encode()) > MAX_BODY:
        raise DeliveryFailed(f"{transport}: the text is empty or longer than {MAX_BODY} bytes")


class FolderTexts(TextMessenger):
    """Each message becomes ``<message id>.txt`` in a folder (HOME/outbox/sms by default): the
    recipient's number on a ``To:`` line, a blank line, the text. Written atomically (a
    temporary file renamed), readable by the service account only (0600 in a 0700 folder);
    a message whose file exists is not written again."""

    transport = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, message_id: str) -> Path:
        return self.folder / (_SAFE.sub("_", message_id)[:180] + ".txt")

    def send(self, message: TextMessage) -> bool:
        _check(message, "sms outbox")
        path = self.path_for(message.message_id)
        if path.exists():
            return False
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"To: {message.to}\n\n{message.body}\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True


# SNS's own codes for a busy service, besides the ones every AWS service uses (dsar.connectors.aws).
_SNS_BUSY = frozenset({"Throttled", "KMSThrottling", "InternalError"})


class SnsTexter(TextMessenger):
    """AWS SNS ``Publish`` to a phone number, as a transactional SMS (``AWS.SNS.SMS.SMSType``),
    with the organisation's sender id where the country allows one (``sender_id``); region and
    credentials from the standard AWS settings."""

    transport = "sns"

    def __init__(
        self,
        client: Any,
        ledger: MailLedger,
        *,
        sender_id: str | None = None,
        attempts: int = 3,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        if sender_id is not None and not _SENDER_ID.fullmatch(sender_id):
            raise ConfigurationError("DSAR_SMS_SENDER_ID: 1 to 11 letters and digits, at least one letter")
        self.client, self.ledger, self.sender_id, self.attempts, self._pause = client, ledger, sender_id, attempts, pause

    def send(self, message: TextMessage) -> bool:
        _check(message, self.transport)
        return send_once(
            self.ledger, self.transport, message.message_id, lambda: self._publish(message), self._classify, self.attempts, self._pause
        )

    def _publish(self, message: TextMessage) -> str | None:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        answer = self.client.publish(PhoneNumber=message.to, Message=message.body, MessageAttributes=attributes)
        return str(answer.get("MessageId")) if answer.get("MessageId") else None

    def _classify(self, exc: Exception) -> tuple[bool, str]:
        from dsar.connectors.aws import Fault, classify

        failure = classify(exc)
        code = failure.code
        if code in _SNS_BUSY or failure.fault is Fault.BUSY:
            return True, f"SNS answered {code}"
        if failure.fault is Fault.UNREACHABLE or isinstance(exc, ConnectionError | TimeoutError):
            return True, f"SNS could not be reached ({code})"
        if failure.fault is Fault.CREDENTIALS:
            return False, f"no usable AWS credentials or region ({code})"
        if failure.fault is Fault.FAILED:
            return False, f"sending failed ({code})"
        return False, f"SNS refused the message ({code})"
