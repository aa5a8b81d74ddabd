"""Text messages (SMS): the shipped templates ([texts] in templates/manifest.toml) rendered in
every language for every regime hold the reference, the link, the code and the expiry, and
nothing personal; hostile values render inert. The outbox-folder transport writes one private
file per message id, atomically, and refuses what is not one E.164 number without naming it."""

from __future__ import annotations

import stat
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from dsar.domain.errors import ConfigurationError, DeliveryFailed
from dsar.domain.regimes import REGIMES
from dsar.letters.manifest import LANGUAGES, Manifest
from dsar.letters.render import LetterRenderer, long_date
from dsar.letters.sms import FolderTexts, SnsTexter
from dsar.services.ports import TextMessage

ROOT = Path(__file__).resolve().parents[2]
RENDERER = LetterRenderer(ROOT / "templates")
# The links as dsar writes them: each opens the page in the request's language (?lang=; every
# language adds the same eight characters, so the lengths below hold for all four).
LINK = "https://privacy.example-shop.test/verify/l/3f1c9a0b7d2e4f6a8b0c1d2e3f4a5b6c7d8e9f0a?lang=es"
CODE_PAGE = "https://privacy.example-shop.test/verify?lang=es"
RESEND_PAGE = "https://privacy.example-shop.test/verify/resend?lang=es"


def context(**overrides: Any) -> dict[str, Any]:
    """What dsar.services.identity gives a text: the request without its subject."""
    return {
        "request": {"reference": "DSR-2026-000042", "type": "access", "regime": "gdpr", "received": date(2026, 11, 2)},
        "organisation": "Example Shop Ltd",
        "contact": "privacy@example-shop.test",
        "code": "48213907",
        "link": LINK,
        "code_page": CODE_PAGE,
        "resend_page": RESEND_PAGE,
        "expires_at": datetime(2026, 11, 5, 9, 30, tzinfo=UTC),
        "due": date(2026, 12, 2),
    } | overrides


def test_the_texts_are_apart_from_the_letters_in_every_language_and_approved_like_them() -> None:
    manifest = RENDERER.manifest
    assert manifest.text_kinds() == ["letter_sms", "letter_sms_code", "verification_sms", "verification_sms_reminder"]
    assert not set(manifest.text_kinds()) & set(manifest.kinds())  # benchmarks render every letter kind as a PDF
    for kind in manifest.text_kinds():
        assert {e.language for e in manifest.texts if e.kind == kind and e.regime == "default"} == set(LANGUAGES)
    assert set(manifest.text_files()) <= set(manifest.files())  # `dsar templates list|approve` covers them
    assert manifest.entry_of("verification_sms/default.fr.j2") is not None


def test_a_kind_both_letter_and_text_is_refused(tmp_path: Path) -> None:
    for name in ("layout.j2", "vocabulary.toml", "a.j2"):
        (tmp_path / name).write_text("x")
    (tmp_path / "manifest.toml").write_text(
        '[files]\nlayout = "layout.j2"\nvocabulary = "vocabulary.toml"\n[letters.x.default]\nen = "a.j2"\n[texts.x.default]\nen = "a.j2"\n'
    )
    with pytest.raises(ConfigurationError, match="x is both a letter and a text"):
        Manifest.load(tmp_path)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_verification_text_holds_the_reference_link_code_expiry_and_due_date_in_every_regime(language: str) -> None:
    for regime in sorted(REGIMES):
        text = RENDERER.render_text("verification_sms", regime, context(), language)
        assert text.language == language and text.subject == "" and text.html == ""
        assert text.template == f"verification_sms/default.{language}.j2"
        assert {f for f, _ in text.sources} == {text.template, "vocabulary.toml"}
        body = text.body
        for want in ("DSR-2026-000042", "48213907", LINK, CODE_PAGE, "2026-11-05 09:30", long_date(date(2026, 12, 2), language)):
            assert want in body, (regime, language, want)
        assert "Example Shop Ltd" in body
        # each link ends its line: a phone's link detection takes no punctuation with it
        assert all(line.split()[-1] in (LINK, CODE_PAGE) for line in body.splitlines() if LINK in line or CODE_PAGE in line)
        assert "{{" not in body and "{%" not in body and "  " not in body
        assert len(body.encode()) < 600  # four SMS segments at most, far below SNS's 1600 bytes


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_reminder_text_names_the_pages_and_the_expiry_but_no_code_or_link(language: str) -> None:
    body = RENDERER.render_text("verification_sms_reminder", "ccpa", context(), language).body
    assert "DSR-2026-000042" in body and CODE_PAGE in body and RESEND_PAGE in body and "2026-11-05 09:30" in body
    assert "48213907" not in body and LINK not in body
    assert len(body.encode()) < 400


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_text_cannot_print_a_name_the_context_does_not_hold_and_hostile_values_stay_inert(language: str) -> None:
    hostile = "Shop {{ request.subject_name }} <b>\u202e\r\nSTOP"
    body = RENDERER.render_text("verification_sms", "gdpr", context(organisation=hostile), language).body
    assert "{{ request.subject_name }}" in body  # printed as typed, never evaluated
    assert "\u202e" not in body and "\r" not in body and "<b>" in body
    assert len(body.splitlines()) == 4  # a value cannot start a line of its own
    with pytest.raises(Exception, match="subject_name"):
        # a template that tried to print the subject's name fails: the context has none
        RENDERER._text_env.from_string("{{ request.subject_name }}").render(context())


LETTER_LINK = "https://privacy.example-shop.test/letter?lang=es#DSR-2026-000042.access_response.3f1c9a0b7d2e4f6a8b0c1d2e3f4a5b6c7d8e9f0a"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_letter_s_text_carries_the_reference_link_and_expiry_and_its_code_text_the_code(language: str) -> None:
    """A subject reached by text only: the text carrying a letter's link, and the one with the
    code that opens it (or an access package's download): nothing personal, the link ends its
    line, short enough for two segments."""
    for regime in sorted(REGIMES):
        link = RENDERER.render_text("letter_sms", regime, context(link=LETTER_LINK), language)
        assert link.template == f"letter_sms/default.{language}.j2" and link.subject == "" and link.html == ""
        assert "DSR-2026-000042" in link.body and "Example Shop Ltd" in link.body and "2026-11-05" in link.body
        assert [line for line in link.body.splitlines() if LETTER_LINK in line] == [LETTER_LINK]
        assert "48213907" not in link.body and len(link.body.encode()) < 400
        code = RENDERER.render_text("letter_sms_code", regime, context(), language).body
        assert "DSR-2026-000042" in code and "48213907" in code and "2026-11-05 09:30" in code and LINK not in code
        assert len(code.encode()) < 300
        for body in (link.body, code):
            assert "{{" not in body and "  " not in body


def message(message_id: str = "DSR-2026-000001.verify-sms-1-1@dsar", to: str = "+49305550199") -> TextMessage:
    return TextMessage(message_id, to, "Example Shop Ltd: code 48213907")


def test_the_outbox_writes_one_private_file_per_message_id_and_a_second_send_returns_false(tmp_path: Path) -> None:
    outbox = FolderTexts(tmp_path / "outbox" / "sms")
    assert outbox.send(message()) is True
    (path,) = (tmp_path / "outbox" / "sms").iterdir()
    assert path == outbox.path_for(message().message_id) and path.suffix == ".txt"
    assert path.read_text() == "To: +49305550199\n\nExample Shop Ltd: code 48213907\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert outbox.send(TextMessage(message().message_id, "+49305550199", "another text")) is False
    assert path.read_text().endswith("48213907\n")  # the first one stays
    assert outbox.send(message("DSR-2026-000001.verify-sms-1-2@dsar")) is True
    assert len(list((tmp_path / "outbox" / "sms").iterdir())) == 2  # no temporary file left


def test_a_message_id_cannot_leave_the_outbox_folder(tmp_path: Path) -> None:
    outbox = FolderTexts(tmp_path / "sms")
    assert outbox.send(message("../../etc/passwd")) is True
    assert [p.parent for p in (tmp_path / "sms").iterdir()] == [tmp_path / "sms"]


@pytest.mark.parametrize(
    "to", ["030 5550199", "+49 30 5550199", "+0305550199", "+49305550199\n", "+4930555019912345678", "", "jane@example.com"]
)
def test_a_recipient_that_is_not_one_e164_number_is_refused_without_being_named(tmp_path: Path, to: str) -> None:
    for transport in (FolderTexts(tmp_path / "sms"), SnsTexter(object(), _NoLedger())):
        with pytest.raises(DeliveryFailed, match="not one phone number in E.164 form") as failed:
            transport.send(message(to=to))
        assert (not to.strip()) or to.strip() not in str(failed.value)
    assert not (tmp_path / "sms").exists()


def test_an_empty_or_oversized_text_is_refused(tmp_path: Path) -> None:
    outbox = FolderTexts(tmp_path / "sms")
    for body in ("", "  ", "x" * 1601):
        with pytest.raises(DeliveryFailed, match="empty or longer than 1600 bytes"):
            outbox.send(TextMessage("m@dsar", "+49305550199", body))


@pytest.mark.parametrize("sender", ["", "TooLongSender1", "Shop Ltd", "123456", "Shöp"])
def test_an_sns_sender_id_is_1_to_11_letters_and_digits(sender: str) -> None:
    with pytest.raises(ConfigurationError, match="DSAR_SMS_SENDER_ID"):
        SnsTexter(object(), _NoLedger(), sender_id=sender)


class _NoLedger:
    def sent(self, message_id: str) -> bool:
        raise AssertionError("not reached")

    def record(self, message_id: str, transport: str, provider_id: str | None, at: datetime) -> None:
        raise AssertionError("not reached")
