"""One Prefect client per process and API, shared by every thread that talks to Prefect.

Prefect's ``get_client()`` builds a new client each time it is called outside a client
context: a new ``httpx`` client with a TLS context loaded from the CA bundle (even for a plain
``http://`` API), a new connection pool, and a CSRF token fetched before its first write. That
was ~0.05 s of CPU per call, paid by every hand-over (reading the run, resuming it: two clients
per code or sign-off) and by every attempt of a flow run in ``dsar serve`` (the engine enters a
client context of its own when none is active).

:func:`shared_client` gives one client per set of client settings (the API's address, key, TLS
and client options: a process pointed at another API by ``configure_environment`` gets a new
one), built and entered once, and closed when the process exits (or by :func:`close_clients`).
:func:`client_context` makes it the client of Prefect's own code too (the flow engine, its task
runs, ``get_client(sync_client=True)`` inside a run). Prefect itself uses one client from many
threads (its engine's client serves the task runner's threads); httpx's pool is thread-safe and
Prefect caps it at 16 connections.

Prefect is imported inside the functions only: it reads its settings when first imported.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

_lock = threading.Lock()
_clients: dict[str, SyncPrefectClient] = {}
_registered = False


def _key(settings: Any) -> str:
    """What Prefect builds a client from (the API's and the client's settings, secrets
    included), as a digest: equal settings share a client."""
    api, client = settings.api, settings.client
    secrets = [None if s is None else s.get_secret_value() for s in (api.key, api.auth_string)]
    raw = json.dumps([api.model_dump(mode="json"), client.model_dump(mode="json"), secrets], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def shared_client() -> SyncPrefectClient:
    """The process's Prefect client for the settings in force now (inside a flow run: the
    run's own client), entered once; never close it yourself."""
    from prefect.client.orchestration import get_client
    from prefect.context import SyncClientContext
    from prefect.settings import get_current_settings

    active = SyncClientContext.get()
    if active is not None:
        return active.client
    key = _key(get_current_settings())
    global _registered
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = get_client(sync_client=True)
            client.__enter__()
            _clients[key] = client
            if not _registered:
                atexit.register(close_clients)
                _registered = True
        return client


@contextmanager
def client_context() -> Iterator[SyncPrefectClient]:
    """Prefect's client context over :func:`shared_client`, so that Prefect's own code here
    (the flow engine, ``run_deployment``, ``get_client(sync_client=True)``) uses it instead of
    building its own. Leaving it does not close the client."""
    from prefect.context import SyncClientContext

    active = SyncClientContext.get()
    if active is not None:
        yield active.client
        return
    client = shared_client()
    # Built around the client given (its __init__ would build a client of its own). Entering
    # it enters the client a second time; leaving it leaves that second time only.
    with SyncClientContext.model_construct(client=client) as ctx:
        yield ctx.client


def close_clients() -> None:
    """Close the shared clients (at exit; a later call builds new ones)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        try:
            client.__exit__(None, None, None)
        except Exception:  # noqa: BLE001, S110 - closing at exit: nothing left to tell
            pass
