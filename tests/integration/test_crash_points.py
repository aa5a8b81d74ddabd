"""Crash points, killed by pid at the exact moment (a test hook in the mail port), not by
sleeping: the process dies with SIGKILL right after the code letter's file is written and
before the step's transaction commits (security probe, item 5)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dsar.app import App
from dsar.demo.helpdesk import HelpdeskHandler, start_helpdesk
from dsar.demo.run import latest_code
from dsar.domain.request import Status
from dsar.services import processing
from dsar.services.intake import log_request
from dsar.services.processing import VerificationOutcome
from dsar.settings import Settings
from tests.conftest import ROOT, build_migrated_app
from tests.signoff import approve

# Runs in a child process: the engine as configured by the environment, the outbox wrapped so
# that the process kills itself the moment the letter is on disk.
CHILD = textwrap.dedent(
    """
    import dataclasses, os, signal, sys
    from dsar.app import build_app
    from dsar.services import processing
    from dsar.services.ports import Mailer
    from tests.conftest import make_settings
    from pathlib import Path

    class KillAfterWrite(Mailer):
        def __init__(self, inner):
            self.inner = inner
        def send(self, mail):
            self.inner.send(mail)
            os.kill(os.getpid(), signal.SIGKILL)

    home, url, rid = sys.argv[1], sys.argv[2] or None, sys.argv[3]
    app = build_app(make_settings(Path(home), url))
    ctx = dataclasses.replace(app.ctx, mailer=KillAfterWrite(app.ctx.mailer))
    processing.start_verification(ctx, rid)
    print("not killed")
    """
)


def test_a_kill_after_the_code_letter_is_written_leaves_the_mailed_code_valid(engine_app: App, home: Path) -> None:
    ctx = engine_app.ctx
    raw = {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}}
    r = log_request(ctx, raw).request
    url = engine_app.settings.database_url.get_secret_value() if engine_app.settings.database_url else ""
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(home), url, r.id],
        cwd=root,
        env=os.environ | {"PYTHONPATH": str(root)},
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    outbox = engine_app.settings.effective_outbox_dir
    mailed = latest_code(outbox, r.reference)
    assert mailed is not None  # the letter reached the subject ...
    with ctx.uow() as uow:
        assert uow.challenges.latest(r.id) is None  # ... but nothing of the step was committed
    # the re-run issues the challenge again: the code stored is the one the subject holds
    assert processing.start_verification(ctx, r.id) is processing.Status.AWAITING_VERIFICATION
    letters = sorted(outbox.glob(f"{r.reference}.verify-*.eml"))
    assert {latest_code(outbox, r.reference)} == {mailed} and 1 <= len(letters) <= 2
    assert processing.confirm_code(ctx, r.id, mailed) is VerificationOutcome.VERIFIED


# --- a kill while a connector's DELETE reply is held back (item 6) ----------------------------

HELD = threading.Event()
RELEASE = threading.Event()


class HoldingHelpdesk(HelpdeskHandler):
    """The helpdesk deletes, then holds back its answer to the first DELETE until the caller
    is dead: the deletion happened, the client never heard of it."""

    def reply(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        if self.command == "DELETE" and not HELD.is_set():
            HELD.set()
            RELEASE.wait(120)
            self.close_connection = True
            return
        super().reply(status, body, headers)


def janes(helpdesk: Any) -> int:
    return sum(1 for c in helpdesk.store.snapshot()["contacts"].values() if c["email"].lower() == "jane.doe@example.com")


ERASER = textwrap.dedent(
    """
    import sys
    from dsar.app import build_app
    from dsar.services import processing
    from dsar.settings import load_settings

    processing.execute_plan(build_app(load_settings()).ctx, sys.argv[1])
    print("not killed")
    """
)


def test_an_erasure_whose_reply_was_lost_to_a_kill_is_counted_after_the_fact(tmp_path: Path) -> None:
    maps = tmp_path / "map"
    maps.mkdir()
    shutil.copy(ROOT / "connectors" / "helpdesk.yaml", maps / "helpdesk.yaml")
    HELD.clear()
    RELEASE.clear()
    helpdesk = start_helpdesk(tmp_path / "helpdesk", "crash-t0ken", handler=HoldingHelpdesk)
    try:
        env = {
            "DSAR_HOME": str(tmp_path / "home"),
            "DSAR_DATA_MAP_DIR": str(maps),
            "DSAR_TEMPLATES_DIR": str(ROOT / "templates"),
            "DSAR_DEMO_HELPDESK_URL": helpdesk.url,
            "DSAR_DEMO_HELPDESK_TOKEN": "Bearer crash-t0ken",
            "DSAR_VERIFICATION_SYSTEM": "helpdesk",
        }
        settings = Settings(
            home=tmp_path / "home",
            data_map_dir=maps,
            templates_dir=ROOT / "templates",
            demo_helpdesk_url=helpdesk.url,
            demo_helpdesk_token="Bearer crash-t0ken",
            verification_system="helpdesk",  # the only system: identity is checked against it
            _env_file=None,  # type: ignore[call-arg]
        )
        app = build_migrated_app(settings)
        ctx = app.ctx
        raw = {"type": "deletion", "regime": "gdpr", "country": "DE", "subject": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}}
        r = log_request(ctx, raw).request
        processing.start_verification(ctx, r.id)
        code = latest_code(settings.effective_outbox_dir, r.reference)
        assert code is not None and processing.confirm_code(ctx, r.id, code) is VerificationOutcome.VERIFIED
        processing.plan_request(ctx, r.id)
        assert approve(ctx, r.id) is Status.EXECUTING

        child = subprocess.Popen(
            [sys.executable, "-c", ERASER, r.id], cwd=ROOT, env=os.environ | env | {"PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE
        )
        try:
            assert HELD.wait(120), "the eraser never reached the helpdesk"
            os.kill(child.pid, signal.SIGKILL)  # killed while the DELETE's answer is held back
            assert child.wait(60) == -signal.SIGKILL
        finally:
            RELEASE.set()
            if child.poll() is None:
                child.kill()
        with ctx.uow() as uow:
            assert uow.plans.receipts(r.id) == []  # the first run kept nothing
        assert janes(helpdesk) == 1  # ... but the helpdesk deleted one of her two contacts

        assert processing.execute_plan(ctx, r.id) is Status.RESPONDING
        with ctx.uow() as uow:
            (erased,) = [e.details for e in uow.audit.events(r.id) if e.kind == "SystemErased"]
            (receipt,) = uow.plans.receipts(r.id)
        # the re-run deleted one, found none left of the two the plan approved: two were deleted
        assert erased["counts"] == {"records": {"delete": 2}} and receipt.records == 2
        assert erased["counted"].startswith("after the fact")
        assert janes(helpdesk) == 0
        app.engine.dispose()
    finally:
        RELEASE.set()
        helpdesk.stop()
