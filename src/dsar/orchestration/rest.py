"""Starting a ``process-request`` run over Prefect's REST API, without importing Prefect.

Importing Prefect's client costs a command about a second of CPU (issue 13, item 8); starting
a run is two HTTP calls: read the deployment by name, then create a flow run from it, with the
body Prefect's own ``run_deployment(..., timeout=0, as_subflow=False)`` sends (the request id as
the only parameter, the reference as the run's name, Scheduled for now, no tags of its own: the
server adds the deployment's).

Prefect's client stays in charge wherever it knows something this module does not: an API key
or auth string, TLS settings, custom headers, a CSRF-protected server, a Prefect profile or
settings file, credentials in the URL, https. :func:`usable` says whether the plain path
applies; a 401 or 403 from the server raises :class:`NeedsPrefectClient` so the caller can
retry with the client.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dsar.domain.errors import ConfigurationError

# Prefect settings that change how its client talks to a plain-http API (auth, headers, CSRF,
# proxies) or where it reads further settings from (a profile). TLS settings concern https
# only, which always goes through Prefect's client.
CLIENT_SETTINGS = (
    "PREFECT_API_KEY",
    "PREFECT_API_AUTH_STRING",
    "PREFECT_CLIENT_CUSTOM_HEADERS",
    "PREFECT_CLIENT_CSRF_SUPPORT_ENABLED",
    "PREFECT_API_ENABLE_HTTP2",
    "PREFECT_CLIENT_MAX_RETRIES",
    "PREFECT_CLIENT_RETRY_EXTRA_CODES",
    "PREFECT_CLIENT_RETRY_JITTER_FACTOR",
    "PREFECT_PROFILE",
    "PREFECT_PROFILES_PATH",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
)
TIMEOUT_S = 30.0
# As Prefect's client: answers worth another try (a local server on SQLite answers 503 while its
# database is locked), at most 5 more tries, 2, 4, 8 ... seconds apart (or as Retry-After says).
RETRY_CODES = frozenset({408, 429, 502, 503})
MAX_RETRIES = 5


class NeedsPrefectClient(Exception):
    """The server wants something only Prefect's client gives (credentials, a CSRF token)."""


def usable(api_url: str, environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> bool:
    """Whether a run can be started with plain HTTP: a plain ``http://`` URL without
    credentials, and no Prefect setting (environment, profile, settings file in the working
    folder) that Prefect's client would apply to the call."""
    env = os.environ if environ is None else environ
    parts = urllib.parse.urlsplit(api_url)
    if parts.scheme != "http" or parts.username or parts.password or not parts.hostname:
        return False
    if any(env.get(name) for name in CLIENT_SETTINGS):
        return False
    home = env.get("PREFECT_HOME")
    profiles = Path(home).expanduser() / "profiles.toml" if home else Path.home() / ".prefect" / "profiles.toml"
    if profiles.is_file() and profiles.stat().st_size > 0:
        return False
    folder = cwd or Path.cwd()
    if (folder / "prefect.toml").is_file():
        return False
    for name, marker in ((".env", "PREFECT_"), ("pyproject.toml", "[tool.prefect")):
        try:
            if marker in (folder / name).read_text(errors="replace"):
                return False
        except OSError:
            continue
    return True


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    try:
        return max(0.0, float(exc.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _refused(exc: BaseException) -> bool:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, ConnectionRefusedError)


def _call(method: str, url: str, body: Mapping[str, Any] | None = None, *, sleep: Any = time.sleep) -> Any:
    data = None if body is None else json.dumps(body).encode()
    what = f"{method} {url.rsplit('/api/', 1)[-1]}"
    tries = 0
    while True:
        tries += 1
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http URL checked by usable()
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        wait: float | None = None
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 - http URL checked by usable()
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise NeedsPrefectClient(f"the Prefect API answered {exc.code}") from None
            if exc.code == 404:
                raise ConfigurationError(f"the Prefect API has no {url.rsplit('/api/', 1)[-1]} (is `dsar serve` running?)") from None
            if exc.code not in RETRY_CODES or tries > MAX_RETRIES:
                raise ConfigurationError(f"the Prefect API answered {exc.code} to {what}") from None
            wait = _retry_after(exc)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            # refused: nothing listens (say so at once); dropped or timed out: try again
            if _refused(exc) or tries > MAX_RETRIES:
                raise ConfigurationError(f"the Prefect API does not answer ({type(exc).__name__})") from None
        if wait is None:
            wait = 2**tries * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret
        sleep(wait)


def deployment_id(api_url: str, deployment: str) -> str:
    """The id of a deployment named ``flow/deployment``."""
    flow, _, name = deployment.partition("/")
    path = f"deployments/name/{urllib.parse.quote(flow, safe='')}/{urllib.parse.quote(name, safe='')}"
    found = _call("GET", f"{api_url.rstrip('/')}/{path}")
    return str(found["id"])


def flow_run_body(parameters: Mapping[str, Any], name: str, scheduled: datetime) -> dict[str, Any]:
    """What Prefect's client posts to create a flow run from a deployment (Prefect 3.8)."""
    when = scheduled.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {
        "state": {
            "type": "SCHEDULED",
            "name": "Scheduled",
            "message": None,
            "state_details": {"scheduled_time": when, "traceparent": None},
            "data": None,
        },
        "name": name,
        "parameters": dict(parameters),
        "context": {},
        "tags": [],
        "idempotency_key": None,
        "parent_task_run_id": None,
        "job_variables": None,
        "labels": {},
    }


def start_run(api_url: str, deployment: str, parameters: Mapping[str, Any], name: str) -> str:
    """Create a flow run of ``deployment`` scheduled for now; returns its id. Two calls."""
    dep = deployment_id(api_url, deployment)
    run = _call("POST", f"{api_url.rstrip('/')}/deployments/{dep}/create_flow_run", flow_run_body(parameters, name, datetime.now(UTC)))
    return str(run["id"])
