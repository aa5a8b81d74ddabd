"""The deployments `dsar serve` serves.

`dsar serve` loads this file by path (``flows/deployments.py:deployments``), and this file
loads each flow by path, as prefect.yaml names them (``process_request.py:process_request``
beside it): the flow files form no package, and need none to be importable. The deployment
names are dsar's (``dsar.orchestration``), which starts runs by them.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any

from prefect._internal.versioning import VersionType
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


def flow_at(entrypoint: str) -> Flow[..., Any]:
    """The flow object at ``entrypoint`` (``file.py:function``, in this folder)."""
    file, _, function = entrypoint.partition(":")
    flow = getattr(_flow_file(file), function, None)
    if not isinstance(flow, Flow):
        raise ConfigurationError(f"{entrypoint} is not a flow")
    return flow


def deployment(entrypoint: str, name: str, **options: Any) -> RunnerDeployment:
    """The flow at ``entrypoint`` (``file.py:function``, in this folder) as the deployment
    ``name`` (``flow-name/deployment-name``); the flow file must name its flow accordingly."""
    flow_name, _, deployment_name = name.partition("/")
    flow = flow_at(entrypoint)
    if flow.name != flow_name:
        raise ConfigurationError(f"{entrypoint} defines the flow {flow.name!r}, not {flow_name!r}")
    # The deployment's version is dsar's own. Left to infer it, Prefect runs `git log` in the
    # serving process at every registration and copies the last commit message into the
    # deployment: a process dsar serve should not start, and text that is not Prefect's to keep.
    options = {"version": version("dsar"), "version_type": VersionType.SIMPLE} | options
    result = flow.to_deployment(name=deployment_name, **options)
    assert isinstance(result, RunnerDeployment)  # called outside an event loop: the synchronous form
    return result


def deployments(settings: Settings) -> list[RunnerDeployment]:
    return [d for d, _ in served(settings)]


def served(settings: Settings) -> list[tuple[RunnerDeployment, Flow[..., Any]]]:
    """Each deployment with the flow object it runs: dsar's in-process worker
    (``dsar.orchestration.worker``) runs these very objects; Prefect's runner loads the
    entrypoint again in a process of its own for every run."""
    specs: list[tuple[str, str, dict[str, Any]]] = [
        (
            "process_request.py:process_request",
            PROCESS_REQUEST,
            {
                "description": "Carry one privacy request from intake to its closing letter. Parameter: the request id only.",
                "tags": ["dsar"],
            },
        ),
        (
            "deadline_watch.py:deadline_watch",
            DEADLINE_WATCH,
            {
                "description": "Sweep the statutory deadlines: alert once per threshold, and on breach.",
                "tags": ["dsar"],
                "schedule": Cron(settings.deadline_watch_cron, timezone=settings.timezone),
            },
        ),
        (
            "audit_flows.py:export_evidence",
            EXPORT_EVIDENCE,
            {
                "description": "Auditors: export a signed evidence bundle for a request (reference) or a period (since/until).",
                "tags": ["dsar", "audit"],
            },
        ),
        (
            "audit_flows.py:audit_maintenance",
            AUDIT_MAINTENANCE,
            {
                "description": "Sign a checkpoint of the audit log and crypto-shred requests past their retention.",
                "tags": ["dsar", "audit"],
                "schedule": Cron(settings.audit_maintenance_cron, timezone=settings.timezone),
            },
        ),
    ]
    return [(deployment(entrypoint, name, **options), flow_at(entrypoint)) for entrypoint, name, options in specs]
