"""The default mail transport: each message becomes an .eml file in an outbox folder.

Files are written atomically and named after the message id, so sending the same message
twice writes nothing the second time.
"""

from __future__ import annotations

import os
import re
import tempfile
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from dsar.domain.errors import InvalidInput
from dsar.services.ports import Mailer, OutgoingMail

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def one_address(value: str, role: str) -> Address:
    """Exactly one address, validated as an address (email-validator, no DNS), built as a header
    object so nothing in it is decoded into more recipients or headers. Raises InvalidInput
    naming the role, never the value."""
    from email_validator import EmailNotValidError, validate_email

    problem = [f"{role}: not exactly one valid email address"]
    if "=?" in value or any(c in value for c in '\r\n,;<>"()'):
        raise InvalidInput(f"the {role} is not one valid email address", problem)
    try:
        # test_environment: accept the reserved .test domain the demo company uses (RFC 2606).
        valid = validate_email(value, check_deliverability=False, allow_smtputf8=True, test_environment=True)
    except EmailNotValidError:
        raise InvalidInput(f"the {role} is not one valid email address", problem) from None
    return Address(addr_spec=valid.normalized)


def build_message(mail: OutgoingMail) -> EmailMessage:
    """The MIME message of ``mail``: the text body, its HTML alternative, the attachments."""
    msg = EmailMessage()
    msg["Message-ID"] = f"<{mail.message_id}>"
    msg["Date"] = formatdate(localtime=False)
    msg["From"] = one_address(mail.sender, "sender")
    msg["To"] = one_address(mail.to, "recipient")
    msg["Subject"] = mail.subject
    for k, v in mail.headers.items():
        msg[k] = v
    msg.set_content(mail.body)
    if mail.html:
        msg.add_alternative(mail.html, subtype="html")
    for a in mail.attachments:
        maintype, _, subtype = a.mime_type.partition("/")
        msg.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
    return msg


class FolderOutbox(Mailer):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, message_id: str) -> Path:
        return self.folder / (_SAFE.sub("_", message_id)[:180] + ".eml")

    def send(self, mail: OutgoingMail) -> bool:
        path = self.path_for(mail.message_id)
        if path.exists():
            return False
        msg = build_message(mail)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(bytes(msg))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True
