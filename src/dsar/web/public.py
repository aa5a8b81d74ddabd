"""The public request form (``/``) and its thank-you page (``/thanks``).

A subject says what they want (see, delete or correct their data), where they live (which
picks the regime: :func:`dsar.domain.regimes.regime_for_place`, else the organisation's
default), who they are, and optionally who acts for them. On submit: the form is checked
(content type, UTF-8, CSRF: :func:`dsar.web.forms.checked_form`), rate limits apply (per source
address and per subject email), then the one intake (:func:`dsar.services.submissions.submit`,
channel ``web``) logs the request; its run is started once the answer has gone.

Every valid submission is a request of its own (the intake never links: repeats are linked
only after verification, between requests verified with the same contact), so the thank-you
page shows the request's own reference, with the same words whatever happens next; it tells
nobody whether someone else asked. Its address carries only a signed, short-lived token naming
the request type and that reference, and nothing personal.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dsar.domain.errors import InvalidInput
from dsar.domain.escalations import EscalationPoint
from dsar.domain.regimes import REGIMES, AccessScope, RequestType, regime_for_place
from dsar.domain.request import MAX_TEXT, AgentKind, normalise_email, parse_reference
from dsar.services.escalations import escalate
from dsar.services.submissions import Submitted, start_run, submit
from dsar.web.context import WebContext
from dsar.web.forms import Form, checked_form
from dsar.web.i18n import Translator
from dsar.web.places import (
    COUNTRIES,
    OTHER_COUNTRY,
    SUBDIVISION_REQUIRED,
    SUBDIVISIONS,
    country_options,
    split_subdivision,
    subdivision_groups,
)
from dsar.web.ratelimit import DistinctWithin, Limit, RateLimiter
from dsar.web.signing import BadToken, sign, unsign
from dsar.web.templating import language, render

log = logging.getLogger("dsar.web.public")

CORRECTION_ROWS = 5
# What a subject can ask to correct: the attributes the data maps' ``correctable`` fields use.
CORRECTABLE = ("name", "email", "phone", "street", "city", "postcode", "country")
THANKS_PURPOSE = "public-thanks"
THANKS_MAX_AGE = timedelta(hours=1)
FIELD_LIMITS = {"name": 200, "email": 254, "phone": 40, "postal_address": MAX_TEXT, "account_id": 200}
AGENT_FIELDS = ("agent_name", "agent_email", "agent_kind", "agent_organisation")

# The types a person picks on the form; an appeal names the refused request (API, support).
FORM_TYPES = tuple(t.value for t in RequestType if t is not RequestType.APPEAL)

# intake's problem prefix -> the form field it belongs to
_PROBLEM_FIELDS = {
    "type": "type",
    "regime": "country",
    "country": "country",
    "subdivision": "subdivision",
    "access_scope": "access_scope",
    "subject.name": "name",
    "subject.emails": "email",
    "subject.phone": "phone",
    "subject.postal_address": "postal_address",
    "subject.account_id": "account_id",
    "subject": "email",
    "agent.name": "agent_name",
    "agent.email": "agent_email",
    "agent.kind": "agent_kind",
    "agent.organisation": "agent_organisation",
    "corrections": "correction_attribute_1",
    "appeal_of": "appeal_of",
}


def _limiter(request: Request) -> RateLimiter:
    web = request.app.state.web
    limiter = web.extra.get("public_limiter")
    if limiter is None:
        s = web.settings
        limiter = web.extra.setdefault(
            "public_limiter",
            RateLimiter({"address": Limit(s.web_rate_per_address, 3600), "subject": Limit(s.web_rate_per_subject, 86400)}),
        )
    assert isinstance(limiter, RateLimiter)
    return limiter


def _message_for(problem: str) -> str:
    """A catalog key for what intake found wrong (its text is English and technical)."""
    text = problem.partition(":")[2]
    if "required" in text and "at least one" in text:
        return "err.contact"
    if "longer than" in text:
        return "err.too_long"
    if "control characters" in text or "invisible" in text:
        return "err.characters"
    if "line breaks" in text:
        return "err.one_line"
    if "valid email" in text:
        return "err.email"
    if "gives no" in text:
        return "err.type.unavailable"
    if "named twice" in text:
        return "err.corr.twice"
    if "needs at least one" in text:
        return "err.corr.none"
    if problem.startswith("appeal_of") or problem.startswith("subject: an appeal"):
        return "err.appeal_of"
    return "err.invalid"


def _field_for(problem: str, form_values: dict[str, Any]) -> str:
    head = problem.partition(":")[0].strip()
    if head.startswith("corrections.") and head != "corrections.attribute":
        attribute = head.split(".", 1)[1]
        for i in range(1, CORRECTION_ROWS + 1):
            if form_values.get(f"correction_attribute_{i}") == attribute:
                return f"correction_value_{i}"
    if head.startswith("agent.") and "valid email" in problem:
        return "agent_email"
    return _PROBLEM_FIELDS.get(head, _PROBLEM_FIELDS.get(head.split(".")[0], "form"))


class _Checked:
    """The form read into values to show again, problems per field, and (when clean) the raw
    submission for intake."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}
        self.raw: dict[str, Any] | None = None
        self.email: str | None = None

    def error(self, field: str, key: str) -> None:
        self.errors.setdefault(field, key)


def _read(form: Form, web: Any) -> _Checked:
    c = _Checked()
    v = c.values
    for name in ("type", "access_scope", "country", "subdivision", *FIELD_LIMITS, *AGENT_FIELDS):
        v[name] = form.text(name) or ""
    for i in range(1, CORRECTION_ROWS + 1):
        v[f"correction_attribute_{i}"] = form.text(f"correction_attribute_{i}") or ""
        v[f"correction_value_{i}"] = form.text(f"correction_value_{i}") or ""

    # An appeal of a refused request (the link in the refusal letter carries its reference): the
    # appealed request's regime and place apply, so the place is not asked.
    appeal = bool(form.text("appeal_of"))
    v["appeal_of"] = appeal_reference(form.text("appeal_of")) or ""
    if appeal:
        rtype = RequestType.APPEAL.value if v["type"] == RequestType.APPEAL.value else None
        if not v["appeal_of"]:
            c.error("appeal_of", "err.appeal_of")
    else:
        rtype = v["type"] if v["type"] in FORM_TYPES else None
    if rtype is None:
        c.error("type", "err.type")

    # Where they live -> regime, country, subdivision
    country = v["country"].upper()
    regime = subdivision = None
    if appeal:
        pass  # the appealed request's place
    elif not v["country"]:
        c.error("country", "err.country")
    else:
        place = split_subdivision(v["subdivision"])
        if country in SUBDIVISION_REQUIRED and place is None:
            c.error("subdivision", "err.subdivision")
        elif place is not None and place[0] != country:
            c.error("subdivision", "err.subdivision.mismatch")
        elif place is not None:
            subdivision = place[1]
        if country in COUNTRIES:
            regime = regime_for_place(country, subdivision, on=web.ctx.clock().date())  # a law not yet in force: the default
        if regime is None:  # another country, a place no regime covers, or a forged value
            s = web.settings
            regime, country, subdivision = s.web_default_regime, s.web_default_country.upper(), s.web_default_subdivision
        elif country not in SUBDIVISIONS:
            subdivision = None

    scope: str | None = None
    if rtype == RequestType.ACCESS.value and regime in REGIMES and REGIMES[regime].access_scopes:
        if v["access_scope"] in {s.value for s in REGIMES[regime].access_scopes}:
            scope = v["access_scope"]
        else:
            c.error("access_scope", "err.access_scope")

    if not v["name"]:
        c.error("name", "err.name")
    for name, limit in FIELD_LIMITS.items():
        if len(v[name]) > limit:
            c.error(name, "err.too_long")
    if v["email"]:
        try:
            c.email = normalise_email(v["email"])
        except InvalidInput:
            c.error("email", "err.email")
    elif not (v["phone"] or v["postal_address"]):
        c.error("email", "err.contact")

    agent: dict[str, Any] | None = None
    if any(v[f] for f in ("agent_name", "agent_email", "agent_organisation")):
        if not v["agent_name"]:
            c.error("agent_name", "err.agent_name")
        if v["agent_email"]:
            try:
                normalise_email(v["agent_email"])
            except InvalidInput:
                c.error("agent_email", "err.email")
        kind = v["agent_kind"] if v["agent_kind"] in {k.value for k in AgentKind} else AgentKind.AUTHORIZED_AGENT.value
        agent = {"name": v["agent_name"], "email": v["agent_email"] or None, "kind": kind, "organisation": v["agent_organisation"] or None}

    corrections: list[dict[str, str]] = []
    if rtype == RequestType.CORRECTION.value:
        seen: set[str] = set()
        for i in range(1, CORRECTION_ROWS + 1):
            attribute, value = v[f"correction_attribute_{i}"], v[f"correction_value_{i}"]
            if not attribute and not value:
                continue
            if attribute not in CORRECTABLE:
                c.error(f"correction_attribute_{i}", "err.corr.attribute")
            elif attribute in seen:
                c.error(f"correction_attribute_{i}", "err.corr.twice")
            if not value:
                c.error(f"correction_value_{i}", "err.corr.value")
            elif len(value) > MAX_TEXT:
                c.error(f"correction_value_{i}", "err.too_long")
            seen.add(attribute)
            corrections.append({"attribute": attribute, "value": value})
        if not corrections:
            c.error("correction_attribute_1", "err.corr.none")

    if c.errors:
        return c
    if appeal:
        c.raw = {"type": rtype, "appeal_of": v["appeal_of"], "channel": "web", "agent": agent}
        c.raw["subject"] = {
            "name": v["name"],
            "emails": [v["email"]] if v["email"] else [],
            "phone": v["phone"] or None,
            "postal_address": v["postal_address"] or None,
            "account_id": v["account_id"] or None,
        }
        return c
    c.raw = {
        "type": rtype,
        "regime": regime,
        "access_scope": scope,
        "country": country,
        "subdivision": subdivision,
        "channel": "web",
        "subject": {
            "name": v["name"],
            "emails": [v["email"]] if v["email"] else [],
            "phone": v["phone"] or None,
            "postal_address": v["postal_address"] or None,
            "account_id": v["account_id"] or None,
        },
        "agent": agent,
        "corrections": corrections,
    }
    return c


# Fields in page order: the error summary lists problems in the order a person meets them.
FIELD_ORDER = (
    "appeal_of",
    "type",
    "country",
    "subdivision",
    "access_scope",
    "name",
    "email",
    "phone",
    "postal_address",
    "account_id",
    *(f"correction_{part}_{i}" for i in range(1, CORRECTION_ROWS + 1) for part in ("attribute", "value")),
    *AGENT_FIELDS,
    "form",
)


def appeal_reference(value: str | None) -> str | None:
    """The reference an appeal names (``DSR-2026-000123``), or None when it is not one."""
    try:
        return parse_reference(value) if value else None
    except InvalidInput:
        return None


def _form_page(request: Request, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> Response:
    values = dict(values or {})
    appeal_of = appeal_reference(values.get("appeal_of") or request.query_params.get("appeal_of"))
    if appeal_of:  # the form of an appeal: the link in a refusal letter
        values.setdefault("type", RequestType.APPEAL.value)
        values["appeal_of"] = appeal_of
    lang = language(request)
    t = Translator(lang)
    errors = errors or {}
    contact = request.app.state.web.settings.privacy_contact
    messages = {f: t(k, contact=contact) for f, k in errors.items()}
    summary = [(f, messages[f]) for f in FIELD_ORDER if f in messages]
    return render(
        request,
        "public/form.html",
        status_code=422 if errors else 200,
        values=values or {},
        errors=messages,
        summary=summary,
        countries=country_options(t),
        other_country=OTHER_COUNTRY,
        subdivision_groups=subdivision_groups(t),
        subdivision_countries=sorted(SUBDIVISIONS),
        types=[RequestType.APPEAL.value] if appeal_of else list(FORM_TYPES),
        appeal_of=appeal_of,
        scopes=[s.value for s in AccessScope],
        agent_kinds=[k.value for k in AgentKind],
        correctable=CORRECTABLE,
        correction_rows=range(1, CORRECTION_ROWS + 1),
        agent_open=any((values or {}).get(f) for f in ("agent_name", "agent_email", "agent_organisation"))
        or any(f in errors for f in AGENT_FIELDS),
        limits=FIELD_LIMITS,
        max_text=MAX_TEXT,
        # an appeal's form answering its post (at /?lang=LANG): the switch stays on the appeal
        switch_keep={"appeal_of": appeal_of} if appeal_of else None,
    )


BURST_WINDOW_SECONDS = 86_400
BURST_REASON = "burst: requests for {n} different subjects from one sender within 24 hours (docs/threats.md, scenario 14)"


def _burst(request: Request, source: str, subject: str) -> int:
    """How many different subjects this source sent requests for within 24 hours (this one included)."""
    web = request.app.state.web
    seen = web.extra.get("public_bursts")
    if seen is None:
        seen = web.extra.setdefault("public_bursts", DistinctWithin(BURST_WINDOW_SECONDS))
    assert isinstance(seen, DistinctWithin)
    return seen.add(RateLimiter.digest(source), RateLimiter.digest(subject))


def _start_run(web: WebContext, result: Submitted, burst: int = 0) -> None:
    """What :func:`submit` does with ``start=True``, once the subject has their answer. A request
    from a sender of a burst goes to legal first (held until legal decides; the answer the
    sender saw is the same)."""
    limit = web.settings.web_burst_subjects
    if limit and burst > limit:
        try:
            escalate(
                web.ctx, result.request.id, EscalationPoint.VERIFICATION_RISK, BURST_REASON.format(n=burst), by="dsar", via="public form"
            )
        except Exception as exc:  # noqa: BLE001 - the request is logged; the console shows it either way
            log.warning("public form: request %s: the burst flag could not be raised (%s)", result.request.reference, type(exc).__name__)
    _, problem = start_run(web.ctx, web.orchestrator, result.request.id)
    if problem is not None:
        log.warning("public form: request %s logged, no run started: %s", result.request.reference, problem)


def _too_many(request: Request, retry_after: int) -> Response:
    minutes = max(1, math.ceil(retry_after / 60))
    wait = ("slow.hours", math.ceil(minutes / 60)) if minutes > 120 else ("slow.minutes", minutes)
    response = render(request, "public/slow_down.html", status_code=429, wait_key=wait[0], wait_n=wait[1])
    response.headers["Retry-After"] = str(retry_after)
    return response


def router() -> APIRouter:
    r = APIRouter(include_in_schema=False)

    @r.get("/")
    async def form_page(request: Request) -> Response:
        return _form_page(request)

    @r.post("/")
    async def form_submit(request: Request) -> Response:
        web = request.app.state.web
        form = await checked_form(request)
        limiter = _limiter(request)
        source = request.client.host if request.client else "unknown"
        wait = limiter.check("address", RateLimiter.digest(source))
        if wait is not None:
            return _too_many(request, wait)
        checked = _read(form, web)
        if checked.email is not None:
            wait = limiter.check("subject", RateLimiter.digest(checked.email))
            if wait is not None:
                return _too_many(request, wait)
        if checked.raw is None:
            return _form_page(request, checked.values, checked.errors)
        # The subject's letters are written in the language the form was filled in.
        checked.raw["language"] = language(request)
        try:
            # Logged now; the run is started after the answer has gone (below): the answer never
            # waits for the orchestrator, and reads the same whatever happens next (threats 9).
            result = await run_in_threadpool(submit, web.ctx, web.orchestrator, checked.raw, start=False)
        except InvalidInput as exc:
            errors: dict[str, str] = {}
            for problem in exc.problems or [str(exc)]:
                errors.setdefault(_field_for(problem, checked.values), _message_for(problem))
            return _form_page(request, checked.values, errors)
        # Every submission is a request of its own: its reference is the requester's own.
        token = sign(
            web.session_key, THANKS_PURPOSE, {"type": checked.raw["type"], "reference": result.request.reference}, datetime.now(UTC)
        )
        burst = _burst(request, source, checked.email or str(checked.raw.get("subject", {}).get("name", "")))
        start = BackgroundTask(_start_run, web, result, burst)
        return RedirectResponse(f"/thanks?lang={language(request)}&r={token}", status_code=303, background=start)

    @r.get("/thanks")
    async def thanks(request: Request) -> Response:
        web = request.app.state.web
        try:
            data = unsign(web.session_key, THANKS_PURPOSE, request.query_params.get("r") or "", THANKS_MAX_AGE, datetime.now(UTC))
        except BadToken:
            return RedirectResponse("/", status_code=303)
        rtype = data.get("type") if data.get("type") in {t.value for t in RequestType} else "access"
        reference = data.get("reference")
        try:
            reference = parse_reference(reference) if isinstance(reference, str) else None
        except InvalidInput:
            reference = None
        return render(request, "public/thanks.html", request_type=rtype, reference=reference, contact=web.settings.privacy_contact)

    return r
