"""The mail transports against real servers: SMTP through a local aiosmtpd server that offers
STARTTLS with a self-signed certificate (checked: trusted only when its CA file is given), and
AWS SES through moto. The mail ledger (SQLite) keeps a re-run from sending twice; transient
failures are tried again, permanent ones held with a reason that names no address."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dsar.domain.errors import ConfigurationError, DeliveryFailed
from dsar.letters.transports import SesMailer, SmtpMailer
from dsar.persistence.database import make_engine, upgrade
from dsar.persistence.mail_ledger import SqlMailLedger
from dsar.services.ports import Attachment, OutgoingMail


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


class Inbox:
    """aiosmtpd handler: keeps what it accepted; answers 451 to the first ``defer`` messages."""

    def __init__(self, defer: int = 0) -> None:
        self.messages: list[Any] = []
        self.defer = defer
        self.tries = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.tries += 1
        if self.defer > 0:
            self.defer -= 1
            return "451 4.3.0 try again later"
        self.messages.append((session.tls_version if hasattr(session, "tls_version") else None, envelope))
        return "250 OK"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqlMailLedger]:
    engine = make_engine(f"sqlite:///{tmp_path / 'dsar.db'}")
    upgrade(engine)
    yield SqlMailLedger(engine)
    engine.dispose()


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    cert, key = self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return cert, ctx


def serve(handler: Inbox, tls_context: ssl.SSLContext | None) -> Controller:
    kwargs: dict[str, Any] = {"tls_context": tls_context, "require_starttls": True} if tls_context else {}
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


def letter(message_id: str = "DSR-2026-000001.access_response@dsar") -> OutgoingMail:
    return OutgoingMail(
        message_id=message_id,
        to="jane.doe@example.com",
        sender="privacy@example-shop.test",
        subject="Your access request DSR-2026-000001: our response",
        body="Dear Jane Doe,\n\nour answer.\n",
        attachments=(Attachment("DSR-2026-000001-access-response.pdf", b"%PDF-1.7 letter", "application/pdf"),),
        html="<p>Dear Jane Doe,</p>",
    )


def no_pause(_: float) -> None:
    return None


def test_smtp_sends_over_starttls_with_the_certificate_checked_and_never_twice(
    tls: tuple[Path, ssl.SSLContext], ledger: SqlMailLedger
) -> None:
    cert, context = tls
    inbox = Inbox()
    controller = serve(inbox, context)
    try:
        mailer = SmtpMailer("localhost", controller.port, ledger, ca_file=cert, pause=no_pause)
        assert mailer.send(letter()) is True
        assert mailer.send(letter()) is False  # the ledger remembers: a re-run sends nothing
        assert ledger.sent("DSR-2026-000001.access_response@dsar")
    finally:
        controller.stop()
    assert inbox.tries == 1
    ((_, envelope),) = inbox.messages
    assert envelope.rcpt_tos == ["jane.doe@example.com"]
    msg = message_from_bytes(envelope.content, policy=policy.default)
    assert msg["Subject"] == "Your access request DSR-2026-000001: our response"
    assert msg.get_body(preferencelist=("html",)) is not None
    assert [a.get_content_type() for a in msg.iter_attachments()] == ["application/pdf"]


def test_smtp_refuses_a_server_whose_certificate_it_cannot_verify(tls: tuple[Path, ssl.SSLContext], ledger: SqlMailLedger) -> None:
    _, context = tls
    inbox = Inbox()
    controller = serve(inbox, context)
    try:
        mailer = SmtpMailer("localhost", controller.port, ledger, pause=no_pause)  # the system's CAs: self-signed is not among them
        with pytest.raises(DeliveryFailed, match="certificate could not be verified") as failed:
            mailer.send(letter())
    finally:
        controller.stop()
    assert inbox.messages == [] and not ledger.sent(letter().message_id)
    assert "jane" not in str(failed.value)


def test_smtp_sends_nothing_to_a_server_without_starttls(ledger: SqlMailLedger, tmp_path: Path) -> None:
    inbox = Inbox()
    controller = serve(inbox, None)
    try:
        with pytest.raises(DeliveryFailed, match="does not offer STARTTLS; nothing was sent in clear"):
            SmtpMailer("127.0.0.1", controller.port, ledger, pause=no_pause).send(letter())
    finally:
        controller.stop()
    assert inbox.messages == []


def test_smtp_tries_a_deferred_message_again_then_gives_up_with_the_reason(tls: tuple[Path, ssl.SSLContext], ledger: SqlMailLedger) -> None:
    cert, context = tls
    inbox = Inbox(defer=1)
    controller = serve(inbox, context)
    pauses: list[float] = []
    try:
        assert SmtpMailer("localhost", controller.port, ledger, ca_file=cert, pause=pauses.append).send(letter()) is True
        inbox.defer = 5
        with pytest.raises(DeliveryFailed, match=r"smtp: the server answered 451 \(after 3 attempts\)"):
            SmtpMailer("localhost", controller.port, ledger, ca_file=cert, pause=pauses.append).send(letter("other@dsar"))
    finally:
        controller.stop()
    assert len(inbox.messages) == 1 and pauses == [1.0, 1.0, 2.0]
    assert not ledger.sent("other@dsar")


def test_smtp_cannot_reach_a_closed_port_and_says_so(ledger: SqlMailLedger) -> None:
    with pytest.raises(DeliveryFailed, match=r"could not be reached .*after 2 attempts"):
        SmtpMailer("127.0.0.1", free_port(), ledger, attempts=2, pause=no_pause).send(letter())
    with pytest.raises(ConfigurationError, match="DSAR_SMTP_HOST"):
        SmtpMailer("", 587, ledger)


class Throttled:
    """A boto3 SES client whose first ``n`` calls are throttled (SES's own error shape)."""

    def __init__(self, client: Any, n: int) -> None:
        self.client, self.n = client, n

    def send_raw_email(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        if self.n > 0:
            self.n -= 1
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendRawEmail")
        return self.client.send_raw_email(**kwargs)


def test_ses_sends_the_raw_message_once_and_retries_throttling(ledger: SqlMailLedger, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        client = boto3.client("ses", region_name="eu-west-1")
        with pytest.raises(DeliveryFailed, match=r"SES refused the message \(MessageRejected\)"):
            SesMailer(client, ledger, pause=no_pause).send(letter("unverified@dsar"))  # sender not verified: permanent
        client.verify_email_identity(EmailAddress="privacy@example-shop.test")
        mailer = SesMailer(Throttled(client, 1), ledger, pause=no_pause)
        assert mailer.send(letter()) is True
        assert mailer.send(letter()) is False
        sent = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
        assert len(sent) == 1
        raw = message_from_bytes(sent[0].raw_data.encode(), policy=policy.default)
        assert raw["To"] == "jane.doe@example.com"
        assert [a.get_content_type() for a in raw.iter_attachments()] == ["application/pdf"]
        with pytest.raises(DeliveryFailed, match=r"SES answered Throttling \(after 3 attempts\)"):
            SesMailer(Throttled(client, 9), ledger, pause=no_pause).send(letter("again@dsar"))
