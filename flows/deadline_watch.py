"""The `deadline-watch` flow: one sweep of the statutory deadlines, on a schedule, and the
reconciler (every open request without a live ``process-request`` run gets one), the
verification reminders and expiries (a subject who never answers gets one reminder before the
link expires; then the request is closed as unverifiable with the could-not-verify letter), and
the deletion of access packages whose link expired or was used.

It raises each alert once per request, threshold and due date (a re-run sends nothing new),
delivers pending alerts through the configured notifier (apprise URLs, or a mail to the privacy
team), and emits one Prefect event per new alert — `dsar.deadline.approaching` or
`dsar.deadline.breached` — so teams can hang their own automations on them. Events, logs and
the run's result carry references and dates only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from dsar.app import build_notifier
from dsar.domain.alerts import NewAlert
from dsar.orchestration.runtime import app
from dsar.services import deadlines as svc

FLOW_NAME = "deadline-watch"
APPROACHING = "dsar.deadline.approaching"
BREACHED = "dsar.deadline.breached"


def event_for(a: NewAlert) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(event name, resource, payload) of one alert."""
    name = BREACHED if svc.is_breach(a.kind) else APPROACHING
    resource = {"prefect.resource.id": f"dsar.request.{a.reference}", "prefect.resource.name": a.reference, "dsar.kind": a.kind}
    return name, resource, {"reference": a.reference, "kind": a.kind, "due": a.due.isoformat(), "days_left": a.days_left}


@task(cache_policy=NO_CACHE, persist_result=False)
def sweep(as_of: date | None) -> svc.SweepResult:
    settings = app().settings
    return svc.sweep(app().ctx, settings.alert_thresholds_days, as_of)


@task(cache_policy=NO_CACHE, persist_result=False)
def deliver() -> svc.DeliveryReport:
    engine = app()
    s = engine.settings
    return svc.deliver(engine.ctx, build_notifier(engine), max_attempts=s.alert_max_attempts, digest_over=s.alert_digest_over)


@task(cache_policy=NO_CACHE, persist_result=False)
def reconcile() -> list[str]:
    """Open requests without a live run get one (or are held when their runs keep stopping)."""
    from dsar.orchestration.prefect import PrefectOrchestrator
    from dsar.services.orchestration import reconcile as reconcile_runs

    engine = app()
    return [f"{d.reference}: {d.action}" for d in reconcile_runs(engine.ctx, PrefectOrchestrator.configured(engine.settings))]


@task(cache_policy=NO_CACHE, persist_result=False)
def verification() -> tuple[int, int, int, int]:
    """Reminders for verification links about to expire; requests whose link expired unused
    are closed as unverifiable and their runs woken; requests that ended before their
    verification data was deleted at the end have it deleted. (reminded, closed, reminders
    failed, verification data deleted)"""
    from dsar.orchestration.prefect import PrefectOrchestrator
    from dsar.services.orchestration import sweep_verification

    engine = app()
    done = sweep_verification(engine.ctx, PrefectOrchestrator.configured(engine.settings))
    return len(done.reminded), len(done.closed), done.failed, len(done.data_deleted)


@task(cache_policy=NO_CACHE, persist_result=False)
def bounces() -> int:
    """Letters the mail service returned undelivered (DSAR_MAIL_BOUNCE_QUEUE_URL for SES,
    DSAR_MAIL_BOUNCE_MAILDIR for an SMTP server's reports): recorded on their requests, the
    team alerted, open requests held. How many were recorded."""
    from dsar.app import sweep_bounces

    done = sweep_bounces(app())
    return 0 if done is None else len(done.recorded)


@task(cache_policy=NO_CACHE, persist_result=False)
def purge_packages() -> int:
    """Access packages whose link expired or was used are deleted (audit events)."""
    from dsar.services.package import purge_packages as purge

    return purge(app().ctx)


@flow(name=FLOW_NAME, persist_result=False, log_prints=False)
def deadline_watch(as_of: date | None = None) -> dict[str, int]:
    """``as_of``: sweep as if today were this date (default: today in DSAR_TIMEZONE)."""
    log = get_run_logger()
    result = sweep(as_of)
    for a in result.notified:
        name, resource, payload = event_for(a)
        emit_event(event=name, resource=resource, payload=payload)
    bounced = bounces()  # before delivering: its alerts go out in this round
    if bounced:
        log.info("%d letter(s) returned undelivered by the mail service", bounced)
    report = deliver()
    reminded, unverified, reminders_failed, forgotten = verification()
    if reminded or unverified or reminders_failed:
        log.info(
            "verification: %d reminder(s) sent, %d request(s) closed as unverifiable (link expired), %d reminder(s) to retry",
            reminded,
            unverified,
            reminders_failed,
        )
    if forgotten:
        log.info("verification data deleted for %d request(s) that ended before", forgotten)
    reconciled = reconcile()
    for line in reconciled:
        log.info("reconciled %s", line)
    purged = purge_packages()
    if purged:
        log.info("%d access package(s) deleted (link expired or used)", purged)
    log.info(
        "%s: %d request(s) near or past due, %d new alert(s), %d delivered, %d failed",
        result.as_of,
        result.considered,
        len(result.notified),
        report.delivered,
        report.failed,
    )
    if report.failed:
        # Visible as a failed run in the UI; the alerts stay pending and the next sweep retries.
        raise RuntimeError(f"{report.failed} alert(s) could not be delivered; they will be retried on the next sweep")
    return {
        "considered": result.considered,
        "raised": len(result.notified),
        "delivered": report.delivered,
        "reconciled": len(reconciled),
        "verification_reminders": reminded,
        "closed_unverifiable": unverified,
        "verification_data_deleted": forgotten,
        "packages_purged": purged,
    }
