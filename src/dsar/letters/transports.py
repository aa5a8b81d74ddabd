"""Mail transports besides the outbox folder: SMTP with mandatory STARTTLS and a checked
certificate, and AWS SES. Both consult the mail ledger before sending and record the message
right after the transport accepted it, so a re-run never sends a letter twice; transient
failures are tried again (``attempts``), then raised: the caller holds the request with the
reason, which the console and `dsar request show` display.

Errors name the transport and the kind of failure, never an address or the message.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsar.domain.errors import ConfigurationError, DeliveryFailed
from dsar.letters.outbox import build_message
from dsar.services.ports import Mailer, MailLedger, OutgoingMail

# SMTP replies worth trying again (RFC 5321 4yz: transient); 5yz are permanent.
_TRANSIENT_SMTP = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError)


def _now() -> datetime:
    return datetime.now(UTC)


def send_once(
    ledger: MailLedger,
    transport: str,
    message_id: str,
    attempt_once: Callable[[], str | None],
    classify: Callable[[Exception], tuple[bool, str]],
    attempts: int,
    pause: Callable[[float], None],
) -> bool:
    """Send one message through ``attempt_once`` (which returns the provider's id), unless the
    ledger has it already (False). A failure ``classify`` calls transient is tried again, up to
    ``attempts`` in all with a growing pause; the message is recorded in the ledger right after
    the transport accepted it. Raises DeliveryFailed naming the transport and the kind of
    failure (``classify``'s words), never the recipient or the text. Shared by the mail and the
    text-message transports."""
    if ledger.sent(message_id):
        return False
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            provider_id = attempt_once()
        except DeliveryFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below; never carries the message text out
            transient, last = classify(exc)
            if not transient or attempt == attempts:
                break
            pause(min(2.0 ** (attempt - 1), 10.0))
            continue
        ledger.record(message_id, transport, provider_id, _now())
        return True
    raise DeliveryFailed(f"{transport}: {last} (after {attempt} attempt{'s' if attempt != 1 else ''})")


class _Retrying(Mailer):
    transport = ""

    def __init__(self, ledger: MailLedger, attempts: int = 3, pause: Callable[[float], None] = time.sleep) -> None:
        self.ledger, self.attempts, self._pause = ledger, attempts, pause

    def send(self, mail: OutgoingMail) -> bool:
        return send_once(
            self.ledger, self.transport, mail.message_id, lambda: self._send_once(mail), self._classify, self.attempts, self._pause
        )

    def _send_once(self, mail: OutgoingMail) -> str | None:
        raise NotImplementedError

    def _classify(self, exc: Exception) -> tuple[bool, str]:
        raise NotImplementedError


class SmtpMailer(_Retrying):
    """SMTP submission with STARTTLS required (a server that does not offer it gets nothing)
    and the server's certificate checked against the system's CAs or ``ca_file``."""

    transport = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        ledger: MailLedger,
        *,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
        attempts: int = 3,
        timeout: float = 30.0,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(ledger, attempts, pause)
        if not host:
            raise ConfigurationError("DSAR_SMTP_HOST is required when DSAR_MAIL_TRANSPORT=smtp")
        self.host, self.port, self.username, self.password, self.timeout = host, port, username, password, timeout
        self.context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)  # verifies cert and host name

    def _send_once(self, mail: OutgoingMail) -> str | None:
        message = build_message(mail)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise DeliveryFailed("smtp: the server does not offer STARTTLS; nothing was sent in clear")
            smtp.starttls(context=self.context)
            smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
            refused = smtp.send_message(message)
            if refused:
                raise DeliveryFailed("smtp: the server refused the recipient")
        return None

    def _classify(self, exc: Exception) -> tuple[bool, str]:
        if isinstance(exc, ssl.SSLCertVerificationError):
            return False, "the server's certificate could not be verified"
        if isinstance(exc, ssl.SSLError):
            return False, "the TLS handshake failed"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return False, "the server refused the login"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            return False, "the server refused the recipient"
        if isinstance(exc, smtplib.SMTPResponseException):
            return 400 <= exc.smtp_code < 500, f"the server answered {exc.smtp_code}"
        if isinstance(exc, (*_TRANSIENT_SMTP, OSError)):
            return True, f"the server could not be reached ({type(exc).__name__})"
        return False, f"sending failed ({type(exc).__name__})"


class SesMailer(_Retrying):
    """AWS SES (``send_raw_email``: the same MIME message as the other transports, PDF and HTML
    part included); region and credentials from the standard AWS settings."""

    transport = "ses"

    def __init__(self, client: Any, ledger: MailLedger, *, attempts: int = 3, pause: Callable[[float], None] = time.sleep) -> None:
        super().__init__(ledger, attempts, pause)
        self.client = client

    def _send_once(self, mail: OutgoingMail) -> str | None:
        message = build_message(mail)
        answer = self.client.send_raw_email(Source=mail.sender, Destinations=[mail.to], RawMessage={"Data": bytes(message)})
        return str(answer.get("MessageId")) if answer.get("MessageId") else None

    def _classify(self, exc: Exception) -> tuple[bool, str]:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") if hasattr(exc, "response") else ""
        if code in ("Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure", "RequestTimeout"):
            return True, f"SES answered {code}"
        if code:
            return False, f"SES refused the message ({code})"
        if isinstance(exc, ConnectionError | TimeoutError | OSError) or "Connect" in type(exc).__name__ or "Timeout" in type(exc).__name__:
            return True, f"SES could not be reached ({type(exc).__name__})"
        return False, f"sending failed ({type(exc).__name__})"
