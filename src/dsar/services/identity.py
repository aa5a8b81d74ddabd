"""Identity verification: proportionate for subjects, closed to impostors.

1. :func:`start` looks the subject up in the **system of record** only (the data map's system
   named by ``DSAR_VERIFICATION_SYSTEM``, default its first SQL system), by what the requester
   typed. Not found there (a typed address not on file, a look-alike, two customers at once):
   the subject is *unknown* and nothing is sent anywhere; the request waits like any other,
   so a requester learns nothing (THREATS 1, 2, 7, 9).
2. The level comes from :mod:`dsar.domain.verification_policy` (regime, type, scope, the
   categories held on the subject, account holder, agent) and is an audit event.
3. A single-use link and an 8-digit code go to the contact **on file** (never to one only
   typed): its email, else a text message (SMS) to its phone number when that is a valid
   number (:func:`_channel`), else nowhere (verified by hand). Both are keyed digests of a
   random per-case salt: unpredictable, re-derived the same on a re-run (a run killed after
   the send sends the same code again, which the mailer or text transport drops), stored only
   as keyed digests, compared in constant time, valid 72 h, with limited tries and sends.
4. The web pages (dsar.web.verify) take the further proofs the level needs: data points
   matched tolerantly and never saying which failed, the declaration under penalty of
   perjury (sealed, kept), the agent's consumer's confirmation. A legal account may verify by
   hand, describing the evidence seen (never a copy of an ID document).
   An account holder (an account id on file, and the organisation's login configured:
   ``DSAR_ACCOUNT_LOGIN_*``) signs in there instead (11 CCR 7061): the page sends them to the
   login with a single-use nonce bound to their session as ``state``; the login posts back a
   signed JWT (:mod:`dsar.services.account_login` judges it) that must name the account on file
   and carry that nonce. A refused assertion counts a try like a wrong code.
5. Once verified, the identifiers the system of record links to the subject (its email,
   phone, account id) are the keys every system is searched by (:func:`verified_keys`):
   identifiers only typed by the requester are never searched.

Nothing here talks to the orchestrator: the callers (web app, CLI) wake the waiting run with
an empty input once the request is verified; no code or proof passes through Prefect.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from dsar.connectors.base import SubjectKeys
from dsar.crypto import digests_equal, keyed_digest
from dsar.domain.errors import DeliveryFailed, InvalidInput, NotFound
from dsar.domain.escalations import escalations_of
from dsar.domain.events import AuditEvent, LetterSent
from dsar.domain.letters import (
    VERIFICATION_LETTER,
    VERIFICATION_REMINDER,
    VERIFICATION_SMS,
    VERIFICATION_SMS_REMINDER,
    in_language,
    message_id,
)
from dsar.domain.regimes import RequestType
from dsar.domain.request import AgentKind, Move, PrivacyRequest, Status, clean_text
from dsar.domain.verification import CODE_DIGITS, UNVERIFIABLE
from dsar.domain.verification_case import CaseState, VerificationCase
from dsar.domain.verification_events import (
    VerificationDataDeleted,
    VerificationLevelSet,
    VerificationLinkSent,
    VerificationProofGiven,
    VerificationProofRefused,
    VerifiedByHand,
)
from dsar.domain.verification_policy import (
    DATA_POINTS,
    Proof,
    Requirement,
    askable_points,
    met,
    next_proof,
    points_pass,
    required,
)
from dsar.domain.verification_risk import account_risk_claims, contact_correction, look_alike_address, tries_exhausted
from dsar.services import recording
from dsar.services.context import ServiceContext
from dsar.services.correspondence import deliver_text, letter_request
from dsar.services.data_points import point_matches, textable_number
from dsar.services.deadlines import pause_for_verification, record_receipt_confirmation, restart_after_verification
from dsar.services.ports import UnitOfWork
from dsar.services.verification_risk import flag

log = logging.getLogger("dsar.identity")

LINK_PATH = "/verify/l/"
CODE_PATH = "/verify"
ACCOUNT_PATH = "/verify/account"
RESEND_PATH = "/verify/resend"
UNKNOWN_REASON = "not found in the system of record: no link or code was sent"
AMBIGUOUS_REASON = "several records in the system of record match: no link or code was sent"
RISK_VIA = "identity verification"  # where a verification risk flag's escalation was raised
_RECORD_AAD = "verification/record"
_DECLARATION_AAD = "verification/declaration"


class StepOutcome(StrEnum):
    VERIFIED = "verified"  # the requirement is met: the run may go on
    MORE = "more"  # this proof was accepted; ``next`` says what else is needed
    WRONG = "wrong"  # not accepted; ``attempts_left`` tries remain
    EXHAUSTED = "exhausted"  # no tries left, or expired: the request is refused as unverifiable
    INVALID = "invalid"  # the link, code or session is unknown, used or expired


@dataclass(frozen=True)
class Step:
    """The outcome of one proof, as the pages and the CLI show it (no personal data beyond what
    the subject may see: the reference, what is needed next)."""

    outcome: StepOutcome
    request_id: str | None = None
    reference: str | None = None
    next: Proof | None = None
    session: str | None = None  # carries the subject from one page to the next
    points: tuple[str, ...] = ()  # the data points the next page may ask for
    points_needed: int = 0
    attempts_left: int = 0
    agent_name: str | None = None  # for the consumer's confirmation page
    escalated: bool = False  # a risk flag sent the request to legal now (never shown: the run is woken to ask legal)

    @property
    def verified(self) -> bool:
        return self.outcome is StepOutcome.VERIFIED


@dataclass(frozen=True)
class _OnFile:
    """What the system of record holds on the subject (personal data: sealed at rest)."""

    email: str | None
    phone: str | None  # as the record holds it: a search key of every system once verified
    points: dict[str, str]
    account_id: str | None
    country: str | None
    sms: str | None = None  # ``phone`` in E.164 when it is a valid number a text can go to

    def as_json(self) -> dict[str, Any]:
        doc = {"email": self.email, "phone": self.phone, "points": self.points, "account_id": self.account_id, "country": self.country}
        return doc | {"sms": self.sms}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> _OnFile:
        return cls(
            doc.get("email"), doc.get("phone"), dict(doc.get("points") or {}), doc.get("account_id"), doc.get("country"), doc.get("sms")
        )


@dataclass(frozen=True)
class _Found:
    system: str | None
    on_file: _OnFile | None
    categories: frozenset[str]
    ambiguous: bool = False


# --- the system of record ---------------------------------------------------------------------


def system_of_record(ctx: ServiceContext) -> str | None:
    """``DSAR_VERIFICATION_SYSTEM``, else the data map's first SQL system; None without one."""
    if ctx.policy.verification_system:
        return ctx.policy.verification_system
    return next((m.system for m in ctx.data_map if getattr(m, "type", None) == "sql"), None)


_POINT_FIELDS = {"phone": "phone", "postcode": "postcode", "zip": "postcode", "postal_code": "postcode", "street": "street"}
_POINT_FIELDS |= {"city": "city", "name": "name", "country": "country", "account_id": "account_id", "customer_number": "account_id"}


def _look_up(ctx: ServiceContext, r: PrivacyRequest) -> _Found:
    """Find the subject in the system of record by what the requester typed. Exactly one
    contact on file, or unknown."""
    system = system_of_record(ctx)
    if system is None:
        return _Found(None, None, frozenset())
    s = r.subject
    keys = SubjectKeys(emails=s.emails, phone=s.phone, account_id=s.account_id)
    emails: set[str] = set()
    phones: set[str] = set()
    points: dict[str, str] = {}
    categories: set[str] = set()
    found = False
    with ctx.connectors.open(system) as connector:
        located = connector.locate(keys)
        # Read as they stream, never held all at once: a subject with a million rows in the
        # system of record costs no memory here (the access package's benchmark has 100,000).
        for rec in connector.export(located) if located.found else ():
            found = True
            categories.update(str(c) for c in rec.categories.values() if c)
            for name, value in rec.fields.items():
                if name != "email" and name not in _POINT_FIELDS:
                    continue
                if value is None or not isinstance(value, str | int) or not str(value).strip():
                    continue
                text = str(value).strip()
                if name == "email" and "@" in text:
                    emails.add(text.lower())
                elif name in _POINT_FIELDS:
                    kind = _POINT_FIELDS[name]
                    if kind == "phone":
                        phones.add(text)
                    points.setdefault(kind, text)
    if not found:
        return _Found(system, None, frozenset())
    if len(emails) > 1 or (not emails and len(phones) > 1):
        return _Found(system, None, frozenset(categories), ambiguous=True)
    on_file = _OnFile(
        email=next(iter(emails), None),
        phone=points.get("phone"),
        points={k: v for k, v in points.items() if k in DATA_POINTS},
        account_id=points.get("account_id"),
        country=points.get("country") or r.country or None,
        # read in the record's country, else the request's (a national number: 030 ...)
        sms=textable_number(points.get("phone"), points.get("country"), r.country),
    )
    if on_file.email is None and on_file.phone is None:
        return _Found(system, None, frozenset(categories))
    return _Found(system, on_file, frozenset(categories))


# --- tokens -----------------------------------------------------------------------------------


def _derive(ctx: ServiceContext, case: VerificationCase, what: str, ordinal: int) -> bytes:
    return bytes.fromhex(keyed_digest(ctx.code_key, f"{what}:{case.salt}:{ordinal}"))


def _link_token(ctx: ServiceContext, case: VerificationCase, ordinal: int) -> str:
    return _derive(ctx, case, "link", ordinal).hex()[:40]


def _code(ctx: ServiceContext, case: VerificationCase, ordinal: int) -> str:
    value = int.from_bytes(_derive(ctx, case, "code", ordinal)[:16])
    return f"{value % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def _digest(ctx: ServiceContext, what: str, token: str) -> str:
    return keyed_digest(ctx.code_key, f"{what}-digest:{token}")


def link_url(ctx: ServiceContext, token: str, language: str | None = None) -> str:
    """The single-use link's landing page, opening in ``language`` (the letter's) when given."""
    return in_language(f"{ctx.policy.web_url.rstrip('/')}{LINK_PATH}{token}", language)


def page_url(ctx: ServiceContext, path: str, r: PrivacyRequest) -> str:
    """A verification page (``CODE_PATH``, ``RESEND_PATH``) as a letter or text to the subject
    of ``r`` links it: in the request's language, the letter's."""
    return in_language(f"{ctx.policy.web_url.rstrip('/')}{path}", r.language)


def _account_nonce(ctx: ServiceContext, case: VerificationCase, ordinal: int) -> str:
    """The nonce of the ``ordinal``-th sign-in (one per try: each refused assertion spends it).
    It is the session of the account page, so it finds the case when the login posts back."""
    return _derive(ctx, case, "account-nonce", ordinal).hex()[:40]


def sign_in_url(ctx: ServiceContext, state: str) -> str | None:
    """The organisation's login page for the session ``state`` (None: no login configured)."""
    login = ctx.policy.account_login
    if login is None or not state:
        return None
    return login.sign_in_url(f"{ctx.policy.web_url.rstrip('/')}{ACCOUNT_PATH}", state)


# --- start ------------------------------------------------------------------------------------


def _channel(r: PrivacyRequest, on_file: _OnFile | None) -> str:
    """Where the link goes: the email on file; else a text message to the phone on file when it
    is a valid number (``sms``, its E.164 form). Neither goes to a contact the request asks to
    correct (verify with other data, 11 CCR 7060(e)). Else ``none``: verified by hand."""
    if on_file is None:
        return "none"
    corrected = {c.attribute for c in r.corrections}
    if on_file.email and "email" not in corrected:
        return "email"
    if on_file.sms and "phone" not in corrected:
        return "sms"
    return "none"


def _requirement(r: PrivacyRequest, found: _Found, account_login: bool = False) -> Requirement:
    agent = r.agent is not None
    poa = agent and r.agent is not None and r.agent.kind is AgentKind.POWER_OF_ATTORNEY
    return required(
        r.regime,
        r.type,
        r.access_scope,
        found.categories if found.on_file else frozenset(),
        account_holder=account_login and found.on_file is not None and bool(found.on_file.account_id),
        agent=agent and not poa,
        power_of_attorney=poa,
    )


def start(ctx: ServiceContext, request_id: str) -> Status:
    """Open the request's verification case and send the link and code to the contact on file
    (nothing for an unknown subject). Idempotent: a case already open is sent its first link
    if that did not go out; a request past RECEIVED is left as it is."""
    with ctx.uow() as uow:
        r = uow.requests.get(request_id)
        if r.on_hold or r.status not in (Status.RECEIVED, Status.AWAITING_VERIFICATION):
            return r.status
        case = uow.cases.get(request_id)
    if case is None:
        found = _look_up(ctx, r)
        now = ctx.clock()
        with ctx.uow() as uow:
            facts = uow.requests.facts(request_id)
            if facts.status is not Status.RECEIVED or facts.on_hold or uow.cases.get(request_id) is not None:
                return facts.status
            req = _requirement(r, found, account_login=ctx.policy.account_login is not None)
            channel = _channel(r, found.on_file)
            sealed = (
                uow.keys.seal(request_id, json.dumps(found.on_file.as_json()).encode(), _RECORD_AAD) if found.on_file is not None else None
            )
            case = uow.cases.add(
                VerificationCase(
                    id=0,
                    request_id=request_id,
                    created_at=now,
                    expires_at=ctx.policy.verification.expires(now),
                    known=found.on_file is not None,
                    channel=channel,
                    requirement=req,
                    salt=secrets.token_hex(16),
                    sealed=sealed,
                    system=found.system,
                )
            )
            reasons = req.reasons + ((AMBIGUOUS_REASON,) if found.ambiguous else (UNKNOWN_REASON,) if found.on_file is None else ())
            uow.audit.append(
                [
                    VerificationLevelSet(
                        request_id, now, case.id, req.level.value, req.describe(), reasons, found.system, case.known, channel
                    )
                ]
            )
            status: Status = facts.status
            if channel == "none":
                # Unknown, or no channel on file this build can reach: nothing goes anywhere, and
                # the request waits exactly as a known one does.
                status = recording.move(uow, facts, Move.REQUEST_VERIFICATION, now).status
            # A typed address that is a look-alike of the one on file (THREATS 1): legal decides
            # before any link goes. The requester hears the same as anyone (the acknowledgement
            # below goes as ever); the link waits with the request until legal lets it go on.
            on_file_email = found.on_file.email if found.on_file is not None else None
            x = flag(ctx, uow, request_id, look_alike_address(r.subject.emails, on_file_email), via=RISK_VIA)
            held = x is not None and x.held
            uow.commit()
    else:
        status = r.status
        held = False
        if case.issued > 0:
            return status
    if case.channel == "none" and case.known:
        return status  # found on file, but no channel reaches them: verified by hand
    try:
        # The acknowledgement of receipt first, where the regime requires one (CCPA 7021(a));
        # sent once, like every letter. A subject not found on file gets it too, at the address
        # the request gave (it discloses nothing): known or not, the requester hears the same
        # (THREATS 9).
        from dsar.services import notices

        with ctx.uow() as uow:
            notices.send_acknowledgement(ctx, uow, r)
            uow.commit()
        if case.channel == "none" or held:
            return status  # nothing to send; or held by a risk flag: the run sends it once legal lets it go on
        return _send(ctx, request_id, 1, r)
    except DeliveryFailed as failed:
        from dsar.services.correspondence import hold_for_failed_delivery

        return hold_for_failed_delivery(ctx, request_id, failed)


def _send(ctx: ServiceContext, request_id: str, ordinal: int, opened: PrivacyRequest | None = None) -> Status:
    """Send the ``ordinal``-th link and code to the contact on file, and record it. ``opened``:
    the request already read with its personal data (the letter names the subject)."""
    now = ctx.clock()
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        case = uow.cases.get(request_id)
        if case is None or case.sealed is None or case.issued >= ordinal or case.state is not CaseState.OPEN:
            return r.status
        on_file = _OnFile.from_json(json.loads(uow.keys.open(request_id, case.sealed, _RECORD_AAD)))
        token, code = _link_token(ctx, case, ordinal), _code(ctx, case, ordinal)
        due = uow.deadlines.get(request_id).due
        full = opened if opened is not None else uow.requests.get(request_id)  # its language, agent, name
        if case.channel == "sms":
            # A text message to the number on file (E.164), from the approved verification_sms
            # text in the request's language: the reference, link, code, expiry and due date,
            # nothing else of the request (no name: the context has none to print).
            assert on_file.sms is not None
            sent_id = message_id(r.reference, f"verify-sms-{case.id}-{ordinal}")
            link = link_url(ctx, token, full.language)
            context = _text_context(ctx, full) | {"code": code, "link": link, "expires_at": case.expires_at, "due": due}
            letter = deliver_text(ctx, uow, full, VERIFICATION_SMS, context, sent_id, on_file.sms)
        else:
            context = {
                "request": letter_request(full),
                "code": code,
                "link": link_url(ctx, token, full.language),
                "code_page": page_url(ctx, CODE_PATH, full),
                "expires_at": case.expires_at,
                "due": due,
                "organisation": ctx.policy.organisation_name,
                "contact": ctx.policy.privacy_contact,
                "agent": full.agent is not None,  # facts carry no agent: the full request does
            }
            # Rendered in the request's language, checked against legal's approval (else
            # LetterNotApproved, a DeliveryFailed the caller holds the request for), mailed with its
            # PDF to the contact on file: the same delivery as every other letter.
            from dsar.services.correspondence import deliver

            assert on_file.email is not None
            sent_id = message_id(r.reference, f"verify-{case.id}-{ordinal}")
            letter, _ = deliver(ctx, uow, full, VERIFICATION_LETTER, context, sent_id, (), on_file.email, keep_pdf=False)
        link_digest, code_digest = _digest(ctx, "link", token), _digest(ctx, "code", code)
        if ordinal == 1:
            # the first link is valid its full period from when it goes (a risk flag may have held
            # the case, opened earlier, until legal let it go on)
            case = replace(case, expires_at=max(case.expires_at, ctx.policy.verification.expires(now)))
        uow.cases.save(replace(case, issued=ordinal, session_digest=None, link_digest=link_digest, code_digest=code_digest))
        events: list[AuditEvent] = [
            VerificationLinkSent(request_id, now, case.id, ordinal, case.channel, case.expires_at, letter.template),
            LetterSent(
                request_id,
                now,
                VERIFICATION_LETTER,
                letter.template,
                sent_id,
                0,
                case.channel,
                letter.version,
                letter.language,
            ),
        ]
        uow.audit.append(events)
        if r.status is Status.RECEIVED:
            r = recording.move(uow, r, Move.REQUEST_VERIFICATION, now)
            # The letter (or the text) says the request arrived, how it is verified and when the
            # answer is due: it confirms receipt (11 CCR 7021(a)).
            record_receipt_confirmation(uow, request_id, now, case.channel, "dsar")
            # uk-gdpr: asking for identity stops the clock until the subject answers.
            pause_for_verification(ctx, uow, r)
        uow.commit()
        return r.status


def _text_context(ctx: ServiceContext, r: PrivacyRequest) -> dict[str, Any]:
    """What every verification text may print: the request without its subject (no name, no
    contact), the organisation and the code page. A text names nothing personal."""
    request = {"reference": r.reference, "type": r.type.value, "regime": r.regime, "received": r.received_at.date()}
    return {
        "request": request,
        "code_page": page_url(ctx, CODE_PATH, r),
        "organisation": ctx.policy.organisation_name,
        "contact": ctx.policy.privacy_contact,
    }


def resend(ctx: ServiceContext, request_id: str) -> bool:
    """Send a fresh link and code (the earlier ones stop working), within the allowed sends.
    False when nothing was sent (unknown subject, no sends left, not waiting): the caller says
    the same words either way."""
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        case = uow.cases.get(request_id)
    if r.status is not Status.AWAITING_VERIFICATION or case is None or case.state is not CaseState.OPEN or case.channel == "none":
        return False
    if case.issued >= ctx.policy.verification_max_sends or ctx.clock() > case.expires_at:
        return False
    _send(ctx, request_id, case.issued + 1)
    return True


SECOND_REMINDER = f"{VERIFICATION_REMINDER}.2"  # recorded as a letter kind of its own (a letter goes once per kind)


def reminder_due(ctx: ServiceContext, case: VerificationCase, now: datetime) -> str | None:
    """The reminder letter kind due for an open case now, the later one when both are (the
    watch was down: the earlier is then not sent): the first
    ``verification_reminder_after_hours`` after the case opened, the second
    ``verification_reminder_hours`` before the link expires (when that is later than the first)."""
    after, before = ctx.policy.verification_reminder_after_hours, ctx.policy.verification_reminder_hours
    first = case.created_at + timedelta(hours=after) if after > 0 else None
    second = case.expires_at - timedelta(hours=before) if before > 0 else None
    if first is not None and second is not None and second <= first:
        first = None  # one reminder: the one before expiry
    if second is not None and now >= second:
        return SECOND_REMINDER if first is not None else VERIFICATION_REMINDER
    if first is not None and now >= first:
        return VERIFICATION_REMINDER
    return None


def remind(ctx: ServiceContext, request_id: str) -> bool:
    """Send the verification reminder that is due (each once), to the contact on file, while the
    link still works: it names the reference, the code page and the time the link expires,
    never a code or link (the subject uses the earlier letter, or asks for a new one). Nothing
    for a subject not found on file (nothing was sent, so nothing to remind of). True when one
    went now. Raises DeliveryFailed like any letter."""
    from dsar.services.correspondence import send_letter, send_text

    now = ctx.clock()
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        case = uow.cases.get(request_id)
        if not _usable(case, r.status) or case is None or not case.known or case.issued == 0 or now > case.expires_at:
            return False
        kind = reminder_due(ctx, case, now)
        if kind is None or uow.letters.get(request_id, kind) is not None:
            return False
        on_file = _on_file(uow, case)
        if on_file is not None and case.channel == "sms" and on_file.sms is not None:
            # a text to the number the link went to, from the approved reminder text; recorded
            # under the reminder's letter kind (each goes once, whatever the channel)
            full = uow.requests.get(request_id)  # its language
            context = _text_context(ctx, full) | {"resend_page": page_url(ctx, RESEND_PATH, full), "expires_at": case.expires_at}
            send_text(ctx, uow, full, kind, context, to=on_file.sms, template_kind=VERIFICATION_SMS_REMINDER)
            uow.commit()
            return True
        if on_file is None or on_file.email is None:
            return False
        full = uow.requests.get(request_id)
        context = {
            "request": letter_request(full),
            "code_page": page_url(ctx, CODE_PATH, full),
            "resend_page": page_url(ctx, RESEND_PATH, full),
            "expires_at": case.expires_at,
            "due": uow.deadlines.get(request_id).due,
            "organisation": ctx.policy.organisation_name,
            "contact": ctx.policy.privacy_contact,
            "sent_on": now.date(),
        }
        send_letter(ctx, uow, full, kind, context, to=on_file.email, template_kind=VERIFICATION_REMINDER)
        uow.commit()
    return True


def expire(ctx: ServiceContext, request_id: str) -> bool:
    """Close a request whose verification link expired unused as unverifiable (the run then
    sends the could-not-verify letter). True when it was closed now. A request on hold (with
    legal, or held by a person) is left alone: it is closed by a sweep after its release."""
    now = ctx.clock()
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        case = uow.cases.get(request_id)
        if case is None or r.on_hold or not _usable(case, r.status) or now <= case.expires_at:
            return False
        uow.audit.append([VerificationProofRefused(request_id, now, Proof.CONTACT.value, "expired", case.attempts)])
        _fail(ctx, uow, r, case, now)
        uow.commit()
    return True


def expiring(ctx: ServiceContext) -> tuple[list[str], list[str]]:
    """(to remind, to close): the requests whose open case's link expires within the reminder
    period, and those whose link has expired."""
    now = ctx.clock()
    # a case's first reminder is due ``after`` hours after it opened, i.e. ttl - after before it expires
    policy = ctx.policy
    ahead = max(policy.verification_reminder_hours, policy.verification_code_ttl_hours - policy.verification_reminder_after_hours)
    with ctx.uow() as uow:
        cases = uow.cases.open_expiring(now + timedelta(hours=max(ahead, 0)))
    expired = [c.request_id for c in cases if c.expires_at < now]
    return [c.request_id for c in cases if c.expires_at >= now and reminder_due(ctx, c, now) is not None], expired


# --- proofs -----------------------------------------------------------------------------------


def _left(ctx: ServiceContext, case: VerificationCase) -> int:
    return ctx.policy.verification.attempts_left(case.attempts)


def _step_after(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, case: VerificationCase, now: datetime, via: str) -> Step:
    """After a proof was added: verified (the request moves on), or the next page's session."""
    nxt = next_proof(case.requirement, case.proofs)
    if nxt is None or nxt in (Proof.AGENT_PERMISSION, Proof.POWER_OF_ATTORNEY):
        if nxt is None:
            _finish(ctx, uow, r, replace(case, session_digest=None), now, via)
            return Step(StepOutcome.VERIFIED, r.id, r.reference, attempts_left=_left(ctx, case))
        # the rest is for legal (the agent's permission, a power of attorney): the subject is done
        uow.cases.save(replace(case, session_digest=None))
        return Step(StepOutcome.MORE, r.id, r.reference, next=nxt, attempts_left=_left(ctx, case))
    session = _account_nonce(ctx, case, case.attempts) if nxt is Proof.ACCOUNT else secrets.token_urlsafe(32)
    uow.cases.save(replace(case, session_digest=_digest(ctx, "session", session)))
    points = _askable(uow, r, case)
    return Step(
        StepOutcome.MORE,
        r.id,
        r.reference,
        next=nxt,
        session=session,
        points=points,
        points_needed=case.requirement.data_points,
        attempts_left=_left(ctx, case),
        agent_name=r.agent.name if r.agent is not None else None,
    )


def _on_file(uow: UnitOfWork, case: VerificationCase) -> _OnFile | None:
    if case.sealed is None:
        return None
    return _OnFile.from_json(json.loads(uow.keys.open(case.request_id, case.sealed, _RECORD_AAD)))


def _askable(uow: UnitOfWork, r: PrivacyRequest, case: VerificationCase) -> tuple[str, ...]:
    on_file = _on_file(uow, case)
    held = set(on_file.points) if on_file else set()
    excluded = {c.attribute for c in r.corrections}
    if case.channel == "sms":
        excluded.add("phone")
    return askable_points(held, excluded=excluded)


def _finish(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, case: VerificationCase, now: datetime, via: str) -> None:
    from dsar.services.processing import link_duplicate

    uow.cases.save(replace(case, state=CaseState.VERIFIED, session_digest=None, link_digest=None, code_digest=None))
    restart_after_verification(ctx, uow, r)
    verified = recording.move(uow, r, Move.CONFIRM_IDENTITY, now, f"identity verified ({case.requirement.describe()})")
    on_file = _on_file(uow, case)
    contact = on_file.email if on_file and on_file.email else (r.subject.primary_email if not case.known else None)
    after = link_duplicate(ctx, uow, verified, now, contact)
    if after.status is Status.VERIFIED and r.type is RequestType.CORRECTION and Proof.BY_HAND not in case.proofs:
        # Correcting a contact on file, the data verification goes through (THREATS 10): legal
        # decides before anything is planned. Not after a verification by hand: legal did that.
        contacts = (("email", on_file.email), ("phone", on_file.phone)) if on_file is not None else ()
        held = {kind for kind, value in contacts if value}
        corrected = {c.attribute for c in uow.requests.get(r.id).corrections}
        flag(ctx, uow, r.id, contact_correction(corrected, held), via=RISK_VIA)


def _fail(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, case: VerificationCase, now: datetime) -> None:
    from dsar.services.processing import deny

    uow.cases.save(replace(case, state=CaseState.FAILED, session_digest=None, link_digest=None, code_digest=None))
    restart_after_verification(ctx, uow, r)
    deny(uow, r, now, by="dsar", reason=UNVERIFIABLE)


def _add_proof(case: VerificationCase, *proofs: Proof) -> VerificationCase:
    return replace(case, proofs=case.proofs | frozenset(proofs))


def _usable(case: VerificationCase | None, r_status: Status) -> bool:
    return case is not None and case.state is CaseState.OPEN and r_status is Status.AWAITING_VERIFICATION


@dataclass(frozen=True)
class LinkView:
    """What the link's landing page may show before anything is spent."""

    reference: str
    request_type: str
    agent_name: str | None


def link_view(ctx: ServiceContext, token: str) -> LinkView | None:
    """The landing page's facts for a valid, unused, unexpired link; None otherwise. Reading it
    spends nothing (mail scanners open links)."""
    if not token or len(token) > 100:
        return None
    with ctx.uow() as uow:
        case = uow.cases.by_link(_digest(ctx, "link", token))
        if case is None or case.link_digest is None or not digests_equal(case.link_digest, _digest(ctx, "link", token)):
            return None
        r = uow.requests.get(case.request_id)
        if not _usable(case, r.status) or ctx.clock() > case.expires_at:
            return None
        return LinkView(r.reference, r.type.value, r.agent.name if r.agent is not None else None)


def use_link(ctx: ServiceContext, token: str, *, consumer_confirms: bool = True, via: str = "web") -> Step:
    """The subject followed the link and pressed continue: possession of the contact on file.
    For an agent's request this is also the consumer's answer (``consumer_confirms`` False:
    the consumer says they did not authorise the agent: refused)."""
    now = ctx.clock()
    if not token or len(token) > 100:
        return Step(StepOutcome.INVALID)
    with ctx.uow() as uow:
        case = uow.cases.by_link(_digest(ctx, "link", token))
        if case is None or case.link_digest is None or not digests_equal(case.link_digest, _digest(ctx, "link", token)):
            return Step(StepOutcome.INVALID)
        r = uow.requests.get(case.request_id)
        if not _usable(case, r.status):
            return Step(StepOutcome.INVALID)
        if now > case.expires_at:
            uow.audit.append([VerificationProofRefused(r.id, now, Proof.CONTACT.value, "expired", case.attempts + 1)])
            _fail(ctx, uow, r, case, now)
            uow.commit()
            return Step(StepOutcome.EXHAUSTED, r.id, r.reference)
        return _contact_proven(ctx, uow, r, case, now, via, consumer_confirms)


def _contact_proven(
    ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, case: VerificationCase, now: datetime, via: str, consumer_confirms: bool
) -> Step:
    # single use: the link and the code of this send stop working now
    case = replace(case, link_digest=None, code_digest=None)
    if case.requirement.agent and not consumer_confirms:
        uow.audit.append([VerificationProofRefused(r.id, now, Proof.CONSUMER_CONFIRMATION.value, "denied by the consumer", case.attempts)])
        _fail(ctx, uow, r, case, now)
        uow.commit()
        return Step(StepOutcome.EXHAUSTED, r.id, r.reference)
    given = [Proof.CONTACT] + ([Proof.CONSUMER_CONFIRMATION] if case.requirement.agent else [])
    case = _add_proof(case, *given)
    uow.audit.append([VerificationProofGiven(r.id, now, p.value, via) for p in given])
    step = _step_after(ctx, uow, r, case, now, via)
    uow.commit()
    return step


def use_code(ctx: ServiceContext, request_id: str, code: str, *, via: str = "web") -> Step:
    """The code typed on the code page (with the reference), by the CLI or the console: the
    same proof as the link. A wrong code counts a try; the last try refuses the request."""
    now = ctx.clock()
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        case = uow.cases.get(request_id)
        if case is None or not _usable(case, r.status) or case.code_digest is None:
            return Step(StepOutcome.INVALID, request_id, r.reference)
        given = _digest(ctx, "code", code.strip()[:32])
        if now > case.expires_at:
            uow.audit.append([VerificationProofRefused(r.id, now, Proof.CONTACT.value, "expired", case.attempts + 1)])
            _fail(ctx, uow, r, case, now)
            uow.commit()
            return Step(StepOutcome.EXHAUSTED, r.id, r.reference)
        if not digests_equal(case.code_digest, given):
            return _wrong(ctx, uow, r, case, now, Proof.CONTACT)
        return _contact_proven(ctx, uow, r, case, now, via, True)


def _wrong(
    ctx: ServiceContext,
    uow: UnitOfWork,
    r: PrivacyRequest,
    case: VerificationCase,
    now: datetime,
    proof: Proof,
    why: str | None = None,
    session: str | None = None,
) -> Step:
    """A refused proof: one try spent (the last refuses the request). ``why``: the audit's reason
    (default wrong, or exhausted on the last try); ``session``: the page's next session."""
    case = replace(case, attempts=case.attempts + 1)
    left = _left(ctx, case)
    uow.audit.append([VerificationProofRefused(r.id, now, proof.value, why or ("wrong" if left else "exhausted"), case.attempts)])
    if left == 0:
        # Every try used up (brute force?): legal hears of it, and the refusal's letter waits for
        # legal's decision; the requester sees the same page as ever.
        limit = ctx.policy.verification.max_attempts
        if flag(ctx, uow, r.id, tries_exhausted(case.attempts, limit, proof.value), via=RISK_VIA) is not None:
            r = replace(r, on_hold=uow.requests.facts(r.id).on_hold)
        _fail(ctx, uow, r, case, now)
        uow.commit()
        return Step(StepOutcome.EXHAUSTED, r.id, r.reference)
    if session is not None:
        case = replace(case, session_digest=_digest(ctx, "session", session))
    uow.cases.save(case)
    uow.commit()
    return Step(StepOutcome.WRONG, r.id, r.reference, attempts_left=left)


def _by_session(ctx: ServiceContext, uow: UnitOfWork, session: str) -> tuple[PrivacyRequest, VerificationCase] | None:
    if not session or len(session) > 100:
        return None
    digest = _digest(ctx, "session", session)
    case = uow.cases.by_session(digest)
    if case is None or case.session_digest is None or not digests_equal(case.session_digest, digest):
        return None
    r = uow.requests.get(case.request_id)
    if not _usable(case, r.status) or ctx.clock() > case.expires_at:
        return None
    return r, case


def session_step(ctx: ServiceContext, session: str) -> Step:
    """Where a session stands (to show its page again), without spending anything."""
    with ctx.uow() as uow:
        found = _by_session(ctx, uow, session)
        if found is None:
            return Step(StepOutcome.INVALID)
        return _current(ctx, uow, found[0], found[1], session)


def _current(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, case: VerificationCase, session: str) -> Step:
    return Step(
        StepOutcome.MORE,
        r.id,
        r.reference,
        next=next_proof(case.requirement, case.proofs),
        session=session,
        points=_askable(uow, r, case),
        points_needed=case.requirement.data_points,
        attempts_left=_left(ctx, case),
        agent_name=r.agent.name if r.agent is not None else None,
    )


def give_points(ctx: ServiceContext, session: str, given: dict[str, str], *, via: str = "web") -> Step:
    """Data points typed by the subject, compared with what the system of record holds. All
    given must match and enough must be given; a failure says only that it failed."""
    now = ctx.clock()
    with ctx.uow() as uow:
        found = _by_session(ctx, uow, session)
        if found is None:
            return Step(StepOutcome.INVALID)
        r, case = found
        if next_proof(case.requirement, case.proofs) is not Proof.DATA_POINTS:
            return _current(ctx, uow, r, case, session)
        on_file = _on_file(uow, case)
        askable = _askable(uow, r, case)
        typed = {k: v.strip() for k, v in given.items() if k in askable and v and v.strip()}
        region = on_file.country if on_file else None
        results = [on_file is not None and point_matches(k, v[:200], on_file.points.get(k, ""), region=region) for k, v in typed.items()]
        if not points_pass(case.requirement.data_points, results):
            step = _wrong(ctx, uow, r, case, now, Proof.DATA_POINTS)
            if step.outcome is StepOutcome.WRONG:
                return replace(step, session=session, next=Proof.DATA_POINTS, points=askable, points_needed=case.requirement.data_points)
            return step
        case = _add_proof(case, Proof.DATA_POINTS)
        return _given(ctx, uow, r, case, Proof.DATA_POINTS, now, via)


def _given(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest, case: VerificationCase, proof: Proof, now: datetime, via: str) -> Step:
    """A proof accepted (already added to ``case``): its audit event, what comes next, committed."""
    uow.audit.append([VerificationProofGiven(r.id, now, proof.value, via)])
    step = _step_after(ctx, uow, r, case, now, via)
    uow.commit()
    return step


def declare(ctx: ServiceContext, session: str, full_name: str, agreed: bool, *, via: str = "web") -> Step:
    """The declaration under penalty of perjury (11 CCR 7062(c)): the subject's typed name and
    the moment, sealed and kept with the request."""
    now = ctx.clock()
    with ctx.uow() as uow:
        found = _by_session(ctx, uow, session)
        if found is None:
            return Step(StepOutcome.INVALID)
        r, case = found
        if next_proof(case.requirement, case.proofs) is not Proof.DECLARATION:
            return _current(ctx, uow, r, case, session)
        name = clean_text(full_name, "name", limit=200)
        if not agreed or not name:
            raise InvalidInput("the declaration needs your full name and your agreement", ["declaration: name and agreement required"])
        doc = {"name": name, "at": now.isoformat(), "text": DECLARATION_TEXT, "reference": r.reference}
        case = _add_proof(case, Proof.DECLARATION)
        case = replace(case, declaration=uow.keys.seal(r.id, json.dumps(doc).encode(), _DECLARATION_AAD))
        return _given(ctx, uow, r, case, Proof.DECLARATION, now, via)


def sign_in(ctx: ServiceContext, state: str, assertion: str, *, via: str = "web") -> Step:
    """The organisation's login vouches for the account holder (11 CCR 7061): ``assertion``, the
    JWT its login posted back for the session ``state``, judged by
    :func:`dsar.services.account_login.check` against the account id on file and the nonce
    issued for this session. Refused: one try spent, the reason (never personal) in the audit
    trail, the subject told only that it did not work, and a fresh nonce for the next try."""
    from dsar.services import account_login

    now = ctx.clock()
    login = ctx.policy.account_login
    with ctx.uow() as uow:
        found = _by_session(ctx, uow, state)
        if found is None:
            return Step(StepOutcome.INVALID)
        r, case = found
        if login is None or next_proof(case.requirement, case.proofs) is not Proof.ACCOUNT:
            return _current(ctx, uow, r, case, state)
        on_file = _on_file(uow, case)
        spent = [_account_nonce(ctx, case, k) for k in range(case.attempts)]
        judged = account_login.judge(
            login, assertion, account_id=on_file.account_id if on_file else None, nonce=state, spent=spent, now=now
        )
        if judged.refusal is not None:
            fresh = _account_nonce(ctx, case, case.attempts + 1)
            step = _wrong(ctx, uow, r, case, now, Proof.ACCOUNT, why=judged.refusal.value, session=fresh)
            if step.outcome is StepOutcome.WRONG:
                return replace(step, session=fresh, next=Proof.ACCOUNT)
            return step
        case = _add_proof(case, Proof.ACCOUNT)
        uow.audit.append([VerificationProofGiven(r.id, now, Proof.ACCOUNT.value, via)])
        step = _step_after(ctx, uow, r, case, now, via)
        # The login says the account saw something suspicious lately (THREATS 13): the proof
        # stands, the subject sees the same page, and legal decides before the request goes on.
        x = flag(ctx, uow, r.id, account_risk_claims(judged.claims, login.risk_claims), via=RISK_VIA)
        uow.commit()
        return replace(step, escalated=x is not None)


DECLARATION_TEXT = (
    "I declare under penalty of perjury under the laws of the State of California that I am the consumer "
    "whose personal information is the subject of this request."
)


# --- staff ------------------------------------------------------------------------------------


def _prove_legal(uow: UnitOfWork, approver: str, code: str, now: datetime) -> str:
    from dsar.domain.decisions import REFUSAL_TEXT, SignOffRefusal
    from dsar.services.accounts import prove_approver

    proven = prove_approver(uow, (approver or "").strip(), (code or "").strip(), now)
    if isinstance(proven, SignOffRefusal):
        raise InvalidInput(f"refused: {REFUSAL_TEXT[proven]}", [f"code: {REFUSAL_TEXT[proven]}"])
    return str(proven.name)


def verify_by_hand(ctx: ServiceContext, request_id: str, *, approver: str, code: str, evidence: str, via: str = "cli") -> Status:
    """A legal account records identity verified by other means, proven by its authenticator's
    current code like a sign-off: the evidence described (what was seen and how, never a copy
    of an ID document), an audit event. The request is verified; a hold is released unless an
    open escalation put it on (legal's decision on that lifts it); the caller wakes the run."""
    text = clean_text(evidence, "evidence", required=True, limit=1000, multiline=True)
    assert text is not None
    if len(text) < 10:
        raise InvalidInput("describe the evidence seen (at least a few words)", ["evidence: too short"])
    now = ctx.clock()
    with ctx.uow() as uow:
        r = uow.requests.get(request_id)
        if r.status not in (Status.AWAITING_VERIFICATION, Status.RECEIVED):
            raise InvalidInput(
                f"{r.reference} is {r.status.value}: it does not wait for verification", ["status: not waiting for verification"]
            )
        case = uow.cases.get(request_id)
        if case is not None and case.state is not CaseState.OPEN:
            raise InvalidInput(f"{r.reference}: its verification is {case.state.value}", ["status: not open"])
        by = _prove_legal(uow, approver, code, now)
        if case is None:
            case = uow.cases.add(
                VerificationCase(
                    id=0,
                    request_id=request_id,
                    created_at=now,
                    expires_at=ctx.policy.verification.expires(now),
                    known=False,
                    channel="none",
                    requirement=_requirement(r, _Found(None, None, frozenset())),
                    salt=secrets.token_hex(16),
                )
            )
        if r.status is Status.RECEIVED:
            r = recording.move(uow, r, Move.REQUEST_VERIFICATION, now)
        if r.on_hold and not any(x.open and x.held for x in escalations_of(uow.audit.events(r.id))):
            # a hold an open escalation put on is lifted by legal's decision on it, not here
            r = recording.hold(uow, r, False, now, "identity verified by hand", by=by)
        uow.audit.append(
            [VerifiedByHand(r.id, now, by, text, case.requirement.level.value), VerificationProofGiven(r.id, now, Proof.BY_HAND.value, via)]
        )
        _finish(ctx, uow, r, _add_proof(case, Proof.BY_HAND), now, via)
        uow.commit()
    with ctx.uow() as uow:
        return uow.requests.facts(request_id).status


def lower_level(ctx: ServiceContext, request_id: str, to: str, *, approver: str, code: str, reason: str) -> Requirement:
    """Lower the required level (THREATS 5): only by a named legal approver proven by their
    authenticator's code, with the reason; an audit event. Raising is policy's alone."""
    from dsar.domain.verification_events import VerificationLevelLowered
    from dsar.domain.verification_policy import Level, lowered, lowest

    why = clean_text(reason, "reason", required=True, limit=500)
    try:
        target = Level(to)
    except ValueError:
        raise InvalidInput("unknown level", [f"to: one of {', '.join(x.value for x in Level)}"]) from None
    now = ctx.clock()
    with ctx.uow() as uow:
        r = uow.requests.facts(request_id)
        case = uow.cases.get(request_id)
        if case is None or case.state is not CaseState.OPEN or r.status is not Status.AWAITING_VERIFICATION:
            raise InvalidInput(f"{r.reference} does not wait for verification", ["status: not waiting for verification"])
        try:
            new = lowered(case.requirement, replace(lowest(target), agent=case.requirement.agent), approver.strip())
        except ValueError:
            raise InvalidInput("that is not lower than the level required now", ["to: not lower"]) from None
        by = _prove_legal(uow, approver, code, now)
        new = replace(new, lowered_by=by)
        before = case.requirement.level.value
        case = replace(case, requirement=new)
        uow.cases.save(case)
        uow.audit.append([VerificationLevelLowered(r.id, now, before, new.level.value, by, why or "")])
        if met(new, case.proofs):  # the proofs already given reach the lowered level
            _finish(ctx, uow, uow.requests.get(request_id), case, now, "lowered")
        uow.commit()
        return new


# --- when the request ends -------------------------------------------------------------------

# What the deletion counts, always all of them (0: there was none): the spent link, code and
# page session (keyed digests), the case's secret salt they are all derived from (with the
# engine's key it would give every link, code and sign-in nonce of the case again), the data
# points and identifiers copied from the system of record to compare the subject's answers
# with, and the one-time codes of the earlier challenge table (requests of an earlier build).
DELETED_KINDS = ("link", "code", "session", "salt", "data_points_on_file", "identifiers_on_file", "legacy_codes")
SWEEP_BATCH = 200  # ended requests one sweep deletes the verification data of (the rest: the next sweep)


def forget(uow: UnitOfWork, request_id: str, at: datetime, *, via: str = "close") -> dict[str, int] | None:
    """Delete the verification data of a request that ended (closed, denied, withdrawn, failed),
    in ``uow``: the caller's unit of work commits it with the ``VerificationDataDeleted`` event,
    so a crash leaves both or neither. Kept as the request's record (11 CCR 7101): the case's
    level and requirement, the proofs given (the methods), the tries and sends counted, whether
    the subject was on file and the channel, the declaration under penalty of perjury (sealed),
    and the contact on file (its email, or the number a text goes to: the access package's link,
    a letter's link and a late letter still reach the subject there; shredded with the request).
    The case's state becomes ``closed``. Idempotent: a case closed already and no codes left
    delete nothing and record nothing (None). A request shredded already (the sweep, for one
    that ended long before this was built) is cleared without an event: its data key is gone,
    so nothing can be written in its trail, and all it held sealed was unreadable already."""
    deleted = dict.fromkeys(DELETED_KINDS, 0)
    deleted["legacy_codes"] = uow.challenges.delete_for(request_id)
    case = uow.cases.get(request_id)
    if case is not None and case.state is CaseState.CLOSED:
        case = None  # its deletion was recorded when it was closed
    if case is None and not deleted["legacy_codes"]:
        return None
    kept: list[str] = []
    shredded = uow.requests.is_shredded(request_id)
    if case is not None:
        deleted["link"] = int(case.link_digest is not None)
        deleted["code"] = int(case.code_digest is not None)
        deleted["session"] = int(case.session_digest is not None)
        deleted["salt"] = int(bool(case.salt))
        sealed = case.sealed
        if sealed is not None and shredded:
            sealed = None  # unreadable already (its key is gone): nothing of it is needed
        elif sealed is not None:
            on_file = _OnFile.from_json(json.loads(uow.keys.open(request_id, sealed, _RECORD_AAD)))
            deleted["data_points_on_file"] = len(on_file.points)
            deleted["identifiers_on_file"] = sum(1 for v in (on_file.phone, on_file.account_id) if v)
            # the later letters' address: the email on file, else the number a text goes to
            sms = on_file.sms if on_file.email is None else None
            contact = _OnFile(email=on_file.email, phone=None, points={}, account_id=None, country=None, sms=sms)
            kept_contact = contact.email is not None or contact.sms is not None
            sealed = uow.keys.seal(request_id, json.dumps(contact.as_json()).encode(), _RECORD_AAD) if kept_contact else None
        kept = ["level", "proofs"] + (["declaration"] if case.declaration is not None else []) + (["contact_on_file"] if sealed else [])
        closed = replace(case, state=CaseState.CLOSED, link_digest=None, code_digest=None, session_digest=None, salt="", sealed=sealed)
        uow.cases.save(closed)
    if shredded:
        return deleted  # its key is gone, and with it its events' (no event can be written for it now)
    uow.audit.append([VerificationDataDeleted(request_id, at, case.id if case is not None else None, deleted, tuple(kept), via)])
    return deleted


def forget_ended(ctx: ServiceContext, limit: int = SWEEP_BATCH) -> list[str]:
    """The sweep for requests that ended before their verification data was deleted at the end
    (an earlier build), or whose deletion did not happen for another reason: each one's data
    deleted and recorded in a unit of work of its own, up to ``limit`` a sweep. Run by the
    deadline watch and ``dsar alerts sweep`` (with the verification sweep). The ids done."""
    with ctx.uow() as uow:
        ended = sorted(set(uow.cases.of_ended_requests(limit)) | set(uow.challenges.of_ended_requests(limit)))[:limit]
    done: list[str] = []
    for request_id in ended:
        try:
            with ctx.uow() as uow:
                if not uow.requests.facts(request_id).status.is_final:
                    continue
                if forget(uow, request_id, ctx.clock(), via="sweep") is not None:
                    uow.commit()
                    done.append(request_id)
        except Exception as exc:  # noqa: BLE001 - one request's trouble (a damaged row, a sweep beside) must not stop the others
            log.warning("could not delete a request's verification data (%s); the next sweep tries again", type(exc).__name__)
    return done


def declaration_of(ctx: ServiceContext, request_id: str) -> dict[str, Any] | None:
    """The declaration under penalty of perjury the subject signed (name, moment, text,
    reference), opened for legal or an auditor; None when none was given. Kept after the
    request ended, with the request (shredded with its key)."""
    with ctx.uow() as uow:
        case = uow.cases.get(request_id)
        if case is None or case.declaration is None:
            return None
        doc: dict[str, Any] = json.loads(uow.keys.open(request_id, case.declaration, _DECLARATION_AAD))
        return doc


# --- reading ----------------------------------------------------------------------------------


def verified_keys(ctx: ServiceContext, uow: UnitOfWork, r: PrivacyRequest) -> SubjectKeys:
    """What every system is searched by: the identifiers the system of record links to the
    verified subject (email, phone, account id). A request verified before cases existed (the
    old one-time code to the first email) or by hand for a subject not on file: its first email."""
    case = uow.cases.get(r.id)
    on_file = _on_file(uow, case) if case is not None and case.state is CaseState.VERIFIED else None
    if on_file is not None:
        return SubjectKeys(emails=(on_file.email,) if on_file.email else (), account_id=on_file.account_id, phone=on_file.phone)
    if case is not None and case.state is not CaseState.VERIFIED:
        return SubjectKeys()
    email = r.subject.primary_email
    return SubjectKeys(emails=(email,) if email else ())


def letter_address(uow: UnitOfWork, r: PrivacyRequest) -> str | None:
    """Where the request's letters go: the email on file of a subject found in the system of
    record; else (not found, or a request from before verification cases) the first email
    the request gave."""
    case = uow.cases.get(r.id)
    on_file = _on_file(uow, case) if case is not None and case.known else None
    if on_file is not None:
        return on_file.email  # None: no email on file, and none typed is written to
    return r.subject.primary_email


def letter_phone(uow: UnitOfWork, r: PrivacyRequest) -> str | None:
    """The number (E.164) a subject with no email on file is written to by text: the phone on
    file of a subject found in the system of record, when a text can go to it; None when they
    have an email on file (letters go there) or nothing a text can reach."""
    case = uow.cases.get(r.id)
    on_file = _on_file(uow, case) if case is not None and case.known else None
    if on_file is None or on_file.email is not None:
        return None
    return on_file.sms


def reference_request(ctx: ServiceContext, reference: str) -> str | None:
    """The request id of a reference, or None (the code page answers the same either way)."""
    try:
        with ctx.uow() as uow:
            return uow.requests.id_for_reference(reference.strip().upper())
    except (NotFound, InvalidInput):
        return None


def wake_key(ctx: ServiceContext, request_id: str) -> tuple[int, int]:
    """The waiting run's suspension key parts: (case id, times woken)."""
    with ctx.uow() as uow:
        case = uow.cases.get(request_id)
    return (case.id, case.wakes) if case is not None else (0, 0)


def woke(ctx: ServiceContext, request_id: str, wakes: int) -> None:
    """The run was woken at ``wakes``: the next suspension takes a new key."""
    with ctx.uow() as uow:
        case = uow.cases.get(request_id)
        if case is not None and case.wakes == wakes:
            uow.cases.save(replace(case, wakes=wakes + 1))
            uow.commit()
