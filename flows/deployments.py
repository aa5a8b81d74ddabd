"""The deployments `dsar serve` serves."""

from __future__ import annotations

from typing import Any

from prefect.schedules import Cron

from dsar.settings import Settings
from flows.audit_flows import audit_maintenance, export_evidence
from flows.control import DEADLINE_WATCH, PROCESS_REQUEST
from flows.deadline_watch import FLOW_NAME as WATCH_FLOW
from flows.deadline_watch import deadline_watch
from flows.process_request import FLOW_NAME, process_request

assert PROCESS_REQUEST == f"{FLOW_NAME}/process-request"
assert DEADLINE_WATCH == f"{WATCH_FLOW}/deadline-watch"


def deployments(settings: Settings) -> list[Any]:
    return [
        process_request.to_deployment(
            name="process-request",
            description="Carry one privacy request from intake to its closing letter. Parameter: the request id only.",
            tags=["dsar"],
        ),
        deadline_watch.to_deployment(
            name="deadline-watch",
            description="Sweep the statutory deadlines: alert once per threshold, and on breach.",
            tags=["dsar"],
            schedule=Cron(settings.deadline_watch_cron, timezone=settings.timezone),
        ),
        export_evidence.to_deployment(
            name="export-evidence",
            description="Auditors: export a signed evidence bundle for a request (reference) or a period (since/until).",
            tags=["dsar", "audit"],
        ),
        audit_maintenance.to_deployment(
            name="audit-maintenance",
            description="Sign a checkpoint of the audit log and crypto-shred requests past their retention.",
            tags=["dsar", "audit"],
            schedule=Cron(settings.audit_maintenance_cron, timezone=settings.timezone),
        ),
    ]
