"""Legal's exemptions on the console's sign-off form: a checkbox per part of the plan and a
ground; without a ground refused at input (nothing recorded), outside the plan refused and
recorded, with a ground recorded and the stored plan revised."""

from __future__ import annotations

from dsar.crypto.totp import secret_from_base32
from dsar.domain.accounts import Role
from dsar.domain.request import Status
from dsar.services import accounts, processing, queries
from tests.signoff import code
from tests.web.console_fixtures import Console, console
from tests.web.test_console_request import act, awaiting_sign_off, done, page_of, waiting_run

__all__ = ["console"]


def test_legal_exempts_part_of_the_plan_on_a_ground_from_the_console(console: Console) -> None:
    legal = console.sign_in(Role.LEGAL)
    secret = secret_from_base32(accounts.enrol_totp(console.app.ctx, legal.name, by="test").secret)
    r = awaiting_sign_off(console)
    waiting_run(console, r.reference)
    targets = processing.exemptable(console.app.ctx, r.id)
    entity = next(t for t in targets if "/" in t and "." not in t)
    html = page_of(console, r.reference)
    assert f'name="exempt" value="{entity}"' in html and "gdpr-17-3-e" in html and "Keep out of the answer" in html

    no_ground = act(console, r.reference, "sign-off", {"decision": "approve", "exempt": [entity], "code": code(console.app.ctx, secret)})
    assert no_ground.status_code == 422 and f"exempt {entity}: needs a legal ground" in no_ground.text
    assert "SignOffRefused" not in console.kinds(r.reference)

    outside = act(
        console, r.reference, "sign-off", {"decision": "approve", "exempt": ["warehouse"], "ground": "legal-hold", "code": "000000"}
    )
    assert outside.status_code == 422 and "an exemption names something the plan does not hold" in outside.text
    assert console.details(r.reference, "SignOffRefused")[-1]["reason"] == "exemption_not_in_plan"

    typed = code(console.app.ctx, secret)
    given = {"decision": "approve", "exempt": [entity], "ground": "gdpr-17-3-e", "code": typed}
    done(act(console, r.reference, "sign-off", given), r.reference, "signed-off")
    assert queries.lookup(console.app.ctx, r.reference).status is Status.EXECUTING
    (recorded,) = console.details(r.reference, "SignOffRecorded")
    assert recorded["exemptions"] == [{"target": entity, "ground": "gdpr-17-3-e"}] and recorded["via"] == "console"
    with console.app.ctx.uow() as uow:
        plan = uow.plans.get(r.id)
    assert [e.target for st in plan for e in st.exemptions] == [entity]
    html = page_of(console, r.reference)
    assert f"kept out: {entity} on gdpr-17-3-e" in html


def test_the_letter_preview_is_marked_has_no_name_and_follows_the_exemptions(console: Console) -> None:
    legal = console.sign_in(Role.LEGAL)
    secret = secret_from_base32(accounts.enrol_totp(console.app.ctx, legal.name, by="test").secret)
    r = awaiting_sign_off(console)
    waiting_run(console, r.reference)
    before = console.client.get(f"/console/requests/{r.reference}/letter-preview")
    assert before.status_code == 200 and "PREVIEW — NOT SENT" in before.text and r.reference in before.text
    assert "Jane" not in before.text and "[the subject&#39;s name]" in before.text
    assert "records)" in before.text and "exemption in the law" not in before.text  # counts from the plan
    system = processing.exemptable(console.app.ctx, r.id)[0]
    given = {"decision": "approve", "exempt": [system], "ground": "legal-hold", "code": code(console.app.ctx, secret)}
    done(act(console, r.reference, "sign-off", given), r.reference, "signed-off")
    after = console.client.get(f"/console/requests/{r.reference}/letter-preview")
    assert "kept out because it is under a legal hold" in " ".join(after.text.split())  # the letter is reflowed
    # nothing was sent but the verification letter
    assert [d["kind"] for d in console.details(r.reference, "LetterSent")] == ["verification_code"]
    console.sign_in(Role.SUPPORT)
    assert console.client.get(f"/console/requests/{r.reference}/letter-preview").status_code == 200
