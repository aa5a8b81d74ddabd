"""The deployments `dsar serve` serves."""

from __future__ import annotations

from typing import Any

from flows.control import PROCESS_REQUEST
from flows.process_request import FLOW_NAME, process_request

assert PROCESS_REQUEST == f"{FLOW_NAME}/process-request"


def deployments() -> list[Any]:
    return [
        process_request.to_deployment(
            name="process-request",
            description="Carry one privacy request from intake to its closing letter. Parameter: the request id only.",
            tags=["dsar"],
        ),
    ]
