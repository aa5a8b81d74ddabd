"""dsar's own worker: the flow runs of the served deployments run inside `dsar serve`.

Prefect's runner (``prefect.serve``) starts one ``python -m prefect.engine`` interpreter per
flow run and per resume, and finds work by polling every few seconds: on two cores that is
seconds of interpreter start and import per run, and a burst starts one interpreter per
request. This worker keeps one long-lived process instead:

* It registers the same deployments with the Prefect API (``RunnerDeployment.apply``, as the
  runner does), so the UI, schedules, parameters and run history are what users know.
* It claims a due run of those deployments as any Prefect worker does: it proposes ``Pending``
  (the server lets one claimer through; a second gets an abort), then runs it with Prefect's
  own flow engine (``prefect.flow_engine.run_flow``, what ``python -m prefect.engine`` calls)
  on one of ``DSAR_WORKER_THREADS`` threads of this process. States, task runs, logs,
  suspension and resume are Prefect's own: a run that suspends ends its attempt (its thread is
  free again) and is claimed again once resumed.
* It starts a run the moment it hears of it: this process's own intake and resumes call
  :func:`wake` (``PrefectOrchestrator.start_run`` and ``resume``), runs created or resumed by
  other processes (the CLI, the Prefect UI, a schedule) arrive as Prefect events
  (``prefect.flow-run.Scheduled``, ``Resuming``, ``AwaitingRetry``, ``Cancelling``) on one
  websocket. A slow poll (``DSAR_WORKER_POLL_SECONDS``) is the safety net for a missed event,
  a run whose scheduled time comes later (retries, crons), and work that was waiting while no
  worker ran.
* Cancelling a run that waits (scheduled, suspended) is Prefect's server's own business (it
  goes straight to Cancelled). A run this worker is executing is stopped like the runner stops
  a process: an ``Abort`` is raised in its thread (at the next Python instruction, as Prefect's
  own timeouts in threads do; nothing is recorded half-way, each step is one database
  transaction), then the run is marked Cancelled.

* What Prefect's engine does per attempt with a thread of its own, the worker does once for
  all its runs: the flow-run heartbeats (``_beat``; the engine's thread sleeps in whole seconds
  and is joined at the attempt's end, up to a second per attempt) and the watch for a run
  suspended from outside (the UI, ``suspend_flow_run``): the worker hears
  ``prefect.flow-run.Suspended`` on its one event stream and the run stops at its next step,
  as the engine's own watcher (a websocket per attempt) would have it.

``DSAR_WORKER=subprocess`` gives Prefect's runner back (:func:`dsar.orchestration.prefect.serve`).
Nothing here carries personal data: runs are known by id and reference.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments.runner import RunnerDeployment
    from prefect.flows import Flow

log = logging.getLogger("dsar.worker")

# Prefect event names that mean "a run of ours may be due now" or "stop this run".
DUE_EVENTS = ("prefect.flow-run.Scheduled", "prefect.flow-run.Resuming", "prefect.flow-run.AwaitingRetry")
CANCEL_EVENT = "prefect.flow-run.Cancelling"
SUSPENDED_EVENT = "prefect.flow-run.Suspended"

_current: InProcessWorker | None = None
_current_lock = threading.Lock()


def wake(flow_run_id: str | None = None) -> None:
    """Tell the worker running in this process (if any) that a run was created or resumed:
    it looks for due work at once instead of at its next poll. A no-op elsewhere."""
    with _current_lock:
        worker = _current
    if worker is not None:
        worker.wake()


def _abort_class() -> type[BaseException]:
    from prefect.exceptions import Abort

    class RunCancelled(Abort):
        """Raised in a flow-run thread when its run is cancelled from outside."""

    return RunCancelled


@dataclass
class _Execution:
    flow_run_id: UUID
    name: str
    flow_run: FlowRun | None = None  # as claimed: its flow, deployment and tags name the heartbeat's related resources
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread_id: int | None = None
    in_flow: bool = False
    cancel_requested: bool = False
    started: float = field(default_factory=time.time)


@dataclass
class WorkerStats:
    """What the worker did since it started (for tests and the benchmark's log line)."""

    claimed: int = 0
    finished: int = 0
    cancelled: int = 0
    claim_refused: int = 0
    polls: int = 0
    woken: int = 0
    events: int = 0


class InProcessWorker:
    """Runs flow runs of ``served`` (deployment, flow) pairs in this process; see the module."""

    def __init__(
        self,
        served: Sequence[tuple[RunnerDeployment, Flow[..., Any]]],
        *,
        threads: int = 8,
        poll_seconds: float = 5.0,
        listen_for_events: bool = True,
    ) -> None:
        if threads < 1:
            raise ValueError("the worker needs at least one thread")
        self._served = list(served)
        self.threads = threads
        self.poll_seconds = poll_seconds
        self.listen_for_events = listen_for_events
        self.stats = WorkerStats()
        self._flows: dict[UUID, Flow[..., Any]] = {}
        self._running: dict[UUID, _Execution] = {}
        self._running_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._listener: threading.Thread | None = None
        self._heartbeat: threading.Thread | None = None
        self._cancelled_cls = _abort_class()
        self._events_live = False  # the event stream is connected (cancellations are heard)
        self._backlog = False  # the last poll left due runs for want of a free thread
        self._cancels_checked = 0.0  # when the poll last looked for runs being cancelled (monotonic)

    # --- life cycle -------------------------------------------------------------------------
    def register(self) -> list[UUID]:
        """Register (create or update) the deployments with the Prefect API."""
        for deployment, flow in self._served:
            deployment_id = deployment.apply()
            assert isinstance(deployment_id, UUID)  # called outside an event loop: the synchronous form
            self._flows[deployment_id] = flow
        return list(self._flows)

    def run(self, ready: Callable[[], None] | None = None) -> None:
        """Register the deployments, then claim and run due runs until :meth:`stop` (or
        Ctrl-C). ``ready`` is called once the deployments are registered."""
        global _current
        from dsar.orchestration.clients import shared_client

        self.register()
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="dsar-flow-run")
        with _current_lock:
            _current = self
        if self.listen_for_events:
            self._listener = threading.Thread(target=self._listen, name="dsar-worker-events", daemon=True)
            self._listener.start()
        if heartbeat_seconds() is not None:
            self._heartbeat = threading.Thread(target=self._beat, name="dsar-worker-heartbeat", daemon=True)
            self._heartbeat.start()
        if ready is not None:
            ready()
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    self.poll_once(shared_client())
                except Exception as exc:  # noqa: BLE001 - the API may be briefly away; try again at the next poll
                    log.warning("worker poll failed (%s); trying again", type(exc).__name__)
                self._wake.wait(self.poll_seconds)
        finally:
            with _current_lock:
                if _current is self:
                    _current = None
            self._pool.shutdown(wait=True, cancel_futures=False)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        self.stats.woken += 1
        self._wake.set()

    @property
    def executing(self) -> list[UUID]:
        with self._running_lock:
            return list(self._running)

    # --- one round --------------------------------------------------------------------------
    def poll_once(self, client: SyncPrefectClient) -> None:
        """Stop the runs being executed that were cancelled meanwhile, then claim due runs up to
        the free threads and hand them to the pool."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterState, FlowRunFilterStateType
        from prefect.client.schemas.objects import FlowRun, StateType
        from prefect.types._datetime import now

        self.stats.polls += 1
        executing = self.executing
        # Cancellations arrive on the event stream (``Cancelling``); the poll looks for any it
        # missed once per poll interval, not at every wake (a run resumed, a thread free), or
        # at every poll while the stream is down.
        started = time.monotonic()
        if executing and (not self._events_live or started - self._cancels_checked >= self.poll_seconds):
            self._cancels_checked = started
            cancelling = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=executing),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CANCELLING])),
                )
            )
            for fr in cancelling:
                self.cancel(fr.id)
        free = self.threads - len(self.executing)
        if free <= 0 or not self._flows:
            self._backlog = bool(self._flows)  # every thread busy: look again when one is free
            return
        limit = free + len(executing)
        due = client.get_scheduled_flow_runs_for_deployments(list(self._flows), scheduled_before=now("UTC"), limit=limit)
        due.sort(key=lambda r: (r.next_scheduled_start_time is None, r.next_scheduled_start_time))
        left = len(due) >= limit  # perhaps more than were asked for
        for flow_run in due:
            if free <= 0:
                left = True
                break
            if flow_run.id in self._running or flow_run.deployment_id not in self._flows:
                continue
            if self._claim(client, FlowRun.model_validate(flow_run.model_dump())):
                free -= 1
        self._backlog = left

    def _claim(self, client: SyncPrefectClient, flow_run: FlowRun) -> bool:
        from prefect.exceptions import Abort
        from prefect.states import Pending
        from prefect.utilities.engine import propose_state_sync

        try:
            state = propose_state_sync(client, Pending(), flow_run_id=flow_run.id)
        except Abort:
            self.stats.claim_refused += 1  # another worker has it, or it was cancelled meanwhile
            return False
        if not state.is_pending():
            self.stats.claim_refused += 1
            return False
        flow_run.state = state
        execution = _Execution(flow_run.id, flow_run.name, flow_run)
        with self._running_lock:
            self._running[flow_run.id] = execution
        self.stats.claimed += 1
        if heartbeat_seconds() is not None:
            emit_heartbeat(flow_run)  # as Prefect's engine does when an attempt starts
        assert self._pool is not None
        assert flow_run.deployment_id is not None
        self._pool.submit(self._execute, execution, flow_run, self._flows[flow_run.deployment_id])
        return True

    # --- in a pool thread -------------------------------------------------------------------
    def _execute(self, execution: _Execution, flow_run: FlowRun, flow: Flow[..., Any]) -> None:
        try:
            self._run_flow(execution, flow_run, flow)
        except self._cancelled_cls:
            pass  # a cancel that landed on the way out
        try:
            if execution.cancel_requested:
                self._mark_cancelled(flow_run.id)
        except Exception as exc:  # noqa: BLE001 - logged; the poll sees a Cancelling run again
            log.warning("could not mark flow run %s cancelled (%s)", flow_run.id, type(exc).__name__)
        finally:
            with self._running_lock:
                self._running.pop(flow_run.id, None)
            self.stats.finished += 1
            if self._backlog:
                self._wake.set()  # a thread is free and due work was left waiting for one

    def _run_flow(self, execution: _Execution, flow_run: FlowRun, flow: Flow[..., Any]) -> None:
        from prefect.exceptions import Abort, Pause
        from prefect.logging.loggers import flow_run_logger

        run_logger: Any = flow_run_logger(flow_run=flow_run)
        try:
            try:
                with execution.lock:
                    if execution.cancel_requested:
                        return
                    execution.thread_id = threading.get_ident()
                    execution.in_flow = True
                execute_claimed(flow, flow_run, run_logger)
            finally:
                with execution.lock:
                    execution.in_flow = False
        except (Pause, Abort):
            pass  # suspended (claimed again once resumed), or stopped by the server or a cancel
        except Exception as exc:  # noqa: BLE001 - the flow engine recorded the failure in the run's state
            log.info("flow run %s ended with %s", execution.name, type(exc).__name__)

    # --- cancellation -----------------------------------------------------------------------
    def cancel(self, flow_run_id: UUID) -> bool:
        """Stop a run this worker executes (it was set Cancelling): raise ``Abort`` in its
        thread; the thread marks it Cancelled. False when this worker does not run it."""
        with self._running_lock:
            execution = self._running.get(flow_run_id)
        if execution is None:
            return False
        with execution.lock:
            if execution.cancel_requested:
                return True
            execution.cancel_requested = True
            if execution.in_flow and execution.thread_id is not None:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(execution.thread_id), ctypes.py_object(self._cancelled_cls))
        log.info("cancelling flow run %s", execution.name)
        return True

    def _mark_cancelled(self, flow_run_id: UUID) -> None:
        from prefect.states import Cancelled

        from dsar.orchestration.clients import shared_client

        client = shared_client()
        fr = client.read_flow_run(flow_run_id)
        if fr.state is not None and fr.state.is_final():
            return
        client.set_flow_run_state(flow_run_id, Cancelled(message="Cancelled while running in dsar's worker"), force=True)
        self.stats.cancelled += 1

    def _suspended_from_outside(self, flow_run_id: UUID, state_id: UUID, occurred: float) -> None:
        """What Prefect's per-run watcher does, for every run of this worker at once: a run this
        worker executes was set Suspended by someone else (its own suspensions end its attempt
        before the event arrives): confirm it against the server (the event is that state's,
        and newer than this attempt), then let the engine stop at its next step (Prefect's own
        in-process request, raised as Pause)."""
        from prefect._flow_run_suspension import is_suspended_flow_run_state, mark_flow_run_suspension_requested

        from dsar.orchestration.clients import shared_client

        with self._running_lock:
            execution = self._running.get(flow_run_id)
        if execution is None or not execution.in_flow or occurred < execution.started:
            return
        state = shared_client().read_flow_run(flow_run_id).state
        if state is not None and state.id == state_id and is_suspended_flow_run_state(state):
            mark_flow_run_suspension_requested(flow_run_id, state)

    # --- heartbeats -------------------------------------------------------------------------
    def _beat(self) -> None:
        """Prefect's flow-run heartbeats (``prefect.flow-run.heartbeat``, what a run's engine
        sends every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds so that a run whose process
        died can be told from a live one), for every run this worker executes, from one thread.
        Prefect's engine would start a thread per attempt and join it at the attempt's end,
        which waits up to a second (it sleeps in whole seconds): each run runs with its own
        heartbeats off (:func:`execute_claimed`) and this thread sends them instead."""
        interval = heartbeat_seconds()
        assert interval is not None
        while not self._stop.wait(interval):
            with self._running_lock:
                executing = [e for e in self._running.values() if e.in_flow and e.flow_run is not None]
            for execution in executing:
                assert execution.flow_run is not None
                try:
                    emit_heartbeat(execution.flow_run)
                except Exception as exc:  # noqa: BLE001 - a lost heartbeat is not worth stopping for
                    log.debug("heartbeat for %s not sent (%s)", execution.name, type(exc).__name__)

    # --- events -----------------------------------------------------------------------------
    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                asyncio.run(self._listen_once())
            except Exception as exc:  # noqa: BLE001 - reconnect; the poll covers the gap
                log.info("worker event stream dropped (%s); reconnecting", type(exc).__name__)
            if not self._stop.wait(1.0):
                self._wake.set()  # events may have been missed while away

    async def _listen_once(self) -> None:
        from prefect.events.clients import get_events_subscriber
        from prefect.events.filters import EventFilter, EventNameFilter

        flt = EventFilter(event=EventNameFilter(name=[*DUE_EVENTS, CANCEL_EVENT, SUSPENDED_EVENT]))
        async with get_events_subscriber(filter=flt, reconnection_attempts=3) as events:
            self._events_live = True
            try:
                await self._take(events)
            finally:
                self._events_live = False

    async def _take(self, events: Any) -> None:
        served = {f"prefect.deployment.{d}" for d in self._flows}
        async for event in events:
            if self._stop.is_set():
                return
            self.stats.events += 1
            ours = any(r.get("prefect.resource.role") == "deployment" and r.id in served for r in event.related)
            if not ours:
                continue
            try:
                run_id = UUID(event.resource.id.removeprefix("prefect.flow-run."))
            except ValueError:
                continue
            if event.event == CANCEL_EVENT:
                self.cancel(run_id)
            elif event.event == SUSPENDED_EVENT:
                self._suspended_from_outside(run_id, event.id, event.occurred.timestamp())
            else:
                self._wake.set()


def execute_claimed(flow: Flow[..., Any], flow_run: FlowRun, error_logger: Any = None) -> None:
    """Run a flow run this process has claimed (proposed Pending) with Prefect's flow engine,
    here, until it ends or suspends (``Pause``) or is stopped (``Abort``), which it raises.

    Without the deployment id on the object handed in, Prefect's engine starts no per-run
    suspension watcher (a websocket and a thread per attempt): the worker's one event stream
    does that watcher's work (``InProcessWorker._suspended_from_outside``). The engine reads the
    run again from the API before running the flow, deployment included, so the run's context,
    events and UI are as Prefect's runner gives them.

    The engine runs on the process's shared Prefect client (:mod:`dsar.orchestration.clients`)
    instead of building one per attempt. A run that has run before (resumed after a suspension,
    retried) already bears the name its first attempt gave it: the flow's run-name function is
    not called again (a read of the record, a rename and a read of the result storage per
    attempt, for the same name)."""
    from prefect.context import SettingsContext, get_settings_context
    from prefect.flow_engine import run_flow

    from dsar.orchestration.clients import client_context

    if flow_run.run_count > 0 and flow_run.name and flow.flow_run_name is not None:
        flow = _named_already(flow)
    # The run's own heartbeats off, for this thread only (Prefect's settings are a context
    # variable): the worker sends them for all its runs from one thread (``_beat``).
    current = get_settings_context()
    with SettingsContext(profile=current.profile, settings=_without_heartbeats(current.settings)), client_context():
        run_flow(flow, flow_run=flow_run.model_copy(update={"deployment_id": None}), error_logger=error_logger)


_named_lock = threading.Lock()
_named: dict[int, tuple[Any, Any]] = {}


def _named_already(flow: Flow[..., Any]) -> Flow[..., Any]:
    """``flow`` without its run-name function (a copy, made once per flow object)."""
    import copy

    with _named_lock:
        found = _named.get(id(flow))
        if found is None or found[0] is not flow:
            unnamed = copy.copy(flow)
            unnamed.flow_run_name = None
            found = (flow, unnamed)
            _named[id(flow)] = found
        result: Flow[..., Any] = found[1]
        return result


_quiet_lock = threading.Lock()
_quiet: dict[int, tuple[Any, Any]] = {}


def _without_heartbeats(settings: Any) -> Any:
    """``settings`` with flow-run heartbeats off, derived once per settings object (building
    Prefect's settings reads the environment again: 60 ms an attempt otherwise)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY

    with _quiet_lock:
        found = _quiet.get(id(settings))
        if found is None or found[0] is not settings:
            found = (settings, settings.copy_with_update(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}))
            _quiet[id(settings)] = found
        return found[1]


def heartbeat_seconds() -> int | None:
    """Prefect's flow-run heartbeat interval (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``, at least 30
    s; None: no heartbeats)."""
    from prefect.settings import get_current_settings

    value = get_current_settings().flows.heartbeat_frequency
    return None if value is None else max(int(value), 30)


def emit_heartbeat(flow_run: FlowRun) -> None:
    """One ``prefect.flow-run.heartbeat`` event for ``flow_run``, with the resource and related
    resources Prefect's flow engine gives it (the run; its flow, deployment and tags)."""
    from prefect import __version__
    from prefect.events import emit_event
    from prefect.events.related import tags_as_related_resources
    from prefect.events.schemas.events import RelatedResource

    related: list[RelatedResource] = [
        RelatedResource.model_validate({"prefect.resource.id": f"prefect.flow.{flow_run.flow_id}", "prefect.resource.role": "flow"})
    ]
    if flow_run.deployment_id:
        related.append(
            RelatedResource.model_validate(
                {"prefect.resource.id": f"prefect.deployment.{flow_run.deployment_id}", "prefect.resource.role": "deployment"}
            )
        )
    related += tags_as_related_resources(set(flow_run.tags or []))
    emit_event(
        event="prefect.flow-run.heartbeat",
        resource={
            "prefect.resource.id": f"prefect.flow-run.{flow_run.id}",
            "prefect.resource.name": flow_run.name or "",
            "prefect.version": __version__,
        },
        related=related,
    )


def serve_in_process(served: Sequence[tuple[RunnerDeployment, Flow[..., Any]]], *, threads: int, poll_seconds: float) -> None:
    """Run an :class:`InProcessWorker` until interrupted (Ctrl-C or SIGTERM)."""
    import signal

    if not log.handlers:  # the worker's own lines (claims refused, cancels) beside Prefect's
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(name)s - %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    worker = InProcessWorker(served, threads=threads, poll_seconds=poll_seconds)

    def _terminate(*_: Any) -> None:
        worker.stop()

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        worker.run()
    except KeyboardInterrupt:
        worker.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
