"""The read side: what entry points show of requests, as typed read models (frozen
dataclasses, never rows), plus the one small write that goes with running them (recording a
request's flow run).

Personal data leaves here masked (``J*** D***``, ``j***@example.com``) unless a caller asks to
reveal it, and revealing is itself recorded: a ``SubjectDataViewed`` event in the request's
audit trail, saying through which entry point.

Every repository call of the read side is in this module, so that a change of the persistence
API is made here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dsar.domain.alerts import alert_state
from dsar.domain.events import HoldChanged, SubjectDataViewed
from dsar.domain.regimes import parse_request_type
from dsar.domain.request import PrivacyRequest, Status, parse_reference, reference_search
from dsar.services.context import ServiceContext
from dsar.services.ports import RequestQuery, UnitOfWork


def mask(value: str | None) -> str | None:
    """Enough to recognise, not enough to leak: 'Jane Doe' -> 'J*** D***', an email keeps its domain."""
    if value is None:
        return None
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    return " ".join(w[:1] + "***" for w in value.split())


# --- read models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRef:
    """A request as the entry points address it: ids and where it stands, no personal data."""

    id: str
    reference: str
    status: Status
    on_hold: bool
    duplicate: bool = False  # withdrawn as the duplicate of an earlier request (same verified contact)


@dataclass(frozen=True)
class DeadlineView:
    due: date
    acknowledge_by: date | None
    acknowledged_at: datetime | None
    extension_notice_by: date | None
    extended_due: date | None
    statutory_due: date | None
    extended: bool
    paused_days: int
    clock_stopped: bool


@dataclass(frozen=True)
class SubjectView:
    """The subject's data, masked unless revealed. ``extra`` are further data points as
    (name, value) pairs."""

    name: str | None
    emails: tuple[str | None, ...]
    phone: str | None
    postal_address: str | None
    account_id: str | None
    extra: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class AgentView:
    name: str | None
    email: str | None
    kind: str


@dataclass(frozen=True)
class CorrectionView:
    attribute: str
    value: str | None


@dataclass(frozen=True)
class PlanStepView:
    system: str
    operation: str
    matches: int
    detail: str


@dataclass(frozen=True)
class ReceiptView:
    system: str
    operation: str
    records: int
    at: datetime


@dataclass(frozen=True)
class RequestView:
    """One request as `dsar request show` prints it. ``revealed`` says whether the personal
    data in ``subject``, ``agent`` and ``corrections`` is in clear (and so was audited)."""

    id: str
    reference: str
    type: str
    access_scope: str | None
    regime: str
    country: str
    subdivision: str | None
    channel: str
    received_at: datetime
    status: Status
    on_hold: bool
    deadline: DeadlineView
    subject: SubjectView
    agent: AgentView | None
    linked_to: str | None  # the reference of the earlier request this one duplicates
    corrections: tuple[CorrectionView, ...]
    plan: tuple[PlanStepView, ...]
    receipts: tuple[ReceiptView, ...]
    flow_run_id: str | None
    revealed: bool
    language: str = "en"  # the language of the subject's letters
    hold_reason: str | None = None  # why it waits, while on hold (e.g. a letter template not approved)


@dataclass(frozen=True)
class RequestSummary:
    """A line of the queue (no personal data)."""

    id: str
    reference: str
    type: str
    regime: str
    status: Status
    on_hold: bool
    due: date
    received_at: datetime
    flow_run_id: str | None = None  # the run last started for it; None: it never had one


@dataclass(frozen=True)
class EventView:
    """An event of a request's audit trail, its details decrypted (``{"shredded": true}``
    once the request's key is destroyed)."""

    seq: int
    kind: str
    at: datetime
    details: dict[str, Any]


@dataclass(frozen=True)
class AlertView:
    """A deadline alert raised by the watch, and its delivery."""

    reference: str
    kind: str
    due: date
    days_left: int
    notify: bool
    raised_at: datetime
    delivered_at: datetime | None
    attempts: int
    # pending, failing, delivered or superseded (covered by a more urgent alert: never sent)
    state: str = "pending"


# --- queries ----------------------------------------------------------------------------------


def _ref(r: PrivacyRequest) -> RequestRef:
    return RequestRef(r.id, r.reference, r.status, r.on_hold, r.linked_to is not None)


def lookup(ctx: ServiceContext, reference: str) -> RequestRef:
    """The request with this reference (``DSR-2026-000123``); InvalidInput for a malformed
    reference, NotFound for an unknown one."""
    ref = parse_reference(reference)
    with ctx.uow() as uow:
        return _ref(uow.requests.facts(uow.requests.id_for_reference(ref)))


def lookup_id(ctx: ServiceContext, request_id: str) -> RequestRef:
    """The request with this id; NotFound for an unknown one."""
    with ctx.uow() as uow:
        return _ref(uow.requests.facts(request_id))


def current_hold_reason(uow: UnitOfWork, request_id: str) -> str | None:
    """The reason of the request's latest hold, None when its latest hold event released it."""
    for e in reversed(uow.audit.events(request_id)):
        if e.kind == HoldChanged.kind:
            return str(e.details.get("reason", "")) if e.details.get("on_hold") == "true" else None
    return None


def request_view(ctx: ServiceContext, reference: str, *, reveal: bool = False, via: str = "cli") -> RequestView:
    """One request. Its subject's data is masked unless ``reveal``, which is recorded in the
    audit trail as ``SubjectDataViewed`` (``via`` names the entry point)."""
    ref = parse_reference(reference)
    show: Callable[[str | None], str | None] = (lambda v: v) if reveal else mask
    with ctx.uow() as uow:
        r = uow.requests.get(uow.requests.id_for_reference(ref))
        d = uow.deadlines.get(r.id)
        plan = tuple(PlanStepView(s.system, s.operation.value, s.matches, s.describe()) for s in uow.plans.get(r.id))
        receipts = tuple(ReceiptView(x.system, x.operation, x.records, x.at) for x in uow.plans.receipts(r.id))
        linked = uow.requests.references({r.linked_to}).get(r.linked_to) if r.linked_to else None
        run_id = uow.requests.flow_run_id(r.id)
        hold_reason = current_hold_reason(uow, r.id) if r.on_hold else None
        if reveal:
            now = ctx.clock()
            uow.audit.append([SubjectDataViewed(r.id, now, via)])
            uow.commit()
    s = r.subject
    return RequestView(
        id=r.id,
        reference=r.reference,
        type=r.type.value,
        access_scope=r.access_scope.value if r.access_scope else None,
        regime=r.regime,
        country=r.country,
        subdivision=r.subdivision,
        channel=r.channel.value,
        received_at=r.received_at,
        status=r.status,
        on_hold=r.on_hold,
        deadline=DeadlineView(
            due=d.due,
            acknowledge_by=d.acknowledge_by,
            acknowledged_at=d.acknowledged_at,
            extension_notice_by=d.extension_notice_by,
            extended_due=d.extended_due,
            statutory_due=d.statutory_due,
            extended=d.extended,
            paused_days=d.paused_days,
            clock_stopped=d.clock_stopped,
        ),
        subject=SubjectView(
            name=show(s.name),
            emails=tuple(show(e) for e in s.emails),
            phone=show(s.phone),
            postal_address=show(s.postal_address),
            account_id=show(s.account_id),
            extra=tuple((k, show(v)) for k, v in s.extra),
        ),
        agent=None if r.agent is None else AgentView(show(r.agent.name), show(r.agent.email), r.agent.kind.value),
        linked_to=linked,
        corrections=tuple(CorrectionView(c.attribute, show(c.value)) for c in r.corrections),
        plan=plan,
        receipts=receipts,
        flow_run_id=run_id,
        language=r.language,
        hold_reason=hold_reason,
        revealed=reveal,
    )


def request_list(
    ctx: ServiceContext,
    status: Status | None = None,
    due_before: date | None = None,
    limit: int = 200,
    *,
    regime: str | None = None,
    after: tuple[date, str] | None = None,
    request_type: str | None = None,
    reference: str | None = None,
    offset: int = 0,
    search: str | None = None,
) -> list[RequestSummary]:
    """The queue, soonest due first (then by reference); filtered by status, due date, regime,
    type, exact reference or what staff typed to find one (``search``: a reference, its
    beginning, year and number, or a number: :func:`dsar.domain.request.reference_search`;
    InvalidInput for a malformed reference or search, or an unknown type), a page at a time:
    ``offset`` rows skipped, or ``after`` = the (due, reference) of the last line already shown
    continues the list after it."""
    rtype = parse_request_type(request_type) if request_type is not None else None
    ref = parse_reference(reference) if reference is not None else None
    like = None
    if search is not None:
        exact, like = reference_search(search)
        if exact is not None and ref is not None and exact != ref:
            return []
        ref = exact or ref
    query = RequestQuery(
        status, due_before, limit, regime=regime, after=after, request_type=rtype, reference=ref, reference_like=like, offset=offset
    )
    with ctx.uow() as uow:
        return [
            RequestSummary(
                r.id, r.reference, r.type.value, r.regime, r.status, r.on_hold, r.due, r.received_at, uow.requests.flow_run_id(r.id)
            )
            for r in uow.requests.query(query)
        ]


def request_events(ctx: ServiceContext, reference: str) -> list[EventView]:
    """A request's audit trail, oldest first."""
    ref = parse_reference(reference)
    with ctx.uow() as uow:
        rid = uow.requests.id_for_reference(ref)
        return [EventView(e.seq, e.kind, e.at, e.details) for e in uow.audit.events(rid)]


def alerts(ctx: ServiceContext, reference: str | None = None, limit: int = 200) -> list[AlertView]:
    """The deadline alerts raised, newest first; of one request when ``reference`` is given."""
    ref = parse_reference(reference) if reference is not None else None
    with ctx.uow() as uow:
        rid = uow.requests.id_for_reference(ref) if ref is not None else None
        return [
            AlertView(
                a.reference,
                a.kind,
                a.due,
                a.days_left,
                a.notify,
                a.raised_at,
                a.delivered_at,
                a.attempts,
                alert_state(a.notify, a.delivered_at, a.last_error),
            )
            for a in uow.alerts.recent(rid, limit)
        ]


def flow_run_id(ctx: ServiceContext, request_id: str) -> str | None:
    """The flow run last started for a request, if any."""
    with ctx.uow() as uow:
        return uow.requests.flow_run_id(request_id)


# --- the one command of the read side ---------------------------------------------------------


def record_flow_run(ctx: ServiceContext, request_id: str, run_id: str) -> None:
    """Remember the flow run now carrying a request (the newest one started)."""
    with ctx.uow() as uow:
        uow.requests.set_flow_run(request_id, run_id)
        uow.commit()
