"""The default mail transport: each message becomes an .eml file in an outbox folder.

Files are written atomically and named after the message id, so sending the same message
twice writes nothing the second time.
"""

from __future__ import annotations

import os
import re
import tempfile
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from dsar.services.ports import Mailer, OutgoingMail

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class FolderOutbox(Mailer):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, message_id: str) -> Path:
        return self.folder / (_SAFE.sub("_", message_id)[:180] + ".eml")

    def send(self, mail: OutgoingMail) -> bool:
        path = self.path_for(mail.message_id)
        if path.exists():
            return False
        msg = EmailMessage()
        msg["Message-ID"] = f"<{mail.message_id}>"
        msg["Date"] = formatdate(localtime=False)
        msg["From"] = mail.sender
        msg["To"] = mail.to
        msg["Subject"] = mail.subject
        for k, v in mail.headers.items():
            msg[k] = v
        msg.set_content(mail.body)
        for a in mail.attachments:
            maintype, _, subtype = a.mime_type.partition("/")
            msg.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
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
