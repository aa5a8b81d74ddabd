"""Letters the mail service accepted and then could not deliver.

The deadline watch (and `dsar alerts sweep`) reads the bounce and complaint notices waiting in
the configured queue or mailbox (the BounceSource port: :class:`dsar.letters.bounces.SqsBounceSource`
for AWS SES, :class:`dsar.letters.bounces.MaildirBounceSource` for the reports an SMTP server
mails back), and for each notice about one of dsar's letters:

* records ``LetterBounced`` on the request (the letter's purpose, the kind of bounce; never the
  address), once per notice however often the queue delivers it;
* for a permanent or undetermined bounce, raises an alert to the team (``letter-bounced``,
  delivered with the deadline alerts: the subject did not get the letter and someone must reach
  them another way), and holds the request if it is still open, with the reason, so nothing
  goes on as if the subject had the letter (a verification link, an extension notice);
* a transient bounce (the service tries again itself) and a complaint are recorded only.

Notices about mail that is not dsar's, or that no longer names a request, are deleted (from a
mailbox: moved to its ``settled`` folder) and counted; a malformed one likewise, never printed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from dsar.domain.alerts import LETTER_BOUNCED, NewAlert
from dsar.domain.bounces import (
    COMPLAINT,
    PERMANENT,
    TRANSIENT,
    UNDETERMINED,
    MalformedNotice,
    parse_notice,
    parse_report,
    parse_sms_failure,
)
from dsar.domain.errors import NotFound
from dsar.domain.events import LetterBounced
from dsar.services.context import ServiceContext
from dsar.services.deadlines import local_today
from dsar.services.ports import BounceSource, ReceivedNotice

log = logging.getLogger("dsar.bounces")

# dsar's message ids: ``{reference}.{purpose}@dsar`` (dsar.domain.letters.message_id)
_OURS = re.compile(r"^(DSR-\d{4}-\d{6,})\.([A-Za-z0-9_.-]{1,100})@dsar$")
MAX_PER_SWEEP = 500


@dataclass
class BounceSweep:
    recorded: list[str] = field(default_factory=list)  # "REF: purpose (kind)"
    held: list[str] = field(default_factory=list)  # references put on hold
    alerted: list[str] = field(default_factory=list)  # references the team is alerted about
    not_ours: int = 0
    not_failures: int = 0
    malformed: int = 0

    def add(self, other: BounceSweep) -> None:
        """Count another source's sweep in this one."""
        self.recorded += other.recorded
        self.held += other.held
        self.alerted += other.alerted
        self.not_ours += other.not_ours
        self.not_failures += other.not_failures
        self.malformed += other.malformed


def sweep_bounces(ctx: ServiceContext, source: BounceSource, message_for: Callable[[str], str | None]) -> BounceSweep:
    """Read and settle every notice waiting (at most MAX_PER_SWEEP). ``message_for`` maps the
    service's message id to dsar's (the mail ledger), for notices that carry no headers."""
    done = BounceSweep()
    seen = 0
    while seen < MAX_PER_SWEEP:
        batch = source.receive(10)
        if not batch:
            break
        for received in batch:
            seen += 1
            _settle(ctx, received, message_for, done)
            source.delete(received.handle)  # settled (recorded, or nothing to record): never read again
    return done


def _settle(ctx: ServiceContext, received: ReceivedNotice, message_for: Callable[[str], str | None], done: BounceSweep) -> None:
    try:
        if received.format == "report":
            notice = parse_report(received.body.encode("utf-8", "surrogateescape"), received.message_id)
        elif received.format == "sns-sms":
            notice = parse_sms_failure(received.body, received.message_id)
        else:
            notice = parse_notice(received.body, received.message_id)
    except MalformedNotice as exc:
        log.warning("a bounce notice was not one dsar reads (%s); set aside", exc)
        done.malformed += 1
        return
    if not notice.failure:
        done.not_failures += 1  # a delivery report, or a kind dsar does not act on
        return
    ours = _OURS.match(notice.message_id or "") or _OURS.match(message_for(notice.provider_id) or "")
    if ours is None:
        done.not_ours += 1
        return
    reference, purpose = ours.group(1), ours.group(2)
    now = ctx.clock()
    with ctx.uow() as uow:
        try:
            request_id = uow.requests.id_for_reference(reference)
        except NotFound:
            done.not_ours += 1
            return
        r = uow.requests.facts(request_id)
        appended = uow.audit.append([LetterBounced(request_id, now, purpose, notice.kind, notice.subtype, notice.notice_id)])
        if appended and notice.kind in (PERMANENT, UNDETERMINED):
            today = local_today(ctx)
            # one alert per request and day: a second letter bounced the same day (the link and
            # the acknowledgement to one dead address) is in the trail, and the team has been told
            if not any(a.kind == LETTER_BOUNCED and a.due == today for a in uow.alerts.recent(request_id)):
                uow.alerts.add([NewAlert(request_id, reference, LETTER_BOUNCED, today, 0, notify=True)], now)
                done.alerted.append(reference)
        uow.commit()
    if not appended:
        return  # this notice was settled before (the queue delivered it again)
    done.recorded.append(f"{reference}: {purpose} ({notice.kind})")
    if notice.kind in (PERMANENT, UNDETERMINED) and not r.status.is_final and not r.on_hold:
        from dsar.services.admin import hold_request

        hold_request(ctx, request_id, f"a letter could not be delivered ({purpose}: {notice.kind} bounce); reach the subject another way")
        done.held.append(reference)


__all__ = ["COMPLAINT", "PERMANENT", "TRANSIENT", "UNDETERMINED", "BounceSource", "BounceSweep", "sweep_bounces"]
