"""Legal on the console in a real headless Chromium: opens a request waiting for sign-off,
reads the plan and the letter preview (marked PREVIEW, no name), ticks an exemption with its
ground, types the authenticator code and records the decision; then decides an escalation in
the legal queue. With DSAR_SCREENSHOTS_DIR set, the sign-off form, the preview and the legal
queue are saved there (docs/img/ holds the ones docs/legal-signoff.md shows)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from dsar.crypto.totp import secret_from_base32
from dsar.domain.accounts import Role
from dsar.domain.request import Status
from dsar.services import accounts, casework, processing, queries
from tests.e2e.test_console_browser import page, served
from tests.signoff import code
from tests.web.console_fixtures import NAMES, PASSWORD, Console
from tests.web.test_console_request import awaiting_sign_off, waiting_run

__all__ = ["page", "served"]

SHOTS = os.environ.get("DSAR_SCREENSHOTS_DIR")


def shoot(target: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(Path(SHOTS) / name))


def test_legal_exempts_reads_the_preview_and_signs_off_then_decides_an_escalation(served: tuple[Console, str], page: Any) -> None:
    from playwright.sync_api import expect

    console, base = served
    r = awaiting_sign_off(console)
    console.sign_in(Role.SUPPORT)
    waiting_run(console, r.reference)
    flagged = console.log(subject={"name": "Otto Other", "emails": ["otto@example.com"]})
    casework.flag_legal_sensitive(console.app.ctx, flagged.id, "a solicitor's letter arrived", by="sam.support", via="console")
    secret = secret_from_base32(accounts.enrol_totp(console.app.ctx, NAMES[Role.LEGAL], by="test").secret)
    entity = next(t for t in processing.exemptable(console.app.ctx, r.id) if "/" in t and "." not in t)

    page.set_viewport_size({"width": 1280, "height": 1600})
    page.goto(base + "/console/login")
    page.get_by_label("Name").fill(NAMES[Role.LEGAL])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_contain_text("lena.legal")

    page.goto(f"{base}/console/requests/{r.reference}")
    form = page.locator("form[action$='/sign-off']")
    expect(form.get_by_role("heading", name="Legal sign-off")).to_be_visible()
    form.get_by_role("link", name="letter preview").click()
    expect(page.get_by_role("heading", name=f"PREVIEW The letter {r.reference} would get now")).to_be_visible()
    preview = page.locator("pre.letter-preview")
    expect(preview).to_contain_text("PREVIEW — NOT SENT")
    expect(preview).to_contain_text("[the subject's name]")
    assert "Jane" not in page.content()
    shoot(page, "console-letter-preview.png")

    page.go_back()
    form = page.locator("form[action$='/sign-off']")
    form.get_by_label("Approve the release").check()
    form.get_by_label(entity, exact=True).check()
    form.get_by_label("Legal ground of the ticked exemptions").select_option("gdpr-17-3-e")
    form.get_by_label("Internal note").fill("orders are evidence in matter 12")
    form.get_by_label("Code from your authenticator app").fill(code(console.app.ctx, secret))
    shoot(form, "console-sign-off-form.png")
    form.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("status")).to_contain_text("Sign-off recorded")
    assert queries.lookup(console.app.ctx, r.reference).status is Status.EXECUTING
    (recorded,) = console.details(r.reference, "SignOffRecorded")
    assert recorded["exemptions"] == [{"target": entity, "ground": "gdpr-17-3-e"}] and recorded["via"] == "console"

    page.get_by_role("link", name="Legal queue").click()
    expect(page.get_by_role("heading", name="Legal queue")).to_be_visible()
    expect(page.get_by_role("link", name=flagged.reference)).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 420})
    shoot(page, "console-legal-queue.png")
    page.set_viewport_size({"width": 1280, "height": 1600})
    page.get_by_role("link", name=flagged.reference).click()
    # a code is good once: the escalation takes the next 30-second step's, as a person would wait
    page.wait_for_timeout(1000 * (31 - int(time.time()) % 30))
    decide = page.locator("form[action$='/resolve-escalation']")
    decide.get_by_label("Proceed (release the hold)").check()
    decide.get_by_label("Code from your authenticator app").fill(code(console.app.ctx, secret))
    decide.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("status")).to_contain_text("Legal's decision on the escalation recorded")
    assert not queries.lookup(console.app.ctx, flagged.reference).on_hold
