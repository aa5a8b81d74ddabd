"""The package row as the arbiter, on SQLite and PostgreSQL: of two downloads reaching their
end at the same moment (two threads), exactly one spends the link; the evidence bundle of a
request with restarted downloads and a new link verifies; `dsar request package-link`."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from typer.testing import CliRunner

from dsar.app import App, build_signer
from dsar.audit.bundle import read_member, verify_bundle
from dsar.services import audit, package
from dsar.services.intake import log_request
from tests.integration.test_processing import run_everything_once
from tests.packages import body_of, latest_package_code, link_token

JANE = "jane.doe@example.com"


def answered(app: App) -> tuple[str, str, str]:
    r = log_request(app.ctx, {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane", "emails": [JANE]}}).request
    run_everything_once(app, r.id, r.reference)
    token = link_token(body_of(app.settings.effective_outbox_dir / f"{r.reference}.access_response_dsar.eml"))
    assert token
    return r.id, r.reference, token


def race(app: App, rid: str) -> list[bool]:
    """Two downloads of the current link reach their end at once: finish_download in two
    threads released together."""
    p = package.package_status(app.ctx, rid)
    assert p is not None
    gate = threading.Barrier(2)

    def finish(start: int) -> bool:
        gate.wait()
        return package.finish_download(app.ctx, p, start)

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(finish, (1, 2)))


def test_two_downloads_finishing_at_once_spend_the_link_once(engine_app: App) -> None:
    rid, _, _ = answered(engine_app)
    rounds = [race(engine_app, rid)]
    for _ in range(engine_app.ctx.policy.package_max_new_links):  # a fresh link each round
        package.issue_link(engine_app.ctx, rid, by="test")
        rounds.append(race(engine_app, rid))
    assert all(sorted(r) == [False, True] for r in rounds), rounds
    with engine_app.ctx.uow() as uow:
        kinds = [e.kind for e in uow.audit.events(rid)]
    assert kinds.count("PackageDownloaded") == len(rounds)
    assert kinds.count("PackageDownloadRefused") == len(rounds)


def test_a_request_with_restarted_downloads_and_a_new_link_has_a_bundle_that_verifies(engine_app: App, tmp_path: Path) -> None:
    rid, ref, token = answered(engine_app)
    ctx, outbox = engine_app.ctx, engine_app.settings.effective_outbox_dir
    assert package.send_code(ctx, token) is None
    got = package.open_download(ctx, token, latest_package_code(outbox, ref))
    assert isinstance(got, package.Download)
    got.chunks.close()  # type: ignore[attr-defined]  # given up before its end
    link = package.issue_link(ctx, rid, by="cli:ops")
    new = link.url.split("#", 1)[1]
    assert package.send_code(ctx, new) is None
    got = package.open_download(ctx, new, latest_package_code(outbox, ref))
    assert isinstance(got, package.Download)
    assert len(b"".join(got.chunks)) == got.size
    signer = build_signer(engine_app)
    bundle = tmp_path / "bundle.zip"
    audit.export_evidence(ctx, signer, bundle, reference=ref)
    verdict = verify_bundle(bundle, signer.public_pem)
    assert verdict.ok, verdict.message
    events = read_member(bundle, "events.jsonl").decode()
    for kind in ("PackageDownloadStarted", "PackageLinkIssued", "PackageDownloaded"):
        assert kind in events
    assert JANE not in events and token not in events and new not in events


def test_the_cli_issues_a_new_link_and_says_why_not(sqlite_app: App, monkeypatch: object) -> None:
    import dsar.cli as cli

    rid, ref, token = answered(sqlite_app)
    env = {"DSAR_HOME": str(sqlite_app.settings.home_dir), "DSAR_DATA_MAP_DIR": str(sqlite_app.settings.data_map_dir)}
    env |= {"DSAR_TEMPLATES_DIR": str(sqlite_app.settings.templates_dir), "DSAR_PACKAGE_MAX_NEW_LINKS": "1"}
    runner = CliRunner()
    ok = runner.invoke(cli.app, ["request", "package-link", ref], env=env)
    assert ok.exit_code == 0, ok.output
    assert f"{ref}: a new download link went to the contact on file" in ok.output
    assert package.link_refusal(sqlite_app.ctx, token) is not None  # the old one stopped working
    (letter,) = sqlite_app.settings.effective_outbox_dir.glob(f"{ref}.package_link.1*.eml")
    new = link_token(body_of(letter))
    assert new and new != token and package.link_refusal(sqlite_app.ctx, new) is None
    with sqlite_app.ctx.uow() as uow:
        (issued,) = [e.details for e in uow.audit.events(rid) if e.kind == "PackageLinkIssued"]
    assert issued["by"].startswith("cli:")
    again = runner.invoke(cli.app, ["request", "package-link", ref], env=env)
    assert again.exit_code == 1 and "the most allowed (DSAR_PACKAGE_MAX_NEW_LINKS=1)" in " ".join(again.output.split())
