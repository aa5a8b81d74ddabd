"""Prefect behind the Orchestrator port (:mod:`dsar.services.orchestration`).

* :mod:`dsar.orchestration.prefect` — the adapter: points Prefect at the configured API, starts,
  reads and resumes runs of ``process-request``, and serves the deployments that
  ``flows/deployments.py`` defines, loaded by file path.
* :mod:`dsar.orchestration.server` — a local Prefect server when none is configured, and
  ``dsar serve`` as a child process (for the demo).
* :mod:`dsar.orchestration.runtime` — the engine as a flow process builds it, once.
* :mod:`dsar.orchestration.clients` — one Prefect client per process, shared by the adapter,
  the worker and the flow engine's attempts.

Nothing here imports Prefect when imported itself: Prefect reads its settings when first
imported, so :func:`dsar.orchestration.prefect.configure_environment` must run before that.
The deployment names below are shared by the adapter and ``flows/deployments.py``.
"""

from __future__ import annotations

PROCESS_REQUEST = "process-request/process-request"
DEADLINE_WATCH = "deadline-watch/deadline-watch"
EXPORT_EVIDENCE = "export-evidence/export-evidence"
AUDIT_MAINTENANCE = "audit-maintenance/audit-maintenance"
