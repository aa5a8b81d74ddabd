"""Audit deployments.

* `export-evidence` — auditors run it from the Prefect UI: a request reference, or a period
  (ISO dates), in; a signed evidence bundle out, linked as an artifact. Parameters, run names
  and artifacts hold references, dates, counts and paths: no personal data.
* `audit-maintenance` — on a schedule: signs a checkpoint of the log (after re-verifying the
  whole chain) and crypto-shreds requests past their retention period.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from dsar.app import build_checkpoint_archive, build_signer, build_witness
from dsar.domain.errors import InvalidInput
from dsar.domain.request import parse_reference
from dsar.orchestration.runtime import app
from dsar.services import audit as svc

EXPORT_FLOW = "export-evidence"
MAINTENANCE_FLOW = "audit-maintenance"


def _when(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO date like 2026-11-01", [f"{name}: not a date"]) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=app().settings.zone)


@task(cache_policy=NO_CACHE, persist_result=False)
def export(reference: str | None, since: str | None, until: str | None) -> svc.ExportResult:
    engine = app()
    ref = parse_reference(reference) if reference else None
    stamp = engine.ctx.clock().strftime("%Y%m%dT%H%M%SZ")
    label = ref or f"{since or 'start'}_{until or 'now'}".replace(":", "")
    out = engine.settings.effective_evidence_dir / f"evidence-{label}-{stamp}.zip"
    return svc.export_evidence(
        engine.ctx,
        build_signer(engine),
        out,
        reference=ref,
        since=_when(since, "since"),
        until=_when(until, "until"),
        archive=build_checkpoint_archive(engine),
        witness=build_witness(engine),
    )


@flow(name=EXPORT_FLOW, persist_result=False, log_prints=False)
def export_evidence(reference: str | None = None, since: str | None = None, until: str | None = None) -> str:
    """Export the evidence for one request (`reference`, e.g. DSR-2026-000123) or a period
    (`since`/`until`, ISO dates in the organisation's timezone)."""
    result = export(reference, since, until)
    create_link_artifact(
        key="evidence-bundle",
        link=result.path.resolve().as_uri(),
        link_text=result.path.name,
        description=f"Signed evidence bundle: {result.events} event(s), tree of {result.tree_size}, key {result.key_id}",
    )
    create_markdown_artifact(
        key="evidence-summary",
        markdown=(
            f"**{result.path.name}**\n\n- events: {result.events}\n- requests: {', '.join(result.requests) or 'none'}\n"
            f"- signed tree size: {result.tree_size}\n- key: `{result.key_id}`\n\nVerify with `dsar audit verify {result.path.name}`."
        ),
    )
    get_run_logger().info("bundle written: %d event(s) of %d request(s)", result.events, len(result.requests))
    return str(result.path)


@task(cache_policy=NO_CACHE, persist_result=False)
def checkpoint() -> int:
    engine = app()
    return svc.sign_checkpoint(engine.ctx, build_signer(engine), build_checkpoint_archive(engine), build_witness(engine)).tree_size


@task(cache_policy=NO_CACHE, persist_result=False)
def shred() -> int:
    engine = app()
    return len(svc.shred_expired(engine.ctx, engine.settings.audit_retention_months))


@flow(name=MAINTENANCE_FLOW, persist_result=False, log_prints=False)
def audit_maintenance() -> dict[str, int]:
    size = checkpoint()
    shredded = shred()
    get_run_logger().info("checkpoint over %d event(s); %d request(s) shredded", size, shredded)
    return {"tree_size": size, "shredded": shredded}
