"""The Orchestrator port on Prefect, and serving the deployments.

Prefect reads its settings when it is first imported, so every Prefect import here is inside a
function, and :func:`configure_environment` must run first (``PrefectOrchestrator.configured``
does it). Nothing sent to Prefect carries personal data: a run's only parameter is the request
id, its name the reference.

How served runs find their flow: ``flows/deployments.py`` is loaded by file path, and loads each
flow by file path (``…/flows/process_request.py:process_request``; no ``flows`` package is
imported). ``flow.to_deployment`` records the flow file's path relative to the working folder of
`dsar serve` as the deployment's entrypoint (``flows/process_request.py:process_request`` when
serving from the checkout's root; a path into site-packages from an installed wheel), and the
deployment's ``path`` as ``.``. `prefect.serve` registers deployments, not flow objects, so
for every run the runner starts ``python -m prefect.engine`` in that same working folder,
which reads the deployment and loads the entrypoint by path again.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from dsar import resources
from dsar.domain.errors import ConfigurationError
from dsar.orchestration import PROCESS_REQUEST
from dsar.orchestration.server import api_healthy
from dsar.services.orchestration import RunState
from dsar.settings import Settings, mask_url


def configure_environment(settings: Settings) -> dict[str, str]:
    """Point Prefect at the configured API and keep its files under DSAR_HOME; returns the
    environment for child processes. Prefect reads its settings once, when imported: if it was
    imported already (a long-lived process, a test session) with another API, its global
    settings are read again from the environment set here, so no client of this process
    keeps talking to the old API."""
    stale = "prefect" in sys.modules and os.environ.get("PREFECT_API_URL") != settings.effective_prefect_api_url
    env = {
        "PREFECT_API_URL": settings.effective_prefect_api_url,
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(settings.prefect_startup_timeout_s),
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        # A resumed run is picked up at the runner's next poll; 3 s keeps the demo brisk.
        "PREFECT_RUNNER_POLL_FREQUENCY": "3",
    }
    for k, v in env.items():
        if k == "PREFECT_API_URL" or k not in os.environ:
            os.environ[k] = v
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    if stale:
        from prefect.context import refresh_global_settings_context
        from prefect.settings import get_current_settings

        refresh_global_settings_context()
        if str(get_current_settings().api.url) != settings.effective_prefect_api_url:
            raise ConfigurationError("Prefect keeps another API than the one configured: a settings context is active")
    return dict(os.environ)


class PrefectOrchestrator:
    """Runs of the ``process-request`` deployment on a Prefect API (the Orchestrator port)."""

    def __init__(self, api_url: str, deployment: str = PROCESS_REQUEST) -> None:
        self.api_url = api_url
        self.deployment = deployment

    @classmethod
    def configured(cls, settings: Settings) -> PrefectOrchestrator:
        """The orchestrator of these settings, Prefect configured for it in this process."""
        configure_environment(settings)
        return cls(settings.effective_prefect_api_url)

    def available(self) -> bool:
        # 5 s, not 2: a loaded server (a burst of intakes on two cores) answers late, and a
        # request whose run is not started waits for the reconciler.
        return api_healthy(self.api_url, timeout=5.0)

    def start_run(self, request_id: str, reference: str) -> str:
        from dsar.orchestration import rest

        # Two plain HTTP calls instead of importing Prefect's client (about a second of CPU for
        # a command), unless auth/TLS/profile settings or the server itself need the client.
        if rest.usable(self.api_url):
            try:
                return rest.start_run(self.api_url, self.deployment, {"request_id": request_id}, reference)
            except rest.NeedsPrefectClient:
                pass
        return self._start_run_with_client(request_id, reference)

    def _start_run_with_client(self, request_id: str, reference: str) -> str:
        from prefect.client.schemas.objects import FlowRun
        from prefect.deployments import run_deployment

        # as_subflow=False: started from inside another flow run (the deadline watch's reconciler)
        # it would otherwise become that run's subflow, which Prefect refuses to suspend.
        from dsar.orchestration import worker
        from dsar.orchestration.clients import client_context

        for attempt in range(3):
            try:
                with client_context():  # run_deployment takes the shared client, not one of its own
                    run = run_deployment(
                        self.deployment, parameters={"request_id": request_id}, flow_run_name=reference, timeout=0, as_subflow=False
                    )
                break
            except Exception as exc:
                # A server error (Prefect on SQLite answers "database is locked" under load):
                # try twice more; nothing was created, the reference names the run.
                if attempt == 2 or not _transient(exc):
                    raise
                time.sleep(0.5 * (attempt + 1))
        assert isinstance(run, FlowRun)  # called outside an event loop: the synchronous form
        worker.wake()  # inside `dsar serve`: its worker starts the run now, not at its next poll
        return str(run.id)

    def run_state(self, run_id: str) -> RunState:
        from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

        from dsar.orchestration.clients import shared_client

        client = shared_client()  # the process's one client (building one costs a TLS context)
        fr = client.read_flow_run(UUID(run_id))
        st = fr.state
        if st is None:
            return RunState("Unknown", "UNKNOWN")
        ready = False
        keyset: Any = st.state_details.run_input_keyset if st.state_details else None
        if st.type.value == "PAUSED" and keyset:
            try:
                client.read_flow_run_input(UUID(run_id), keyset["schema"])
                ready = True
            except ObjectNotFound:
                ready = False
            except PrefectHTTPStatusError as exc:
                if exc.response.status_code != 404:
                    raise
        key = st.state_details.pause_key if st.state_details else None
        return RunState(st.name or st.type.value, st.type.value, ready, key if ready else None)

    def resume(self, run_id: str, run_input: Mapping[str, Any]) -> None:
        """What Prefect's ``resume_flow_run`` does, on the shared client, without its read of
        the run first: the server refuses to resume a run that is not paused (an abort, raised
        here as Prefect's ``NotPausedError``), and checks the input against the form's schema
        (a rejection, raised as Prefect's function raises it)."""
        from prefect.client.schemas.objects import StateType
        from prefect.client.schemas.responses import SetStateStatus
        from prefect.exceptions import FlowPauseTimeout, NotPausedError

        from dsar.orchestration import worker
        from dsar.orchestration.clients import shared_client

        response = shared_client().resume_flow_run(UUID(run_id), run_input=dict(run_input))
        if response.status == SetStateStatus.ABORT:
            raise NotPausedError("Cannot resume a run that isn't paused!")
        if response.status == SetStateStatus.REJECT:
            if response.state and response.state.type == StateType.FAILED:
                raise FlowPauseTimeout("Flow run can no longer be resumed.")
            raise RuntimeError(f"Cannot resume this run: {getattr(response.details, 'reason', None)}")
        worker.wake()

    def wait_for_deployment(self, timeout: float) -> None:
        from dsar.orchestration.clients import shared_client

        deadline = time.monotonic() + timeout
        client = shared_client()
        while time.monotonic() < deadline:
            try:
                client.read_deployment_by_name(self.deployment)
                return
            except Exception:  # noqa: BLE001 - not there yet
                time.sleep(1)
        raise ConfigurationError(f"deployment {self.deployment} did not appear within {timeout:.0f}s (is `dsar serve` running?)")

    def run_url(self, run_id: str) -> str:
        # For people to click: never with the credentials a configured URL may carry.
        return mask_url(f"{self.api_url.removesuffix('/api')}/runs/flow-run/{run_id}")


def _transient(exc: Exception) -> bool:
    from prefect.exceptions import PrefectHTTPStatusError

    return isinstance(exc, PrefectHTTPStatusError) and exc.response.status_code >= 500


def serve(settings: Settings) -> None:
    """Serve the deployments of ``flows/deployments.py`` (the checkout's, or the copy in the
    installed package) until interrupted. Call :func:`configure_environment` first.

    ``DSAR_WORKER=in-process`` (the default): dsar's worker runs the flow runs in this process
    (:mod:`dsar.orchestration.worker`); ``subprocess``: Prefect's runner, one
    ``python -m prefect.engine`` process per run."""
    from prefect.utilities.importtools import import_object

    if settings.worker == "in-process":
        from dsar.orchestration.worker import serve_in_process

        served = import_object(resources.entrypoint("deployments.py", "served"))
        serve_in_process(served(settings), threads=settings.worker_threads, poll_seconds=settings.worker_poll_seconds)
        return
    from prefect import serve as prefect_serve

    define = import_object(resources.entrypoint("deployments.py", "deployments"))
    prefect_serve(*define(settings), print_starting_message=False)
