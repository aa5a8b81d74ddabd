"""Stored deadlines, extensions, stop-the-clock pauses and the deadline watch, on SQLite and
PostgreSQL. The clock is the service context's; nothing of the engine is patched."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dsar.app import App, build_notifier
from dsar.domain.errors import InvalidInput, TransitionNotAllowed
from dsar.notify.adapters import AppriseNotifier
from dsar.services import deadlines as dl
from dsar.services.admin import withdraw_request
from dsar.services.context import ServiceContext
from dsar.services.intake import log_request
from dsar.services.ports import Notice, NotificationFailed, Notifier

THRESHOLDS = [7, 3, 1]


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set_day(self, d: date) -> None:
        self.at = datetime(d.year, d.month, d.day, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def ctx(engine_app: App, clock: Clock) -> ServiceContext:
    return dataclasses.replace(engine_app.ctx, clock=clock)


def log(ctx: ServiceContext, regime: str = "gdpr", name: str = "Jane Doe", email: str = "jane.doe@example.com", **extra: Any) -> Any:
    raw: dict[str, Any] = {"type": "access", "regime": regime, "subject": {"name": name, "emails": [email]}, **extra}
    if regime == "gdpr":
        raw.setdefault("country", "DE")
    if regime == "ccpa":
        raw.setdefault("access_scope", "categories")
    raw.setdefault("received_at", ctx.clock().isoformat())
    return log_request(ctx, raw).request


def deadline(ctx: ServiceContext, request_id: str) -> Any:
    with ctx.uow() as uow:
        return uow.deadlines.get(request_id)


def events(ctx: ServiceContext, request_id: str) -> list[Any]:
    with ctx.uow() as uow:
        return uow.audit.events(request_id)


def close(ctx: ServiceContext, request_id: str) -> None:
    withdraw_request(ctx, request_id, "the subject withdrew by phone")


# --- stored deadlines and extensions --------------------------------------------------------


def test_a_logged_request_stores_its_statutory_dates(ctx: ServiceContext) -> None:
    r = log(ctx)
    d = deadline(ctx, r.id)
    # received Mon 2 Mar 2026 in Germany: due Thu 2 Apr, extended Tue 2 Jun 2026
    assert (d.due, d.statutory_due, d.extension_notice_by, d.extended_due) == (
        date(2026, 4, 2),
        date(2026, 4, 2),
        date(2026, 4, 2),
        date(2026, 6, 2),
    )
    assert not d.extended and d.paused_days == 0 and not d.clock_stopped


def test_extension_moves_the_due_date_queues_the_letter_and_records_the_decision(engine_app: App, ctx: ServiceContext) -> None:
    r = log(ctx)
    d = dl.extend_request(ctx, r.id, "Your request covers ten years of orders across three systems.", "Lena Legal")
    assert d.extended and d.due == date(2026, 6, 2) and d.statutory_due == date(2026, 4, 2)
    mail = message_from_bytes(
        (engine_app.settings.effective_outbox_dir / f"{r.reference}.extension_dsar.eml").read_bytes(), policy=policy.default
    )
    body = " ".join(mail.get_body(preferencelist=("plain",)).get_content().split())  # reflowed: read as one line
    assert "2 June 2026" in body and "ten years of orders" in body and "supervisory authority" in body
    kinds = [e.kind for e in events(ctx, r.id)]
    assert "DeadlineExtended" in kinds and kinds.count("LetterSent") == 1
    with ctx.uow() as uow:
        decision = uow.decisions.get(r.id, dl.EXTENSION_STEP)
    assert decision is not None and decision.approver == "Lena Legal" and decision.note is not None

    with pytest.raises(InvalidInput, match="already extended"):
        dl.extend_request(ctx, r.id, "again", "Lena Legal")


def test_extension_is_possible_until_the_notice_date_and_refused_after(ctx: ServiceContext, clock: Clock) -> None:
    on_time = log(ctx, regime="ccpa", country="US", subdivision="CA")
    late = log(ctx, regime="ccpa", country="US", subdivision="CA", name="Other Person", email="other@example.com")
    notice_by = deadline(ctx, on_time.id).extension_notice_by
    assert notice_by == date(2026, 4, 15)  # day 45, receipt counted as day 1
    clock.set_day(notice_by)
    assert dl.extend_request(ctx, on_time.id, "complex", "Lena").due == date(2026, 5, 30)
    clock.set_day(notice_by + timedelta(days=1))
    with pytest.raises(InvalidInput, match="too late"):
        dl.extend_request(ctx, late.id, "complex", "Lena")
    assert not deadline(ctx, late.id).extended


def test_regimes_without_an_extension_and_finished_requests_cannot_be_extended(ctx: ServiceContext) -> None:
    r = log(ctx, regime="lgpd", country="BR")
    with pytest.raises(InvalidInput, match="no extension"):
        dl.extend_request(ctx, r.id, "complex", "Lena")
    g = log(ctx, name="Max Mustermann", email="max.mustermann@example.de")
    close(ctx, g.id)
    with pytest.raises(TransitionNotAllowed):
        dl.extend_request(ctx, g.id, "complex", "Lena")
    with pytest.raises(InvalidInput):
        dl.extend_request(ctx, log(ctx, name="A B", email="ab@example.com").id, "", "Lena")


# --- stop-the-clock -------------------------------------------------------------------------


def test_uk_stop_the_clock_stops_the_watch_and_moves_the_date(ctx: ServiceContext, clock: Clock) -> None:
    r = log(ctx, regime="uk-gdpr", country="GB", subdivision="ENG")
    assert deadline(ctx, r.id).due == date(2026, 4, 2)
    clock.set_day(date(2026, 3, 4))
    d = dl.pause_clock(ctx, r.id, "asked for proof of address")
    assert d.clock_stopped
    # a stopped clock is not watched, however near the date
    assert dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 4, 1)).considered == 0
    clock.set_day(date(2026, 3, 14))
    d = dl.restart_clock(ctx, r.id)
    assert not d.clock_stopped and d.paused_days == 10
    assert d.due == date(2026, 4, 13)  # 12 Apr 2026 is a Sunday
    assert [e.kind for e in events(ctx, r.id)][-2:] == ["ClockPaused", "ClockRestarted"]
    with pytest.raises(InvalidInput, match="not stopped"):
        dl.restart_clock(ctx, r.id)


def test_gdpr_pauses_are_recorded_but_keep_the_statutory_date(ctx: ServiceContext, clock: Clock) -> None:
    r = log(ctx)
    clock.set_day(date(2026, 3, 4))
    dl.pause_clock(ctx, r.id, "asked for clarification")
    clock.set_day(date(2026, 3, 9))
    d = dl.restart_clock(ctx, r.id)
    assert d.paused_days == 5 and d.due == date(2026, 4, 2) and not d.clock_stopped


def test_regimes_without_stop_the_clock_refuse_a_pause(ctx: ServiceContext) -> None:
    r = log(ctx, regime="ccpa", country="US", subdivision="CA")
    with pytest.raises(InvalidInput, match="no stop-the-clock"):
        dl.pause_clock(ctx, r.id, "asked for ID")


def test_a_pause_outside_the_request_life_is_refused(ctx: ServiceContext) -> None:
    r = log(ctx, regime="uk-gdpr", country="GB", subdivision="ENG")
    with pytest.raises(InvalidInput):
        dl.pause_clock(ctx, r.id, "asked for ID", on=date(2026, 3, 1))  # before receipt
    with pytest.raises(InvalidInput):
        dl.pause_clock(ctx, r.id, "asked for ID", on=date(2026, 3, 9))  # in the future


# --- the watch ------------------------------------------------------------------------------


def test_each_threshold_alerts_once_and_a_rerun_sends_nothing_new(ctx: ServiceContext) -> None:
    r = log(ctx)  # due 2 Apr 2026
    seen: list[str] = []
    for day, expected in [
        (date(2026, 3, 20), []),
        (date(2026, 3, 26), ["due-in-7d"]),
        (date(2026, 3, 26), []),  # the same day again: nothing new
        (date(2026, 3, 28), []),
        (date(2026, 3, 30), ["due-in-3d"]),
        (date(2026, 4, 1), ["due-in-1d"]),
        (date(2026, 4, 2), []),  # due today: the 1-day alert already went out
        (date(2026, 4, 3), ["breached"]),
        (date(2026, 4, 9), []),
    ]:
        result = dl.sweep(ctx, THRESHOLDS, as_of=day)
        got = [a.kind for a in result.notified if a.request_id == r.id]
        assert got == expected, day
        seen += got
    assert seen == ["due-in-7d", "due-in-3d", "due-in-1d", "breached"]
    kinds = [e.kind for e in events(ctx, r.id)]
    assert kinds.count("DeadlineAlertRaised") == 4


def test_a_request_first_seen_late_gets_one_notification_for_the_most_urgent_threshold(ctx: ServiceContext) -> None:
    r = log(ctx)
    result = dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 4, 5))
    mine = [a for a in result.raised if a.request_id == r.id]
    assert sorted(a.kind for a in mine) == ["breached", "due-in-1d", "due-in-3d", "due-in-7d"]
    assert [a.kind for a in mine if a.notify] == ["breached"]
    assert dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 4, 6)).raised == []


def test_finished_requests_are_not_watched_and_an_extension_rearms_the_thresholds(ctx: ServiceContext) -> None:
    done = log(ctx, name="Max Mustermann", email="max.mustermann@example.de")
    close(ctx, done.id)
    r = log(ctx)
    assert [a.kind for a in dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 3, 30)).notified] == ["due-in-3d"]
    dl.extend_request(ctx, r.id, "many systems", "Lena")  # now due 2 Jun
    assert dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 3, 31)).raised == []
    assert [(a.reference, a.kind) for a in dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 5, 27)).notified] == [(r.reference, "due-in-7d")]


class FlakyNotifier(Notifier):
    """A fake of the project's own port: fails while ``down``."""

    def __init__(self) -> None:
        self.down = True
        self.sent: list[Notice] = []

    def notify(self, notice: Notice) -> None:
        if self.down:
            raise NotificationFailed("webhook answered 503")
        self.sent.append(notice)


def test_a_failed_delivery_is_retried_on_the_next_sweep_and_sent_once(ctx: ServiceContext) -> None:
    r = log(ctx)
    notifier = FlakyNotifier()
    dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 3, 26))
    assert dl.deliver(ctx, notifier) == dl.DeliveryReport(0, 1, False)
    notifier.down = False
    dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 3, 26))
    assert dl.deliver(ctx, notifier) == dl.DeliveryReport(1, 0, False)
    assert dl.deliver(ctx, notifier) == dl.DeliveryReport(0, 0, False)
    assert [n.title for n in notifier.sent] == [f"{r.reference}: due in 7 day(s), on 2026-04-02"]
    with ctx.uow() as uow:
        (alert,) = uow.alerts.recent(r.id)
    assert alert.attempts == 2 and alert.delivered_at is not None and alert.last_error is None


def test_many_pending_alerts_go_out_as_one_digest(ctx: ServiceContext) -> None:
    for i in range(5):
        log(ctx, name=f"Person {i}", email=f"p{i}@example.com")
    notifier = FlakyNotifier()
    notifier.down = False
    dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 3, 31))
    report = dl.deliver(ctx, notifier, digest_over=3)
    assert report == dl.DeliveryReport(5, 0, True)
    (digest,) = notifier.sent
    assert digest.title.startswith("5 privacy requests need attention")
    assert len(digest.body.splitlines()) == 5


def test_alerts_hold_no_personal_data(ctx: ServiceContext) -> None:
    planted = "Zyxwvut Qponmlk"
    r = log(ctx, name=planted, email="zyxwvut.qponmlk@example.org")
    notifier = FlakyNotifier()
    notifier.down = False
    result = dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 4, 5))
    dl.deliver(ctx, notifier)
    text = json.dumps([dataclasses.asdict(a) for a in result.raised], default=str) + repr([n.__dict__ for n in notifier.sent])
    assert r.reference in text
    assert "Zyxwvut" not in text and "zyxwvut" not in text


def test_the_default_notifier_writes_a_mail_to_the_privacy_team(engine_app: App, ctx: ServiceContext) -> None:
    r = log(ctx)
    dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 3, 31))
    assert dl.deliver(ctx, build_notifier(engine_app)).delivered == 1
    mails = [
        message_from_bytes(p.read_bytes(), policy=policy.default) for p in engine_app.settings.effective_outbox_dir.glob("alert-*.eml")
    ]
    assert [(m["To"], m["Subject"]) for m in mails] == [("privacy@example-shop.test", f"{r.reference}: due in 2 day(s), on 2026-04-02")]


# --- a real webhook receiver ----------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            got.append({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"json://127.0.0.1:{server.server_address[1]}/hooks/dsar", got
    finally:
        server.shutdown()
        server.server_close()


def test_an_alert_really_arrives_at_a_webhook(ctx: ServiceContext, receiver: tuple[str, list[dict[str, Any]]]) -> None:
    url, got = receiver
    r = log(ctx)
    dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 4, 3))
    assert dl.deliver(ctx, AppriseNotifier([url])) == dl.DeliveryReport(1, 0, False)
    assert len(got) == 1
    assert got[0]["path"] == "/hooks/dsar"
    assert got[0]["json"]["title"] == f"{r.reference}: statutory deadline BREACHED (2026-04-02, 1 day(s) ago)"
    assert "Jane" not in json.dumps(got)


def test_a_webhook_that_is_down_leaves_the_alert_pending(ctx: ServiceContext) -> None:
    log(ctx)
    dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 4, 3))
    report = dl.deliver(ctx, AppriseNotifier(["json://127.0.0.1:9/nothing-listens"]))
    assert report.failed == 1
    with ctx.uow() as uow:
        assert len(uow.alerts.undelivered(12)) == 1


def test_a_bad_alert_url_is_a_configuration_error_that_hides_the_url() -> None:
    with pytest.raises(ValueError, match="#1") as info:
        AppriseNotifier(["not-a-url-secret-token"])
    assert "secret-token" not in str(info.value)


# --- confirmation of receipt (11 CCR 7021(a)) -----------------------------------------------


def test_the_one_time_code_letter_confirms_receipt_and_the_watch_stays_quiet(ctx: ServiceContext) -> None:
    from dsar.services import processing

    r = log(ctx, regime="ccpa", country="US", subdivision="CA")
    d = deadline(ctx, r.id)
    assert d.acknowledge_by == date(2026, 3, 16) and d.acknowledged_at is None  # 10 business days after Mon 2 Mar
    processing.start_verification(ctx, r.id)
    assert deadline(ctx, r.id).acknowledged_at == ctx.clock()
    confirmed = [e for e in events(ctx, r.id) if e.kind == "ReceiptConfirmed"]
    assert [e.details for e in confirmed] == [{"how": "email", "by": "dsar"}]
    assert dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 3, 17)).raised == []


def test_an_unconfirmed_receipt_is_watched_until_someone_records_it(ctx: ServiceContext, clock: Clock) -> None:
    from dsar.services import processing

    # logged by phone with no email: no code letter can go out, the request is held
    raw = {"type": "access", "access_scope": "categories", "regime": "ccpa", "country": "US", "subdivision": "CA"}
    r = log_request(ctx, raw | {"channel": "phone", "subject": {"name": "Jane Doe", "phone": "+1 415 555 0100"}}).request
    processing.start_verification(ctx, r.id)
    assert deadline(ctx, r.id).acknowledged_at is None
    assert [a.kind for a in dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 3, 9)).notified] == ["ack-in-7d"]
    assert dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 3, 9)).raised == []  # once per threshold
    late = dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 3, 17)).notified
    assert [(a.kind, a.due, a.days_left) for a in late] == [("ack-breached", date(2026, 3, 16), -1)]
    notice = dl.describe(late[0])
    assert "OVERDUE" in notice.title and notice.urgent and f"dsar request acknowledge {r.reference}" in notice.body
    from prefect.utilities.importtools import import_object

    from dsar.resources import entrypoint

    event_for = import_object(entrypoint("deadline_watch.py", "event_for"))

    name, resource, _ = event_for(late[0])
    assert (name, resource["dsar.kind"]) == ("dsar.deadline.breached", "ack-breached")

    clock.set_day(date(2026, 3, 17))
    d = dl.acknowledge_receipt(ctx, r.id, "phone", "Sam Support", "called back, explained the process")
    assert d.acknowledged_at == clock()
    assert dl.acknowledge_receipt(ctx, r.id, "mail", "Someone Else").acknowledged_at == d.acknowledged_at  # the first counts
    confirmed = [e.details for e in events(ctx, r.id) if e.kind == "ReceiptConfirmed"]
    assert confirmed == [{"how": "phone", "by": "Sam Support", "note": "called back, explained the process"}]
    # the response date is still watched; the receipt no longer is
    assert [a.kind for a in dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 4, 10)).notified] == ["due-in-7d"]


def test_regimes_without_a_receipt_rule_and_finished_requests_raise_no_receipt_alerts(ctx: ServiceContext) -> None:
    log(ctx)  # gdpr: no acknowledge_by
    done = log(ctx, regime="ccpa", country="US", subdivision="CA", name="Max Mustermann", email="max@example.com")
    close(ctx, done.id)
    assert [a for a in dl.sweep(ctx, THRESHOLDS, as_of=date(2026, 3, 20)).raised if a.kind.startswith("ack-")] == []


@pytest.mark.parametrize(
    ("how", "by", "message"),
    [("pigeon", "Sam", "unknown channel"), ("phone", "", "by is required"), ("phone", "Sam\x00", "control characters")],
)
def test_a_bad_receipt_confirmation_is_refused_and_records_nothing(ctx: ServiceContext, how: str, by: str, message: str) -> None:
    r = log(ctx, regime="ccpa", country="US", subdivision="CA")
    with pytest.raises(InvalidInput, match=message):
        dl.acknowledge_receipt(ctx, r.id, how, by)
    assert deadline(ctx, r.id).acknowledged_at is None
    assert "ReceiptConfirmed" not in [e.kind for e in events(ctx, r.id)]
