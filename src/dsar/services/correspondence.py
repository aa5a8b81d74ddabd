"""Letters to the subject: rendered from the organisation's templates, sent once, recorded.

Every letter goes through here: the one-time code, the extension notice, the response and the
denial; and the text messages (SMS) that stand in for the verification letters when the only
contact on file is a phone. A letter's message id is deterministic
(:func:`dsar.domain.letters.message_id`), so the mailer drops a second send, and a letter
already recorded is not rendered again: a re-run of a step never writes to the subject twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from dsar.domain.errors import DeliveryFailed, DsarError
from dsar.domain.events import LetterSent
from dsar.domain.letter_links import CHANNEL
from dsar.domain.letters import SentLetter, message_id
from dsar.domain.request import PrivacyRequest, Status
from dsar.domain.verification import Challenge
from dsar.services import recording
from dsar.services.context import ServiceContext
from dsar.services.ports import Attachment, OutgoingMail, RenderedLetter, TextMessage, UnitOfWork
from dsar.services.templates import check_approved


def letter_language(r: PrivacyRequest) -> str:
    return getattr(r, "language", None) or "en"


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


def deliver(
    ctx: ServiceContext,
    uow: UnitOfWork,
    r: PrivacyRequest,
    kind: str,
    context: Mapping[str, Any],
    mail_id: str,
    attachments: Sequence[Attachment],
    to: str | None = None,
    language: str | None = None,
    *,
    keep_pdf: bool = True,
) -> tuple[RenderedLetter, str | None]:
    """Render in the request's language, check legal approved every file the letter is made
    of (else :class:`LetterNotApproved`, nothing sent), and mail it with its PDF to ``to``
    (default: the request's first address, when it gave one); (letter, address it went to).
    ``keep_pdf``: keep the PDF (sealed) for the evidence bundle; never for a letter carrying a
    one-time link or code, whose secrets are kept only as keyed digests."""
    letter = ctx.letters.render(kind, r.regime, context, language or letter_language(r))
    check_approved(uow, kind, letter)
    email = to if to is not None else r.subject.primary_email
    if email is not None:
        pdf = Attachment(f"{r.reference}-{kind.replace('_', '-')}.pdf", ctx.letters.pdf(letter), "application/pdf")
        if keep_pdf:
            # Kept sealed under the request's key (shredded with it) for the evidence bundle;
            # the LetterSent event records its digest. The same key on a retry: written over.
            ctx.objects.put(letter_pdf_key(r.id, mail_id), uow.keys.seal(r.id, pdf.content, letter_pdf_aad(r.id, mail_id)))
            letter = replace(letter, pdf_sha256=hashlib.sha256(pdf.content).hexdigest())
        mail = OutgoingMail(
            message_id=mail_id,
            to=email,
            sender=ctx.policy.privacy_contact,
            subject=letter.subject,
            body=letter.body,
            attachments=(pdf, *attachments),
            html=letter.html,
        )
        what = kind.replace("_", " ")
        try:
            ctx.mailer.send(mail)
        except DsarError as exc:
            # Our own errors name fields and roles, never the values (dsar.domain.errors).
            raise DeliveryFailed(f"the {what} letter could not be sent: {exc.args[0] if exc.args else type(exc).__name__}") from None
        except Exception as exc:  # noqa: BLE001 - any transport failure holds the request, said without its text
            raise DeliveryFailed(f"the {what} letter could not be sent ({type(exc).__name__})") from None
    return letter, email


def deliver_text(
    ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, kind: str, context: Mapping[str, Any], text_id: str, to: str
) -> RenderedLetter:
    """Render a text message (SMS) of a ``[texts]`` kind in the request's language, check legal
    approved every file it is made of (else :class:`LetterNotApproved`, nothing sent), and send
    it to ``to`` (E.164) through the text-message transport. No PDF, nothing kept: a text
    carries a one-time link or code. ``context`` holds nothing personal beyond what the text
    must say (the number is the transport's alone)."""
    text = ctx.letters.render_text(kind, r.regime, context, letter_language(r))
    check_approved(uow, kind, text)
    what = kind.replace("_", " ")
    try:
        ctx.texts.send(TextMessage(message_id=text_id, to=to, body=text.body))
    except DsarError as exc:
        raise DeliveryFailed(f"the {what} text could not be sent: {exc.args[0] if exc.args else type(exc).__name__}") from None
    except Exception as exc:  # noqa: BLE001 - any transport failure holds the request, said without its text
        raise DeliveryFailed(f"the {what} text could not be sent ({type(exc).__name__})") from None
    return text


def send_text(
    ctx: ServiceContext, uow: UnitOfWork, request: PrivacyRequest, kind: str, context: Mapping[str, Any], *, to: str, template_kind: str
) -> SentLetter | None:
    """Send the request's message of letter kind ``kind`` once, as a text rendered from the
    ``template_kind`` text to ``to`` (E.164): recorded like a letter (a SentLetter of ``kind``,
    its LetterSent event with channel ``sms``, no PDF). None when one of ``kind`` went already."""
    if uow.letters.get(request.id, kind) is not None:
        return None
    text_id = message_id(request.reference, f"{kind}.sms")
    text = deliver_text(ctx, uow, request, template_kind, context, text_id, to)
    now = ctx.clock()
    sent = SentLetter(kind, text.template, text_id, now, text.version, text.language)
    uow.letters.add(request.id, sent)
    uow.audit.append([LetterSent(request.id, now, kind, text.template, text_id, 0, "sms", text.version, text.language)])
    return sent


def letter_pdf_key(request_id: str, mail_id: str) -> str:
    """Where a sent letter's PDF is kept (sealed)."""
    return f"letters/{request_id}/{hashlib.sha256(mail_id.encode()).hexdigest()[:32]}.pdf.sealed"


def letter_pdf_aad(request_id: str, mail_id: str) -> str:
    return f"letter-pdf/{request_id}/{mail_id}"


def letter_pdf(ctx: ServiceContext, uow: UnitOfWork, request_id: str, mail_id: str) -> bytes | None:
    """A sent letter's PDF, opened; None when none was kept (no address, or an earlier build)."""
    key = letter_pdf_key(request_id, mail_id)
    if not ctx.objects.exists(key):
        return None
    return uow.keys.open(request_id, ctx.objects.get(key), letter_pdf_aad(request_id, mail_id))


def hold_for_failed_delivery(ctx: ServiceContext, request_id: str, failure: DeliveryFailed) -> Status:
    """Put the request on hold with the reason a letter did not go out (in a unit of work of
    its own: the step that tried to send wrote nothing). A person fixes the cause (the address,
    the mail transport) and releases it; the next run sends the letter."""
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        held = recording.hold(uow, r, True, ctx.clock(), str(failure))
        uow.commit()
        return held.status


def send_letter(
    ctx: ServiceContext,
    uow: UnitOfWork,
    request: PrivacyRequest,
    kind: str,
    context: Mapping[str, Any],
    attachments: Sequence[Attachment] = (),
    *,
    to: str | None = None,
    template_kind: str | None = None,
    recipient: str = "",
    language: str | None = None,
    keep_pdf: bool = True,
) -> SentLetter | None:
    """Send the request's letter of this kind once: render it, mail it, record it and its
    LetterSent event in ``uow``. None when it was already sent (nothing is rendered then).
    ``to``/``recipient``: a letter to a recipient of the data (not the subject), rendered from
    ``template_kind`` (the recorded ``kind`` is then the recipient's own). ``keep_pdf``: see
    :func:`deliver` (false for a letter carrying a live link)."""
    if uow.letters.get(request.id, kind) is not None:
        return None
    mail_id = message_id(request.reference, kind)
    # A subject found in the system of record is written to at the contact on file, never at
    # an address only typed into the request (THREATS 2, 7).
    from dsar.services.identity import letter_address, letter_phone

    address = to if to is not None else letter_address(uow, request)
    phone = letter_phone(uow, request) if to is None and address is None else None
    channel = "none"
    if phone is not None:
        # No email on file, a phone a text can go to: the letter waits behind a link the text
        # carries (dsar.services.letter_links); nothing of the letter travels in the text.
        from dsar.services.letter_links import deliver_by_link

        letter = deliver_by_link(ctx, uow, request, template_kind or kind, kind, context, mail_id, phone, language, keep_pdf=keep_pdf)
        channel = CHANNEL
    else:
        letter, email = deliver(
            ctx, uow, request, template_kind or kind, context, mail_id, attachments, address, language, keep_pdf=keep_pdf
        )
        channel = "email" if email else "none"
    now = ctx.clock()
    sent = SentLetter(kind, letter.template, mail_id, now, letter.version, letter.language)
    uow.letters.add(request.id, sent)
    uow.audit.append(
        [
            LetterSent(
                request.id,
                now,
                kind,
                letter.template,
                mail_id,
                len(attachments),
                channel,
                letter.version,
                letter.language,
                recipient,
                letter.pdf_sha256,
            )
        ]
    )
    return sent


def send_code(
    ctx: ServiceContext, uow: UnitOfWork, request: PrivacyRequest, challenge: Challenge, kind: str, context: Mapping[str, Any]
) -> RenderedLetter:
    """Mail a one-time code. One letter per challenge (its message id names the challenge); the
    caller records it as VerificationCodeSent, which carries the template, never the code. The
    caller checks first that the request has an address for it (:func:`code_channel`)."""
    letter, _ = deliver(ctx, uow, request, kind, context, message_id(request.reference, f"verify-{challenge.id}"), (), keep_pdf=False)
    return letter
