"""Verification risk flags through the real flow on a real Prefect server and `dsar serve`: a
request from a look-alike of the address on file (its subject found by the phone typed with it)
makes the run wait for legal's form before any link goes, and legal's *proceed* sends the link to
the contact on file; a subject's codes guessed to the last try make the woken run wait for legal
before the could-not-verify letter. The forms' descriptions name no one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dsar.demo.run import latest_code
from tests.conftest import SHOP_ONLY
from tests.e2e.conftest import Dsar, PrefectServer, wait_until
from tests.e2e.test_escalation_prefect import escalation_form, waits_for
from tests.e2e.test_sign_off_api import enrol, now_code, resume, until_verified

pytestmark = pytest.mark.prefect

LOOK_ALIKE = "jane.m.doe@example.com"


def phone_map(folder: Path) -> Path:
    """The shop-only data map, its customers also found by phone."""
    shutil.copytree(SHOP_ONLY, folder)
    shop = (folder / "shop.yaml").read_text()
    anchor = "    identity:\n      email: email\n"
    assert shop.count(anchor) == 1
    (folder / "shop.yaml").write_text(shop.replace(anchor, anchor + "      phone: phone\n"))
    return folder


@pytest.mark.timeout(1200)
def test_the_run_asks_legal_about_a_look_alike_before_the_link_and_about_guessed_codes_before_the_letter(
    prefect_server: PrefectServer, dsar: Dsar, tmp_path: Path
) -> None:
    d = Dsar(dsar.env | {"DSAR_DATA_MAP_DIR": str(phone_map(tmp_path / "map"))}, dsar.home)
    lena = enrol(d, "lena.legal")
    serving = d.serve()
    outbox = d.home / "outbox"
    try:
        wait_until(lambda: prefect_server.has_deployment("process-request/process-request"), 180, "dsar serve to register its deployment")
        new = d.json("request", "new", "--type", "access", "--regime", "gdpr", "--country", "DE", "--name", "Jane Doe",
                     "--email", LOOK_ALIKE, "--phone", "+49 30 5550101")  # fmt: skip
        run_id, ref = new["flow_run_id"], new["reference"]
        waits_for(d, prefect_server, ref, run_id, "legal-escalation")
        _, description = escalation_form(prefect_server, run_id, 1)
        assert "verification risk flagged" in description and f"### {ref}: escalation 1" in description
        assert "jane" not in description.lower() and "5550101" not in description
        shown = d.json("request", "show", ref)
        assert shown["status"] == "received" and shown["on_hold"] is True
        assert not outbox.is_dir() or not list(outbox.glob(f"{ref}.*"))  # no link, to anyone
        given = {"decision": "proceed", "approver": "lena.legal", "code": now_code(lena), "note": "she called: a typo"}
        assert resume(prefect_server, run_id, given)["status"] == "ACCEPT"
        waits_for(d, prefect_server, ref, run_id, "subject")  # the link went, to the address on file
        mails = [p.read_text(errors="replace") for p in outbox.glob(f"{ref}.verify*.eml")]
        assert len(mails) == 1 and "To: jane.doe@example.com" in mails[0] and LOOK_ALIKE not in mails[0]
        until_verified(d, prefect_server, ref, run_id)  # on to legal's sign-off of the plan, as any request

        # guessed codes to the last try: refused as ever, and the woken run asks legal first
        other = d.json("request", "new", "--type", "access", "--regime", "gdpr", "--country", "DE", "--name", "Ana Silva",
                       "--email", "ana.silva@example.com")  # fmt: skip
        other_run, other_ref = other["flow_run_id"], other["reference"]
        waits_for(d, prefect_server, other_ref, other_run, "subject")
        real = latest_code(outbox, other_ref)
        wrong = [c for c in ("00000000", "11111111", "22222222", "33333333", "44444444", "55555555") if c != real][:5]
        said = [d("request", "verify", other_ref, "--code", c) for c in wrong]
        assert [s.returncode for s in said] == [1] * 5 and "no tries left" in said[-1].stdout + said[-1].stderr
        waits_for(d, prefect_server, other_ref, other_run, "legal-escalation")
        assert d.json("request", "show", other_ref)["status"] == "denied"
        assert not list(outbox.glob(f"{other_ref}.could_not_verify*"))  # the letter waits for legal
    finally:
        serving.terminate()
        serving.wait(timeout=60)
