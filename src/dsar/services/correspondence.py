"""Letters to the subject: rendered from the organisation's templates, sent once, recorded.

Every letter goes through here: the one-time code, the extension notice, the response and the
denial. A letter's message id is deterministic (:func:`dsar.domain.letters.message_id`), so the
mailer drops a second send, and a letter already recorded is not rendered again: a re-run of a
step never writes to the subject twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dsar.domain.events import LetterSent
from dsar.domain.letters import SentLetter, message_id
from dsar.domain.request import PrivacyRequest
from dsar.domain.verification import Challenge
from dsar.services.context import ServiceContext
from dsar.services.ports import Attachment, OutgoingMail, RenderedLetter, UnitOfWork


def letter_request(r: PrivacyRequest) -> dict[str, Any]:
    """The request as every template sees it (``request.reference``, ``request.subject_name``...)."""
    return {
        "reference": r.reference,
        "type": r.type.value,
        "regime": r.regime,
        "received": r.received_at.date(),
        "subject_name": r.subject.name,
        "access_scope": r.access_scope.value if r.access_scope else None,
    }


def _deliver(
    ctx: ServiceContext, r: PrivacyRequest, kind: str, context: Mapping[str, Any], mail_id: str, attachments: Sequence[Attachment]
) -> tuple[RenderedLetter, str | None]:
    """Render and mail (when the request gave an address); (letter, address it went to)."""
    letter = ctx.letters.render(kind, r.regime, context)
    email = r.subject.primary_email
    if email is not None:
        ctx.mailer.send(
            OutgoingMail(
                message_id=mail_id,
                to=email,
                sender=ctx.policy.privacy_contact,
                subject=letter.subject,
                body=letter.body,
                attachments=tuple(attachments),
            )
        )
    return letter, email


def send_letter(
    ctx: ServiceContext,
    uow: UnitOfWork,
    request: PrivacyRequest,
    kind: str,
    context: Mapping[str, Any],
    attachments: Sequence[Attachment] = (),
) -> SentLetter | None:
    """Send the request's letter of this kind once: render it, mail it, record it and its
    LetterSent event in ``uow``. None when it was already sent (nothing is rendered then)."""
    if uow.letters.get(request.id, kind) is not None:
        return None
    mail_id = message_id(request.reference, kind)
    letter, email = _deliver(ctx, request, kind, context, mail_id, attachments)
    now = ctx.clock()
    sent = SentLetter(kind, letter.template, mail_id, now)
    uow.letters.add(request.id, sent)
    uow.audit.append([LetterSent(request.id, now, kind, letter.template, mail_id, len(attachments), "email" if email else "none")])
    return sent


def send_code(ctx: ServiceContext, request: PrivacyRequest, challenge: Challenge, kind: str, context: Mapping[str, Any]) -> RenderedLetter:
    """Mail a one-time code. One letter per challenge (its message id names the challenge); the
    caller records it as VerificationCodeSent, which carries the template, never the code. The
    caller checks first that the request has an address for it (:func:`code_channel`)."""
    letter, _ = _deliver(ctx, request, kind, context, message_id(request.reference, f"verify-{challenge.id}"), ())
    return letter
