"""Ports the services depend on. Adapters implement them; tests may fake them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str = "application/json"


@dataclass(frozen=True)
class OutgoingMail:
    """A message to send. ``message_id`` is deterministic per request and purpose, so sending
    the same message twice is a no-op."""

    message_id: str
    to: str
    sender: str
    subject: str
    body: str
    attachments: Sequence[Attachment] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"OutgoingMail({self.message_id})"


class Mailer(ABC):
    @abstractmethod
    def send(self, mail: OutgoingMail) -> bool:
        """Send once; return False when this message id was already sent."""


class ObjectStore(ABC):
    """Where exports are kept (encrypted by the caller)."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get(self, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, key: str) -> bool: ...


@dataclass(frozen=True)
class Notice:
    """A message to the privacy team (deadline alerts). References and dates only: never
    personal data, since it leaves the engine for chat tools and webhooks."""

    title: str
    body: str
    urgent: bool = False


class NotificationFailed(Exception):
    """The notice did not reach (all of) its destinations; worth trying again later."""


class Notifier(ABC):
    @abstractmethod
    def notify(self, notice: Notice) -> None:
        """Deliver the notice or raise :class:`NotificationFailed`."""


class CheckpointArchive(ABC):
    """Where signed checkpoints are also written so history cannot be rewritten (write-once)."""

    @abstractmethod
    def put(self, name: str, document: bytes) -> str:
        """Store the document; return where it went (e.g. ``s3://bucket/key?versionId=...``)."""
