"""Letters to the subject: rendered, sent once, recorded (dsar.services.correspondence)."""

from __future__ import annotations

from dsar.domain.letters import SentLetter
from dsar.services.correspondence import letter_request, send_code, send_letter
from dsar.services.ports import Attachment
from tests.unit.services.conftest import JANE, World


def context(w: World, rid: str) -> dict[str, object]:
    with w.uow() as uow:
        return {"request": letter_request(uow.requests.get(rid)), "organisation": "Example Shop Ltd"}


def test_a_letter_is_rendered_mailed_and_recorded_with_its_event(world: World) -> None:
    rid = world.log()
    with world.uow() as uow:
        r = uow.requests.get(rid)
        sent = send_letter(world.ctx, uow, r, "extension", context(world, rid), [Attachment("a.json", b"{}")])
        uow.commit()
    assert sent == SentLetter("extension", "extension/default.en.txt.j2", f"{r.reference}.extension@dsar", world.clock.now)
    mail = world.mailer.sent[f"{r.reference}.extension@dsar"]
    assert (mail.to, mail.sender, mail.subject, len(mail.attachments)) == (JANE, "privacy@example-shop.test", f"extension {r.reference}", 1)
    with world.uow() as uow:
        assert uow.letters.get(rid, "extension") == sent
    assert world.details(rid, "LetterSent") == [
        {
            "kind": "extension",
            "template": "extension/default.en.txt.j2",
            "message_id": sent.message_id,
            "attachments": 1,
            "channel": "email",
        }
    ]


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
        letter = send_code(world.ctx, r, first, "verification_code", context(world, rid) | {"code": "12345678"})
        send_code(world.ctx, r, second, "verification_code", context(world, rid) | {"code": "87654321"})
        uow.commit()
    assert letter.template == "verification_code/default.en.txt.j2"
    assert sorted(world.mailer.sent) == [f"{r.reference}.verify-{first.id}@dsar", f"{r.reference}.verify-{second.id}@dsar"]
    assert "LetterSent" not in world.events(rid)
