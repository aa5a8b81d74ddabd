"""Where the reports of letters that could not be delivered wait for dsar.

* AWS SES reports them (identity notifications, or event publishing through a configuration
  set) to an SNS topic; an SQS queue subscribed to that topic keeps them until dsar reads them
  (``DSAR_MAIL_BOUNCE_QUEUE_URL``). :class:`SqsBounceSource` receives and deletes them;
  :func:`dsar.domain.bounces.parse_notice` reads one.
* An SMTP server mails its reports (delivery status notifications, complaints) back to the
  letters' sender. The mailbox they reach is delivered, or synchronised (mbsync, getmail,
  fetchmail from an IMAP mailbox), into a Maildir folder (``DSAR_MAIL_BOUNCE_MAILDIR``).
  :class:`MaildirBounceSource` reads its new and current mail and moves each settled one into
  the Maildir's ``settled`` folder: nothing is deleted, and a mail that was no report (a reply
  someone wrote) is kept there for a person to read. :func:`dsar.domain.bounces.parse_report`
  reads one.
"""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Any

from dsar.domain.errors import ConfigurationError
from dsar.services.ports import BounceSource, ReceivedNotice


class SqsBounceSource(BounceSource):
    """The SQS queue SES's notifications arrive in (boto3 SQS client)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self.client, self.queue_url = client, queue_url

    def receive(self, max_messages: int = 10) -> list[ReceivedNotice]:
        answer = self.client.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=max(1, min(max_messages, 10)), WaitTimeSeconds=0)
        return [ReceivedNotice(m["ReceiptHandle"], str(m.get("MessageId", "")), str(m.get("Body", ""))) for m in answer.get("Messages", [])]

    def delete(self, handle: str) -> None:
        self.client.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)


class MaildirBounceSource(BounceSource):
    """A Maildir folder the SMTP server's reports are delivered into. Each mail is a notice
    (``format="report"``), known by its file's key; ``delete`` moves it into the folder's
    ``settled`` subfolder (Maildir++ ``.settled``), so a sweep never reads it again and a
    person still can."""

    SETTLED = "settled"

    def __init__(self, path: Path) -> None:
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise ConfigurationError(f"DSAR_MAIL_BOUNCE_MAILDIR is not a Maildir folder (no cur/ and new/): {path}")
        self.box = mailbox.Maildir(path, factory=None, create=False)
        folders = self.box.list_folders()
        self.settled = self.box.get_folder(self.SETTLED) if self.SETTLED in folders else self.box.add_folder(self.SETTLED)

    def receive(self, max_messages: int = 10) -> list[ReceivedNotice]:
        found = []
        for key in sorted(self.box.iterkeys())[: max(1, max_messages)]:
            try:
                raw = self.box.get_bytes(key)
            except KeyError:  # moved or deleted by someone else meanwhile
                continue
            found.append(ReceivedNotice(key, key, raw.decode("utf-8", "surrogateescape"), format="report"))
        return found

    def delete(self, handle: str) -> None:
        try:
            message = self.box.get_message(handle)
        except KeyError:
            return  # already gone
        self.settled.add(message)  # first a copy where it is kept, then out of the inbox: a crash between reads it again
        self.box.discard(handle)


class SnsSmsFailureSource(BounceSource):
    """The CloudWatch Logs group AWS SNS writes the text messages it could not deliver to (SMS
    delivery status logging: ``sns/REGION/ACCOUNT/DirectPublishToPhoneNumber/Failure``). A log is
    not a queue: each sweep reads the entries of the last ``lookback_hours`` (default 48, so a
    sweep that did not run for a day misses nothing), and one already recorded is recognised by
    its event id (``LetterBounced`` is recorded once per notice); ``delete`` forgets nothing."""

    def __init__(self, client: Any, log_group: str, *, since_ms: int) -> None:
        self.client, self.log_group, self.since_ms = client, log_group, since_ms
        self._next: str | None = None
        self._pending: list[ReceivedNotice] = []
        self._done = False

    def receive(self, max_messages: int = 10) -> list[ReceivedNotice]:
        while len(self._pending) < max_messages and not self._done:
            page: dict[str, Any] = {"logGroupName": self.log_group, "startTime": self.since_ms, "limit": 100}
            if self._next:
                page["nextToken"] = self._next
            answer = self.client.filter_log_events(**page)
            self._pending += [
                ReceivedNotice(str(e.get("eventId", "")), str(e.get("eventId", "")), str(e.get("message", "")), format="sns-sms")
                for e in answer.get("events", [])
            ]
            self._next = answer.get("nextToken")
            self._done = not self._next
        batch, self._pending = self._pending[:max_messages], self._pending[max_messages:]
        return batch

    def delete(self, handle: str) -> None:
        """Nothing to delete in a log: the entry stays, and is recognised when read again."""
