"""Letters to the subject: rendered, sent once, recorded (dsar.services.correspondence)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from dsar.domain.errors import InvalidInput
from dsar.domain.letters import SentLetter, TemplateApproval
from dsar.domain.request import Status
from dsar.services import processing
from dsar.services.admin import release_request
from dsar.services.correspondence import letter_request, send_code, send_letter
from dsar.services.ports import Attachment, OutgoingMail
from dsar.services.templates import LetterNotApproved
from tests.unit.services.conftest import JANE, World, shop_data, shop_map
from tests.unit.services.fakes import RecordingMailer, fake_version


def context(w: World, rid: str) -> dict[str, object]:
    with w.uow() as uow:
        return {"request": letter_request(uow.requests.get(rid)), "organisation": "Example Shop Ltd"}


def test_a_letter_is_rendered_mailed_and_recorded_with_its_event(world: World) -> None:
    rid = world.log()
    with world.uow() as uow:
        r = uow.requests.get(rid)
        sent = send_letter(world.ctx, uow, r, "extension", context(world, rid), [Attachment("a.json", b"{}")])
        uow.commit()
    version = fake_version("extension/default.en.j2")
    assert sent == SentLetter("extension", "extension/default.en.j2", f"{r.reference}.extension@dsar", world.clock.now, version, "en")
    mail = world.mailer.sent[f"{r.reference}.extension@dsar"]
    assert (mail.to, mail.sender, mail.subject) == (JANE, "privacy@example-shop.test", f"extension {r.reference}")
    # the letter's PDF first, then the attachment the caller gave; the HTML part beside the text
    assert [(a.filename, a.mime_type) for a in mail.attachments] == [
        (f"{r.reference}-extension.pdf", "application/pdf"),
        ("a.json", "application/json"),
    ]
    assert mail.attachments[0].content.startswith(b"%PDF") and mail.html == "<p>extension</p>"
    with world.uow() as uow:
        assert uow.letters.get(rid, "extension") == sent
    assert world.details(rid, "LetterSent") == [
        {
            "kind": "extension",
            "template": "extension/default.en.j2",
            "message_id": sent.message_id,
            "attachments": 1,
            "channel": "email",
            "version": version,
            "language": "en",
            # the PDF as mailed, kept sealed for the evidence bundle
            "pdf_sha256": hashlib.sha256(mail.attachments[0].content).hexdigest(),
        }
    ]
    from dsar.services.correspondence import letter_pdf

    with world.uow() as uow:
        assert letter_pdf(world.ctx, uow, rid, sent.message_id) == mail.attachments[0].content
    assert all(mail.attachments[0].content not in blob for blob in world.objects.objects.values())  # sealed at rest


def test_a_letter_already_sent_is_neither_rendered_nor_sent_again(world: World) -> None:
    rid = world.log()
    for _ in range(2):
        with world.uow() as uow:
            r = uow.requests.get(rid)
            result = send_letter(world.ctx, uow, r, "denial", context(world, rid))
            uow.commit()
    assert result is None
    assert len(world.letters.rendered) == 1 and world.mailer.attempts == 1
    assert world.events(rid).count("LetterSent") == 1


def test_a_letter_to_a_request_without_an_email_is_recorded_and_mailed_nowhere(world: World) -> None:
    rid = world.log(subject={"name": "Jane Doe", "postal_address": "1 High Street"})
    with world.uow() as uow:
        send_letter(world.ctx, uow, uow.requests.get(rid), "denial", context(world, rid))
        uow.commit()
    assert world.mailer.sent == {}
    assert world.details(rid, "LetterSent")[0]["channel"] == "none"


def test_a_letter_not_committed_leaves_no_record(world: World) -> None:
    rid = world.log()
    with world.uow() as uow:
        send_letter(world.ctx, uow, uow.requests.get(rid), "denial", context(world, rid))
    with world.uow() as uow:
        assert uow.letters.get(rid, "denial") is None


def test_each_one_time_code_is_its_own_letter_and_writes_no_record(world: World) -> None:
    rid = world.log()
    with world.uow() as uow:
        r = uow.requests.get(rid)
        first = uow.challenges.add(rid, "email", "d1", world.clock.now, world.clock.now)
        second = uow.challenges.add(rid, "email", "d2", world.clock.now, world.clock.now)
        letter = send_code(world.ctx, uow, r, first, "verification_code", context(world, rid) | {"code": "12345678"})
        send_code(world.ctx, uow, r, second, "verification_code", context(world, rid) | {"code": "87654321"})
        uow.commit()
    assert letter.template == "verification_code/default.en.j2"
    assert sorted(world.mailer.sent) == [f"{r.reference}.verify-{first.id}@dsar", f"{r.reference}.verify-{second.id}@dsar"]
    assert "LetterSent" not in world.events(rid)


class BrokenMailer(RecordingMailer):
    """A transport that fails: refuses the address (as the outbox does for a hostile one) or
    cannot reach its server."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def send(self, mail: OutgoingMail) -> bool:
        self.attempts += 1
        raise self.error


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            InvalidInput("the recipient is not one valid email address", ["recipient: not exactly one valid email address"]),
            "the verification code letter could not be sent: the recipient is not one valid email address",
        ),
        (
            ConnectionRefusedError("smtp.example:25 refused jane.doe@example.com"),
            "the verification code letter could not be sent (ConnectionRefusedError)",
        ),
    ],
)
def test_a_code_letter_that_cannot_be_sent_holds_the_request_with_the_reason(error: Exception, reason: str) -> None:
    """Security probe, item 2: a send failure left the request `received`, not held, with no
    letter and no event. Now it is held, the reason says which letter and why (never the
    address), and nothing of the failed step is kept (no challenge, no status change)."""
    w = World([shop_data()], (shop_map(),))
    w.mailer = BrokenMailer(error)
    w.ctx = dataclasses.replace(w.ctx, mailer=w.mailer)
    rid = w.log()
    assert processing.start_verification(w.ctx, rid) is Status.RECEIVED
    with w.uow() as uow:
        r = uow.requests.facts(rid)
        assert r.on_hold and uow.challenges.latest(rid) is None
    assert w.details(rid, "HoldChanged") == [{"on_hold": "true", "reason": reason}]
    assert "VerificationCodeSent" not in w.events(rid) and "jane" not in reason
    # fixed and released: the next run sends the code
    w.mailer.error = None  # type: ignore[assignment]
    w.ctx = dataclasses.replace(w.ctx, mailer=RecordingMailer())
    release_request(w.ctx, rid, "address corrected")
    assert processing.start_verification(w.ctx, rid) is Status.AWAITING_VERIFICATION


def test_a_closing_letter_that_cannot_be_sent_holds_the_request_and_it_stays_open(world: World) -> None:
    rid = world.log()
    assert world.approve(rid) is Status.EXECUTING
    assert processing.execute_plan(world.ctx, rid) is Status.RESPONDING
    broken = BrokenMailer(OSError("disk full"))
    ctx = dataclasses.replace(world.ctx, mailer=broken)
    assert processing.send_response(ctx, rid) is Status.RESPONDING
    with world.uow() as uow:
        assert uow.requests.facts(rid).on_hold and uow.letters.get(rid, "access_response") is None
    assert world.details(rid, "HoldChanged")[-1]["reason"] == "the access response letter could not be sent (OSError)"
    # held: no further step runs until someone releases it
    assert processing.send_response(world.ctx, rid) is Status.RESPONDING
    release_request(world.ctx, rid, "mail server back")
    assert processing.send_response(world.ctx, rid) is Status.CLOSED


def test_an_extension_whose_letter_cannot_be_sent_is_not_recorded_and_holds_the_request(world: World) -> None:
    from dsar.domain.errors import DeliveryFailed
    from dsar.services.deadlines import extend_request

    rid = world.log()
    ctx = dataclasses.replace(world.ctx, mailer=BrokenMailer(TimeoutError()))
    with pytest.raises(DeliveryFailed, match="the extension letter could not be sent"):
        extend_request(ctx, rid, "many systems", "Lena Legal")
    with world.uow() as uow:
        assert not uow.deadlines.get(rid).extended and uow.requests.facts(rid).on_hold
    assert "DeadlineExtended" not in world.events(rid)


# --- approved scripts -----------------------------------------------------------------------


def test_a_letter_in_the_requests_language_is_rendered_in_it() -> None:
    w = World([shop_data()], (shop_map(),))
    rid = w.log(language="de")
    with w.uow() as uow:
        sent = send_letter(w.ctx, uow, uow.requests.get(rid), "extension", context(w, rid))
        uow.commit()
    assert sent is not None and (sent.template, sent.language) == ("extension/default.de.j2", "de")
    assert w.details(rid, "LetterSent")[0]["language"] == "de"


def test_a_letter_whose_template_is_not_approved_is_not_sent_and_the_request_waits_with_the_reason() -> None:
    w = World([shop_data()], (shop_map(),), approve=False)
    w.approve_letters(languages=("en",))  # the German letters were never approved
    rid = w.log(language="de")
    status = processing.start_verification(w.ctx, rid)
    assert status is Status.RECEIVED and w.mailer.attempts == 0 and "VerificationCodeSent" not in w.events(rid)
    with w.uow() as uow:
        assert uow.requests.facts(rid).on_hold
    reason = w.details(rid, "HoldChanged")[-1]["reason"]
    assert reason.startswith(
        "letter template not approved: the verification code letter uses verification_code/default.de.j2 (never approved)"
    )
    assert "dsar templates approve" in reason and "Jane" not in reason


def test_a_template_edited_since_its_approval_is_not_sent() -> None:
    w = World([shop_data()], (shop_map(),), approve=False)
    path = "extension/default.en.j2"
    with w.uow() as uow:  # legal approved an earlier text of the file
        uow.templates.add(TemplateApproval(path, "0" * 64, "older text", "lena.legal", 1, w.clock.now, 1))
        uow.commit()
    rid = w.log()
    with w.uow() as uow, pytest.raises(LetterNotApproved, match=r"extension/default.en.j2 \(changed since approved\)"):
        send_letter(w.ctx, uow, uow.requests.get(rid), "extension", context(w, rid))
    assert w.mailer.attempts == 0
