"""Letters to the subject: which one a request gets, and the record that one was sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dsar.domain.regimes import RequestType

RESPONSE_LETTER = {
    RequestType.ACCESS: "access_response",
    RequestType.DELETION: "deletion_response",
    RequestType.CORRECTION: "correction_response",
}
DENIAL_LETTER = "denial"
EXTENSION_LETTER = "extension"
VERIFICATION_LETTER = "verification_code"
ACKNOWLEDGEMENT_LETTER = "acknowledgement"
PARTIAL_REFUSAL_LETTER = "partial_refusal"
RECIPIENT_NOTICE = "recipient_notice"
VERIFICATION_REMINDER = "verification_reminder"
COULD_NOT_VERIFY_LETTER = "could_not_verify"
# Text messages (SMS, templates/manifest.toml [texts]) to a subject whose only contact on file
# is a phone: the link and code, and the reminder. Recorded under the letter kinds they stand in
# for (verification_code, verification_reminder): one send per kind, whatever the channel.
VERIFICATION_SMS = "verification_sms"
VERIFICATION_SMS_REMINDER = "verification_sms_reminder"
# The languages letters are written in (templates/manifest.toml has each kind in each).
LETTER_LANGUAGES = ("en", "de", "fr", "es")


def in_language(url: str, language: str | None) -> str:
    """``url``, a page of the web app a letter, text or mail links the subject to, opening in
    the letter's ``language``: ``lang=LANGUAGE`` added to its query, before any ``#fragment``
    (the ``?lang=`` the pages take, docs/web.md). Only the language changes: a token in the
    path or the fragment stays where it is and is checked as before. A language that is not a
    letter language adds nothing (the page then picks one as it would without)."""
    if language not in LETTER_LANGUAGES:
        return url
    head, hash_mark, fragment = url.partition("#")
    return f"{head}{'&' if '?' in head else '?'}lang={language}{hash_mark}{fragment}"


def message_id(reference: str, kind: str) -> str:
    """Deterministic per request and letter: sending the same letter twice is a no-op."""
    return f"{reference}.{kind}@dsar"


@dataclass(frozen=True)
class SentLetter:
    kind: str
    template: str
    message_id: str
    at: datetime
    version: str | None = None  # SHA-256 of the template file it was made from
    language: str | None = None


@dataclass(frozen=True)
class TemplateApproval:
    """Legal's approval of one version (SHA-256) of one template file, proven by the approver's
    authenticator code (its step is kept). ``content`` is the text approved: what changed since
    is shown against it (`dsar templates diff`)."""

    path: str
    version: str
    content: str
    approver: str
    account_id: int
    approved_at: datetime
    totp_step: int
