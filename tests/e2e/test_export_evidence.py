"""Auditors run `export-evidence` from Prefect: the bundle is written, linked as an artifact,
and verifies offline; the artifact holds no personal data."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import Dsar, PrefectServer, wait_until
from tests.e2e.test_deadline_watch import post

pytestmark = pytest.mark.prefect


def test_export_evidence_deployment_writes_a_verifiable_bundle_linked_as_an_artifact(
    prefect_server: PrefectServer, dsar: Dsar, tmp_path: Path
) -> None:
    new = dsar.json(
        "request", "new", "--no-start", "--type", "access", "--regime", "gdpr", "--country", "DE",
        "--name", "Ottoline Quibble", "--email", "ottoline.quibble@example.org",
    )  # fmt: skip
    ref = new["reference"]
    serving = dsar.serve()
    try:
        name = "export-evidence/export-evidence"
        wait_until(lambda: prefect_server.has_deployment(name), 180, "the export-evidence deployment")
        wait_until(lambda: prefect_server.has_deployment("audit-maintenance/audit-maintenance"), 60, "the audit-maintenance deployment")
        deployment = prefect_server.get(f"/deployments/name/{name}")
        # Served from the checkout's root (Dsar runs there), the flow file by path relative to it;
        # every run is a `python -m prefect.engine` there, loading this entrypoint again.
        assert (deployment["entrypoint"], deployment["path"]) == ("flows/audit_flows.py:export_evidence", ".")
        run = post(prefect_server, f"/deployments/{deployment['id']}/create_flow_run", {"parameters": {"reference": ref}})
        wait_until(lambda: prefect_server.run_state(run["id"]) in ("COMPLETED", "FAILED", "CRASHED"), 300, "the export run")
        assert prefect_server.run_state(run["id"]) == "COMPLETED"
        artifacts = post(prefect_server, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}})
        link = next(a for a in artifacts if a["type"] == "markdown" and a["key"] == "evidence-bundle")
        path = Path(urlparse(link["data"].split("](", 1)[1].rstrip(")")).path)
        assert path.exists(), link["data"]
        assert "Quibble" not in json.dumps(artifacts)
        published = tmp_path / "published.pem"
        assert dsar("audit", "public-key", "--out", str(published)).returncode == 0
        verified = dsar("audit", "verify", str(path), "--public-key", str(published))
        assert verified.returncode == 0, verified.stderr
        assert "intact" in verified.stdout
    finally:
        serving.terminate()
        serving.wait(timeout=60)
