"""Log a request: validate the submission, compute the deadline, persist.

Validation collects every problem and raises one :class:`InvalidInput`; nothing is written
unless the whole submission is valid. Messages name fields, never the values given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dsar.domain.deadlines import Deadline, compute_deadlines, receipt_date
from dsar.domain.errors import DsarError, InvalidInput, NotFound
from dsar.domain.events import DeadlinesComputed, RequestLogged
from dsar.domain.letters import LETTER_LANGUAGES
from dsar.domain.regimes import AccessScope, check_in_force, get_regime, parse_request_type, regime_for_place, resolve_jurisdiction
from dsar.domain.request import (
    MAX_CORRECTIONS,
    AgentKind,
    AuthorizedAgent,
    Channel,
    Correction,
    PrivacyRequest,
    Status,
    SubjectIdentity,
    clean_text,
    format_reference,
    make_correction,
    normalise_email,
    parse_reference,
)
from dsar.services.context import ServiceContext


def new_request_id() -> str:
    return uuid.uuid4().hex


# A received time may lie this far in the future (clock skew between machines).
_FUTURE_SKEW = timedelta(minutes=5)
# No law counted here was in force before this; an earlier date is a typo (0001-01-01, 1926).
_EARLIEST_RECEIPT = date(2000, 1, 1)


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    emails: list[str] = Field(default_factory=list)
    phone: str | None = None
    postal_address: str | None = None
    account_id: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    email: str | None = None
    kind: str = AgentKind.AUTHORIZED_AGENT.value
    organisation: str | None = None


class CorrectionIn(BaseModel):
    """One thing to put right: the attribute the data map's ``correctable`` fields name (e.g.
    ``phone``) and the correct value."""

    model_config = ConfigDict(extra="forbid")
    attribute: str
    value: str


class Submission(BaseModel):
    """A request as support, a form or the API hands it over (raw, not yet trusted)."""

    model_config = ConfigDict(extra="forbid")
    type: str | None = None
    regime: str | None = None
    access_scope: str | None = None
    country: str | None = None
    subdivision: str | None = None
    channel: str = Channel.WEB.value
    received_at: datetime | date | None = None
    subject: SubjectIn = Field(default_factory=SubjectIn)
    agent: AgentIn | None = None
    corrections: list[CorrectionIn] = Field(default_factory=list)
    # Why a request received more than Policy.max_backdate_days ago is logged only now (e.g.
    # "letter found in the post room"): required then, recorded in the RequestLogged event.
    backdated_reason: str | None = None
    # An appeal (type "appeal") names the refused request it appeals: its reference.
    appeal_of: str | None = None
    # The language of the subject's letters (en, de, fr, es); English when not given.
    language: str | None = None

    @classmethod
    def parse(cls, data: Any) -> Submission:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False)]
            raise InvalidInput("the request is malformed", problems) from None


@dataclass(frozen=True)
class LogResult:
    """The request just logged (always a new one, with its own reference) and its dates."""

    request: PrivacyRequest
    deadline: Deadline


def _collect(problems: list[str], fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except InvalidInput as exc:
        problems.extend(exc.problems or [str(exc)])
        return None


def _received(value: datetime | date | None, now: datetime, zone: ZoneInfo) -> datetime:
    if value is None:
        return now.astimezone(zone)
    if isinstance(value, datetime):
        # A time without an offset is read in the organisation's timezone.
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return datetime.combine(value, time(0, 0), tzinfo=zone)


def _appealed_request(ctx: ServiceContext, sub: Submission, problems: list[str]) -> PrivacyRequest | None:
    """The refused request an appeal names (``appeal_of``), if the submission is an appeal and
    the request can be appealed: it exists, it was refused (denied), and its regime gives an
    appeal. Problems name the reference only as the caller typed it was malformed or not."""
    if sub.appeal_of is None:
        return None
    if sub.type != "appeal":
        problems.append("appeal_of: only an appeal names a refused request")
        return None
    ref = _collect(problems, parse_reference, sub.appeal_of)
    if ref is None:
        problems[-1] = "appeal_of: " + problems[-1].split(": ", 1)[-1]
        return None
    with ctx.uow() as uow:
        try:
            appealed = uow.requests.facts(uow.requests.id_for_reference(ref))
        except NotFound:
            problems.append(f"appeal_of: no request {ref}")
            return None
    if appealed.type.value == "appeal":
        problems.append(f"appeal_of: {ref} is itself an appeal; its decision is final here")
        return None
    if appealed.status is not Status.DENIED:
        problems.append(f"appeal_of: {ref} was not refused (it is {appealed.status.value}); only a refusal can be appealed")
        return None
    if get_regime(appealed.regime).appeal is None:
        problems.append(f"appeal_of: {appealed.regime} gives no right to appeal a refusal")
        return None
    return appealed


def _same_consumer(ctx: ServiceContext, request_id: str, emails: list[str], phone: str | None) -> bool:
    with ctx.uow() as uow:
        refused = uow.requests.get(request_id).subject
    return bool(set(emails) & set(refused.emails)) or (phone is not None and phone == refused.phone)


def validate(sub: Submission, ctx: ServiceContext, now: datetime) -> tuple[PrivacyRequest, Deadline]:
    problems: list[str] = []
    appealed = _appealed_request(ctx, sub, problems)
    if appealed is not None and sub.regime is None:
        # An appeal is under the law of the request it appeals, in the same place.
        sub = sub.model_copy(update={"regime": appealed.regime, "country": appealed.country, "subdivision": appealed.subdivision})
    regime = _collect(problems, get_regime, sub.regime) if sub.regime else None
    if appealed is not None and regime is not None and regime.code != appealed.regime:
        problems.append(f"regime: an appeal is under the regime of the request it appeals ({appealed.regime})")
    if sub.regime is None:
        # No regime named: the place picks it (US + state -> that state's law), as on the web form.
        picked = regime_for_place(sub.country, sub.subdivision)
        if picked is not None:
            regime = get_regime(picked)
        else:
            problems.append("regime: required (no regime the engine knows covers the given country and subdivision)")
    rtype = _collect(problems, parse_request_type, sub.type) if sub.type else None
    if sub.type is None:
        problems.append("type: required")
    zone = ctx.policy.timezone
    try:
        received = _received(sub.received_at, now, zone)
        received_on = receipt_date(received, zone)
        received.astimezone(UTC)  # how it is stored
    except OverflowError:  # e.g. 9999-12-31T23:59-12:00: past the last representable instant
        problems.append("received_at: out of range")
        received, received_on = now, receipt_date(now, zone)
    else:
        if received > now + _FUTURE_SKEW:
            problems.append("received_at: lies in the future")
        elif received_on < _EARLIEST_RECEIPT:
            problems.append(f"received_at: before {_EARLIEST_RECEIPT.isoformat()}")
    backdated_reason = _collect(problems, clean_text, sub.backdated_reason, "backdated_reason", limit=500)
    oldest = now - timedelta(days=ctx.policy.max_backdate_days)
    if received < oldest and not backdated_reason and received_on >= _EARLIEST_RECEIPT:
        problems.append(
            f"received_at: more than {ctx.policy.max_backdate_days} days ago (its deadlines may have passed); "
            "give backdated_reason to log it anyway"
        )
    country = subdivision = None
    if regime is not None:
        jurisdiction = _collect(problems, resolve_jurisdiction, regime, sub.country, sub.subdivision, required=True)
        if jurisdiction is not None:
            country, subdivision = jurisdiction
        if not any(p.startswith("received_at") for p in problems):  # a date already refused says enough
            _collect(problems, check_in_force, regime, received_on)
        if rtype is not None and regime.in_force(received_on) and not regime.provides(rtype, received_on):
            problems.append(f"type: {regime.code} gives no {rtype.value} right for a request received on {received.date()}")
    scope: AccessScope | None = None
    if sub.access_scope is not None:
        try:
            scope = AccessScope(sub.access_scope)
        except ValueError:
            problems.append("access_scope: must be one of " + ", ".join(s.value for s in AccessScope))
    if regime is not None and rtype is not None:
        if rtype.value == "access" and regime.access_scopes and scope is None:
            problems.append(
                f"access_scope: {regime.code} distinguishes " + " and ".join(s.value for s in regime.access_scopes) + "; say which"
            )
        if scope is not None and (rtype.value != "access" or scope not in regime.access_scopes):
            problems.append(f"access_scope: not used for a {rtype.value} request under {regime.code}")
    try:
        channel = Channel(sub.channel)
    except ValueError:
        channel = Channel.WEB
        problems.append("channel: must be one of " + ", ".join(c.value for c in Channel))
    s = sub.subject
    name = _collect(problems, clean_text, s.name, "subject.name", required=True)
    emails: list[str] = []
    for e in s.emails:
        ok = _collect(problems, normalise_email, e)
        if ok and ok not in emails:
            emails.append(ok)
    phone = _collect(problems, clean_text, s.phone, "subject.phone", limit=40)
    address = _collect(problems, clean_text, s.postal_address, "subject.postal_address", multiline=True)
    account = _collect(problems, clean_text, s.account_id, "subject.account_id", limit=200)
    extra = {}
    for k, v in s.extra.items():
        key = _collect(problems, clean_text, k, "subject.extra key", limit=100)
        val = _collect(problems, clean_text, v, "subject.extra value")
        if key and val:
            extra[key] = val
    if not (emails or phone or address):
        problems.append("subject: at least one of emails, phone or postal_address is required to reply")
    agent = None
    if sub.agent is not None:
        a_name = _collect(problems, clean_text, sub.agent.name, "agent.name", required=True)
        a_email = _collect(problems, normalise_email, sub.agent.email) if sub.agent.email else None
        try:
            a_kind = AgentKind(sub.agent.kind)
        except ValueError:
            a_kind = AgentKind.AUTHORIZED_AGENT
            problems.append("agent.kind: must be one of " + ", ".join(k.value for k in AgentKind))
        a_org = _collect(problems, clean_text, sub.agent.organisation, "agent.organisation")
        if a_name:
            agent = AuthorizedAgent(a_name, a_email, a_kind, a_org)
    corrections: list[Correction] = []
    for c in sub.corrections:
        ok = _collect(problems, make_correction, c.attribute, c.value)
        if ok is not None:
            if any(x.attribute == ok.attribute for x in corrections):
                problems.append(f"corrections.{ok.attribute}: named twice")
            corrections.append(ok)
    if rtype is not None and rtype.value == "correction" and not sub.corrections:
        problems.append("corrections: a correction request needs at least one attribute and its correct value")
    if rtype is not None and rtype.value != "correction" and sub.corrections:
        problems.append(f"corrections: only a correction request carries corrections, not a {rtype.value} request")
    if len(sub.corrections) > MAX_CORRECTIONS:
        problems.append(f"corrections: at most {MAX_CORRECTIONS}")
    # An attribute no system can correct would only be found out at sign-off. An empty data map
    # says nothing about what can be corrected (a fresh install, tests of intake alone, a
    # company whose systems are all corrected by hand): then nothing is refused here.
    # The map is read only when there is something to check (reading it imports every
    # connector type's model: issue 13, item 8).
    systems = tuple(ctx.data_map) if corrections else ()
    if systems:
        from dsar.connectors.schema import correctable_attributes  # the data map's models, loaded with it

        correctable = correctable_attributes(systems)
        for wanted in corrections:
            if wanted.attribute not in correctable:
                problems.append(f"corrections.{wanted.attribute}: no system of the data map can correct this attribute")
    if appealed is not None and not _same_consumer(ctx, appealed.id, emails, phone):
        # The outcome letter goes to the appeal's contact: only the consumer who was refused
        # (reached the same way) may appeal, or anyone knowing a reference would read the reasons.
        problems.append("subject: an appeal gives an email or phone of the refused request")
    if rtype is not None and rtype.value == "appeal" and appealed is None and not any(p.startswith("appeal_of") for p in problems):
        problems.append("appeal_of: an appeal names the reference of the refused request it appeals")
    deadlines = None
    if not problems and regime is not None and rtype is not None:
        deadlines = _collect(
            problems,
            compute_deadlines,
            regime.code,
            received_on,
            country=country,
            subdivision=subdivision,
            request_type=rtype,
            target_days=ctx.policy.reasonable_period_days,
        )
    language = (sub.language or "en").strip().lower()
    if language not in LETTER_LANGUAGES:
        problems.append(f"language: one of {', '.join(LETTER_LANGUAGES)}")
    if problems or deadlines is None or regime is None or rtype is None or name is None or country is None:
        raise InvalidInput("the request cannot be logged", problems)
    request = PrivacyRequest(
        id=new_request_id(),
        reference="",
        type=rtype,
        regime=regime.code,
        country=country,
        subdivision=subdivision,
        channel=channel,
        received_at=received,
        due=deadlines.due,
        access_scope=scope,
        agent=agent,
        logged_at=now,
        linked_to=appealed.id if appealed is not None else None,
        corrections=tuple(corrections),
        language=language,
        subject=SubjectIdentity(
            name=name, emails=tuple(emails), phone=phone, postal_address=address, account_id=account, extra=tuple(sorted(extra.items()))
        ),
    )
    return request, deadlines


def log_request(ctx: ServiceContext, raw: Any) -> LogResult:
    """Validate and store a new request: every valid submission is a request of its own, with
    its own reference and its own clock.

    Intake never links a submission to an earlier request: nothing given here is verified yet,
    and linking on an unverified address let anyone swallow another person's request by naming
    their address (security probe, item 4). Repeats are linked after verification, between
    requests verified with the same contact (:func:`dsar.services.processing.confirm_code`).
    """
    now = ctx.clock()
    sub = raw if isinstance(raw, Submission) else Submission.parse(raw)
    candidate, deadline = validate(sub, ctx, now)
    with ctx.uow() as uow:
        number = uow.requests.next_reference_number(now.year)
        request = replace(candidate, reference=format_reference(now.year, number))
        uow.requests.add(request, deadline, now)
        uow.audit.append(
            [
                RequestLogged(
                    request.id,
                    now,
                    request.reference,
                    request.type.value,
                    request.regime,
                    request.channel.value,
                    backdated_reason=sub.backdated_reason.strip() if sub.backdated_reason else None,
                    language=request.language,
                ),
                DeadlinesComputed(
                    request.id, now, deadline.due, deadline.acknowledge_by, deadline.extension_notice_by, deadline.extended_due
                ),
            ]
        )
        uow.commit()
        return LogResult(request, deadline)


__all__ = ["DsarError", "LogResult", "Submission", "log_request", "validate"]
