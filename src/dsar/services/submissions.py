"""The one intake behind every channel (public form, staff console, JSON API, CLI): log the
request, then start its ``process-request`` run with the request id only.

A request is never lost because the orchestrator is down: it is logged first, and the result
says that no run was started (``dsar request run`` or the reconciler starts it later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsar.domain.deadlines import Deadline
from dsar.domain.request import PrivacyRequest
from dsar.services.context import ServiceContext
from dsar.services.intake import LogResult, log_request
from dsar.services.orchestration import Orchestrator, start_processing


@dataclass(frozen=True)
class Submitted:
    request: PrivacyRequest
    deadline: Deadline
    flow_run_id: str | None
    run_problem: str | None  # why no run was started (no personal data), or None


def submit(ctx: ServiceContext, orchestrator: Orchestrator | None, raw: Any, *, start: bool = True) -> Submitted:
    """Validate and log (raises InvalidInput, nothing stored), then start the request's run.
    ``orchestrator`` None (or ``start`` False) logs only."""
    result: LogResult = log_request(ctx, raw)
    run_id, problem = start_run(ctx, orchestrator, result.request.id) if start else (None, None)
    return Submitted(result.request, result.deadline, run_id, problem)


def start_run(ctx: ServiceContext, orchestrator: Orchestrator | None, request_id: str) -> tuple[str | None, str | None]:
    """Start a logged request's run: (its id, None), or (None, why not, without personal data).
    A request whose run cannot start stays logged; the reconciler starts it later."""
    if orchestrator is None:
        return None, None
    with ctx.uow() as uow:
        if uow.requests.facts(request_id).type.value == "appeal":
            return None, None  # an appeal runs no flow: legal decides it (services/appeals.py)
    if not orchestrator.available():
        return None, "no orchestrator answers"
    try:
        return start_processing(ctx, orchestrator, request_id), None
    except Exception as exc:  # noqa: BLE001 - the request is safely logged; say why no run
        return None, f"could not start the flow run ({type(exc).__name__})"
