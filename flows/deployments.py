"""The deployments `dsar serve` serves.

`dsar serve` loads this file by path (``flows/deployments.py:deployments``), and this file
loads each flow by path, as prefect.yaml names them (``process_request.py:process_request``
beside it): the flow files form no package, and need none to be importable. The deployment
names are dsar's (``dsar.orchestration``), which starts runs by them.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from prefect.deployments.runner import RunnerDeployment
from prefect.flows import Flow
from prefect.schedules import Cron
from prefect.utilities.importtools import load_script_as_module

from dsar.domain.errors import ConfigurationError
from dsar.orchestration import AUDIT_MAINTENANCE, DEADLINE_WATCH, EXPORT_EVIDENCE, PROCESS_REQUEST
from dsar.settings import Settings

HERE = Path(__file__).resolve().parent


@cache
def _flow_file(file: str) -> ModuleType:
    # Once per file: audit_flows.py defines two flows, and a second load would run it again.
    return load_script_as_module(str(HERE / file))


def deployment(entrypoint: str, name: str, **options: Any) -> RunnerDeployment:
    """The flow at ``entrypoint`` (``file.py:function``, in this folder) as the deployment
    ``name`` (``flow-name/deployment-name``); the flow file must name its flow accordingly."""
    file, _, function = entrypoint.partition(":")
    flow_name, _, deployment_name = name.partition("/")
    flow = getattr(_flow_file(file), function, None)
    if not isinstance(flow, Flow):
        raise ConfigurationError(f"{entrypoint} is not a flow")
    if flow.name != flow_name:
        raise ConfigurationError(f"{entrypoint} defines the flow {flow.name!r}, not {flow_name!r}")
    result = flow.to_deployment(name=deployment_name, **options)
    assert isinstance(result, RunnerDeployment)  # called outside an event loop: the synchronous form
    return result


def deployments(settings: Settings) -> list[RunnerDeployment]:
    return [
        deployment(
            "process_request.py:process_request",
            PROCESS_REQUEST,
            description="Carry one privacy request from intake to its closing letter. Parameter: the request id only.",
            tags=["dsar"],
        ),
        deployment(
            "deadline_watch.py:deadline_watch",
            DEADLINE_WATCH,
            description="Sweep the statutory deadlines: alert once per threshold, and on breach.",
            tags=["dsar"],
            schedule=Cron(settings.deadline_watch_cron, timezone=settings.timezone),
        ),
        deployment(
            "audit_flows.py:export_evidence",
            EXPORT_EVIDENCE,
            description="Auditors: export a signed evidence bundle for a request (reference) or a period (since/until).",
            tags=["dsar", "audit"],
        ),
        deployment(
            "audit_flows.py:audit_maintenance",
            AUDIT_MAINTENANCE,
            description="Sign a checkpoint of the audit log and crypto-shred requests past their retention.",
            tags=["dsar", "audit"],
            schedule=Cron(settings.audit_maintenance_cron, timezone=settings.timezone),
        ),
    ]
