"""The SQS queue AWS SES's bounce and complaint notifications arrive in.

SES reports them (identity notifications, or event publishing through a configuration set) to
an SNS topic; an SQS queue subscribed to that topic keeps them until dsar reads them
(``DSAR_MAIL_BOUNCE_QUEUE_URL``). :class:`SqsBounceSource` receives and deletes them;
:func:`dsar.domain.bounces.parse_notice` reads one.
"""

from __future__ import annotations

from typing import Any

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
