"""Letters behind a link, for a subject who can be reached by text message only (the rules in
:mod:`dsar.domain.letter_links`).

:func:`deliver_by_link` stands in for mailing when the subject has no email on file and a phone
a text can go to: the letter is rendered and checked like every letter, its PDF kept sealed
under the request's key, and a text (an approved script, ``letter_sms``) carries the link
``/letter#REFERENCE.KIND.MAC``. The page behind it (:mod:`dsar.web.letter_link`) asks
:func:`send_code` for a fresh one-time code by text to the same number on file (``letter_sms_code``)
and opens the letter with it (:func:`open_letter`): the PDF, decrypted for that answer only. The
link works for :data:`~dsar.domain.letter_links.LINK_DAYS` days, each opening takes a fresh
code, and every code sent, wrong code and opening is an audit event (the code only as a keyed
digest). A forged or mistyped link is told apart from nothing: it is "unknown".
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from dsar.crypto.fields import digests_equal, keyed_digest
from dsar.domain.errors import DeliveryFailed, DsarError
from dsar.domain.letter_links import (
    CODE_DIGITS,
    CODE_TTL,
    CODES_PER_LETTER,
    LETTER_SMS,
    LETTER_SMS_CODE,
    RENEWALS_PER_LETTER,
    CodeProblem,
    CodeState,
    LetterLinkCodeSent,
    LetterLinkOpened,
    LetterLinkRefused,
    LetterLinkRenewed,
    LinkProblem,
    judge,
    link_expires,
    split_token,
)
from dsar.domain.letters import SentLetter, in_language, message_id
from dsar.domain.request import PrivacyRequest
from dsar.services.context import ServiceContext
from dsar.services.correspondence import deliver_text, letter_language, letter_pdf_aad, letter_pdf_key
from dsar.services.ports import RenderedLetter, UnitOfWork
from dsar.services.templates import check_approved

_log = logging.getLogger("dsar.letter_links")


def link_mac(ctx: ServiceContext, request_id: str, kind: str) -> str:
    return keyed_digest(ctx.code_key, f"letter-link/{request_id}/{kind}")[:40]


def link_token(ctx: ServiceContext, r: PrivacyRequest, kind: str) -> str:
    """The link's secret part: the reference and the letter's kind (not secret) and a keyed
    digest of the request's id and the kind (derived, so a letter sent again after a crash
    carries the same link; nothing to store)."""
    return f"{r.reference}.{kind}.{link_mac(ctx, r.id, kind)}"


def link_url(ctx: ServiceContext, token: str, language: str | None = None) -> str:
    """``/letter?lang=LANGUAGE#TOKEN``: the page in the letter's language, the secret in the fragment."""
    base = ctx.policy.console_url or "http://127.0.0.1:8000"  # the web app's address (DSAR_WEB_PUBLIC_URL or HOST:PORT)
    return in_language(f"{base.rstrip('/')}/letter#{token}", language)


def deliver_by_link(
    ctx: ServiceContext,
    uow: UnitOfWork,
    r: PrivacyRequest,
    template_kind: str,
    kind: str,
    context: Mapping[str, Any],
    mail_id: str,
    phone: str,
    language: str | None,
    *,
    keep_pdf: bool,
) -> RenderedLetter:
    """Render the letter (an approved script, else :class:`LetterNotApproved`), keep its PDF
    sealed, and text the link to ``phone`` (E.164, on file). ``keep_pdf``: record the PDF's
    digest for the evidence bundle (not for a letter carrying a live link; its PDF is kept for
    the subject's link all the same, sealed, and shredded with the request)."""
    language = language or letter_language(r)
    letter = ctx.letters.render(template_kind, r.regime, context, language)
    check_approved(uow, template_kind, letter)
    pdf = ctx.letters.pdf(letter)
    ctx.objects.put(letter_pdf_key(r.id, mail_id), uow.keys.seal(r.id, pdf, letter_pdf_aad(r.id, mail_id)))
    if keep_pdf:
        letter = replace(letter, pdf_sha256=hashlib.sha256(pdf).hexdigest())
    text = {
        "organisation": ctx.policy.organisation_name,
        "request": {"reference": r.reference},
        "link": link_url(ctx, link_token(ctx, r, kind), language),
        "expires_at": link_expires(ctx.clock()),
    }
    deliver_text(ctx, uow, r, LETTER_SMS, text, message_id(r.reference, f"{kind}.sms-link"), phone)
    return letter


@dataclass(frozen=True)
class _Found:
    request_id: str
    kind: str
    sent: SentLetter
    state: CodeState  # the link's codes and renewals, from the request's events

    @property
    def expires(self) -> datetime:
        """When the link stops working: LINK_DAYS after the letter went, or after its last renewal."""
        return link_expires(max(self.sent.at, self.state.renewed_at or self.sent.at))


def _find(ctx: ServiceContext, uow: UnitOfWork, token: str, now: datetime, *, expired_too: bool = False) -> _Found | LinkProblem:
    """The letter a link is for and where its link stands, or why the link does not work
    (``expired_too``: an expired link is found all the same)."""
    parts = split_token(token)
    if parts is None:
        return LinkProblem.UNKNOWN
    try:
        request_id = uow.requests.id_for_reference(parts.reference)
    except DsarError:
        return LinkProblem.UNKNOWN
    if not digests_equal(link_mac(ctx, request_id, parts.kind), parts.mac):
        return LinkProblem.UNKNOWN
    if uow.requests.is_shredded(request_id):
        return LinkProblem.EXPIRED
    sent = uow.letters.get(request_id, parts.kind)
    if sent is None:
        return LinkProblem.UNKNOWN
    found = _Found(request_id, parts.kind, sent, code_state(uow.audit.events(request_id), parts.kind))
    if now > found.expires and not expired_too:
        return LinkProblem.EXPIRED
    return found


def code_state(events: Iterable[Any], kind: str) -> CodeState:
    """Where the link of the letter ``kind`` stands, from the request's events."""
    state = CodeState()
    for e in events:
        if e.details.get("letter") != kind:
            continue
        if e.kind == LetterLinkCodeSent.kind:
            expires = datetime.fromisoformat(str(e.details.get("expires_at")))
            digest = str(e.details.get("digest"))
            state = replace(
                state,
                codes_sent=state.codes_sent + 1,
                codes_since_renewal=state.codes_since_renewal + 1,
                last_digest=digest,
                last_expires=expires,
                wrong_since_last=0,
            )
        elif e.kind == LetterLinkRefused.kind and e.details.get("reason") in (CodeProblem.WRONG.value, CodeProblem.TOO_MANY.value):
            state = replace(state, wrong_since_last=state.wrong_since_last + 1)
        elif e.kind == LetterLinkOpened.kind:
            state = replace(state, opened=state.opened + 1, last_digest=None, last_expires=None)  # each opening spends its code
        elif e.kind == LetterLinkRenewed.kind:  # a fresh count of codes; the last code stops working
            state = replace(state, renewals=state.renewals + 1, renewed_at=e.at, codes_since_renewal=0, last_digest=None, last_expires=None)
    return state


def _code_digest(ctx: ServiceContext, request_id: str, kind: str, ordinal: int, code: str) -> str:
    return keyed_digest(ctx.code_key, f"letter-code/{request_id}/{kind}/{ordinal}/{code.strip()}")


def send_code(ctx: ServiceContext, token: str) -> LinkProblem | None:
    """Text a fresh one-time code to the number on file (any earlier code stops working).
    None when sent; otherwise why not. :class:`DeliveryFailed` when the text cannot go."""
    from dsar.services.identity import letter_phone

    now = ctx.clock()
    with ctx.uow() as uow:
        found = _find(ctx, uow, token, now)
        if isinstance(found, LinkProblem):
            return found
        state = found.state
        if state.codes_since_renewal >= CODES_PER_LETTER:
            return LinkProblem.TOO_MANY_CODES
        r = uow.requests.get(found.request_id)
        phone = letter_phone(uow, r)
        if phone is None:
            raise DeliveryFailed("the request has no number on file to send a code to")
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        ordinal = state.codes_sent + 1
        expires = now + CODE_TTL
        context = {
            "organisation": ctx.policy.organisation_name,
            "request": {"reference": r.reference},
            "code": code,
            "expires_at": expires,
        }
        deliver_text(ctx, uow, r, LETTER_SMS_CODE, context, message_id(r.reference, f"{found.kind}.sms-code-{ordinal}"), phone)
        digest = _code_digest(ctx, r.id, found.kind, ordinal, code)
        uow.audit.append([LetterLinkCodeSent(r.id, now, found.kind, ordinal, digest, expires.isoformat())])
        uow.commit()
    return None


def renew_link(ctx: ServiceContext, token: str) -> bool:
    """The subject asks, on the page of a letter's link that stopped working, for it again. The
    text with the link goes again to the number on file (never to whoever asks), and the link
    works another :data:`LINK_DAYS` days with :data:`CODES_PER_LETTER` codes (the link itself is
    the same: it is derived, nothing is stored), recorded (``LetterLinkRenewed``), when the link
    is real, expired or out of codes, the request not shredded, and renewed fewer than
    :data:`RENEWALS_PER_LETTER` times. Nothing happens otherwise: a link that still works, an
    unknown one, or a text that could not go. Whether it went is returned for the tests and the
    log; the page says the same either way, so it tells nobody whether a link was ever real."""
    from dsar.services.identity import letter_phone

    now = ctx.clock()
    with ctx.uow() as uow:
        found = _find(ctx, uow, token, now, expired_too=True)
        if isinstance(found, LinkProblem):
            return False
        state = found.state
        if not (now > found.expires or state.codes_since_renewal >= CODES_PER_LETTER) or state.renewals >= RENEWALS_PER_LETTER:
            return False
        r = uow.requests.get(found.request_id)
        phone = letter_phone(uow, r)
        if phone is None:
            return False
        number = state.renewals + 1
        language = letter_language(r)
        text = {
            "organisation": ctx.policy.organisation_name,
            "request": {"reference": r.reference},
            "link": link_url(ctx, link_token(ctx, r, found.kind), language),
            "expires_at": link_expires(now),
        }
        try:
            deliver_text(ctx, uow, r, LETTER_SMS, text, message_id(r.reference, f"{found.kind}.sms-link-{number + 1}"), phone)
        except DsarError as exc:  # not approved, not delivered: the page says the same
            _log.info("a letter link the subject asked for again was not sent (%s)", type(exc).__name__)
            return False
        uow.audit.append([LetterLinkRenewed(r.id, now, found.kind, number, link_expires(now).isoformat())])
        uow.commit()
    return True


@dataclass(frozen=True)
class LetterFile:
    filename: str
    content: bytes


def open_letter(ctx: ServiceContext, token: str, code: str) -> LetterFile | LinkProblem | CodeProblem:
    """The letter's PDF for the right code (the code is spent: another opening takes a new
    one); otherwise why not, recorded (``LetterLinkRefused``)."""
    now = ctx.clock()
    with ctx.uow() as uow:
        found = _find(ctx, uow, token, now)
        if isinstance(found, LinkProblem):
            return found
        state = found.state
        given = _code_digest(ctx, found.request_id, found.kind, state.codes_sent, (code or "")[: CODE_DIGITS + 4])
        problem = judge(state, given, now, digests_equal)
        if problem is not None:
            uow.audit.append([LetterLinkRefused(found.request_id, now, found.kind, problem.value)])
            uow.commit()
            return problem
        sealed = ctx.objects.get(letter_pdf_key(found.request_id, found.sent.message_id))
        pdf = uow.keys.open(found.request_id, sealed, letter_pdf_aad(found.request_id, found.sent.message_id))
        uow.audit.append([LetterLinkOpened(found.request_id, now, found.kind, state.codes_sent)])
        uow.commit()
        reference = uow.requests.facts(found.request_id).reference
    return LetterFile(f"{reference}-{found.kind.replace('_', '-')}.pdf", pdf)
