"""Notifier adapters.

:class:`AppriseNotifier` sends to every configured apprise URL (``slack://``, ``msteams://``,
``mailto://``, ``sns://``, ``json://`` webhooks ...). :class:`MailNotifier` is the embedded
default: a mail to the privacy team through the engine's mailer, so a fresh install with no URL
configured still shows its alerts (in the outbox folder).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from dsar.services.ports import Mailer, Notice, NotificationFailed, Notifier, OutgoingMail


class AppriseNotifier(Notifier):
    def __init__(self, urls: Sequence[str]) -> None:
        import apprise

        if not urls:
            raise ValueError("AppriseNotifier needs at least one URL")
        self._apprise = apprise.Apprise()
        for i, url in enumerate(urls, start=1):
            if not self._apprise.add(url):
                # the URL may hold a token: name its position, never its text
                raise ValueError(f"alert URL #{i} is not a URL apprise understands")

    def notify(self, notice: Notice) -> None:
        import apprise

        # apprise logs each failure itself, with the URL; keep tokens out of our logs
        logging.getLogger("apprise").setLevel(logging.CRITICAL)
        ok = self._apprise.notify(
            title=notice.title,
            body=notice.body,
            notify_type=apprise.NotifyType.FAILURE if notice.urgent else apprise.NotifyType.WARNING,
        )
        if not ok:
            raise NotificationFailed("at least one alert URL did not accept the notice")


class MailNotifier(Notifier):
    def __init__(self, mailer: Mailer, to: str, sender: str) -> None:
        self._mailer, self._to, self._sender = mailer, to, sender

    def notify(self, notice: Notice) -> None:
        digest = hashlib.sha256(f"{notice.title}\n{notice.body}".encode()).hexdigest()[:16]
        try:
            self._mailer.send(
                OutgoingMail(
                    message_id=f"alert-{digest}@dsar",
                    to=self._to,
                    sender=self._sender,
                    subject=("[URGENT] " if notice.urgent else "") + notice.title,
                    body=notice.body,
                )
            )
        except OSError as exc:
            raise NotificationFailed(f"the alert mail could not be written ({type(exc).__name__})") from exc
