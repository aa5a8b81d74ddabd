"""Crash points, killed by pid at the exact moment (a test hook in the mail port), not by
sleeping: the process dies with SIGKILL right after the code letter's file is written and
before the step's transaction commits (security probe, item 5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from dsar.app import App
from dsar.demo.run import latest_code
from dsar.services import processing
from dsar.services.intake import log_request
from dsar.services.processing import VerificationOutcome

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
