"""A request's audit events in words, for the staff console's timeline.

Pure: an event's kind and its decrypted details in, a :class:`TimelineEntry` out (what
happened, the details that matter, who did it). An event kind this module does not know is
still shown: its name split into words and its details as ``key: value``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Details = Mapping[str, Any]


@dataclass(frozen=True)
class TimelineEntry:
    seq: int
    at: datetime
    kind: str
    title: str  # what happened, in words
    lines: tuple[str, ...]  # the details that matter
    who: str | None  # the person (or the system) who did it, when the event says


def words(kind: str) -> str:
    """``DeadlineAlertRaised`` -> ``Deadline alert raised``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", kind).lower()
    return spaced[:1].upper() + spaced[1:]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _status(value: Any) -> str:
    return str(value or "?").replace("_", " ")


def _opt(label: str, d: Details, key: str) -> list[str]:
    v = d.get(key)
    return [f"{label}: {_text(v)}"] if v not in (None, "", [], {}) else []


Rule = Callable[[Details], tuple[str, list[str], str | None]]


def _logged(d: Details) -> tuple[str, list[str], str | None]:
    return (
        f"Request logged ({d.get('type', '?')}, {d.get('regime', '?')})",
        [f"channel: {d.get('channel', '?')}"],
        None,
    )


def _deadlines(d: Details) -> tuple[str, list[str], str | None]:
    return (
        f"Deadlines set: due {d.get('due', '?')}",
        _opt("acknowledge by", d, "acknowledge_by")
        + _opt("extension notice by", d, "extension_notice_by")
        + _opt("if extended", d, "extended_due"),
        None,
    )


def _status_changed(d: Details) -> tuple[str, list[str], str | None]:
    return f"Status: {_status(d.get('from'))} → {_status(d.get('to'))}", _opt("reason", d, "reason"), d.get("by") or None


def _hold(d: Details) -> tuple[str, list[str], str | None]:
    on = str(d.get("on_hold", "")).lower() in ("true", "1", "yes")
    return ("Put on hold" if on else "Hold released"), _opt("reason", d, "reason"), d.get("by") or None


def _viewed(d: Details) -> tuple[str, list[str], str | None]:
    via = str(d.get("via", ""))
    who = via.partition(":")[2] or None
    return "Subject's data revealed", [f"through: {via.partition(':')[0] or via}"], who


def _code_sent(d: Details) -> tuple[str, list[str], str | None]:
    return f"One-time code sent by {d.get('channel', 'email')}", _opt("expires", d, "expires_at"), None


def _attempt(d: Details) -> tuple[str, list[str], str | None]:
    why = "expired code" if d.get("expired") else "wrong code"
    return f"Verification attempt failed ({why})", [f"attempt {d.get('attempt', '?')}"], None


def _receipt(d: Details) -> tuple[str, list[str], str | None]:
    return f"Receipt confirmed to the subject by {d.get('how', '?')}", _opt("note", d, "note"), d.get("by") or None


def _plan(d: Details) -> tuple[str, list[str], str | None]:
    steps = d.get("steps") or []
    lines = [f"{s.get('system', '?')}: {s.get('operation', '?')}, {s.get('matches', 0)} matched" for s in steps if isinstance(s, dict)]
    return f"Plan made ({len(lines)} system(s))", lines, None


def _sign_off(d: Details) -> tuple[str, list[str], str | None]:
    decision = d.get("decision", "?")
    titles = {"approve": "Legal approved the response", "deny": "Legal refused the request"}
    title = titles.get(str(decision), f"Sign-off: {decision}")
    lines = _opt("reason given to the subject", d, "reason") + _opt("in words", d, "reason_text") + _opt("internal note", d, "note")
    exempt = d.get("exemptions")
    if isinstance(exempt, list):
        lines += [f"kept out: {x.get('target', '?')} on {x.get('ground', '?')}" for x in exempt if isinstance(x, dict)]
    if d.get("verified_by") == "totp":
        lines.append("approver proven by an authenticator code")
    lines += _opt("given in", d, "via") + _opt("flow run", d, "flow_run")
    return title, lines, d.get("approver") or None


def _letter_sign_off(d: Details) -> tuple[str, list[str], str | None]:
    letter = str(d.get("letter", "?")).replace("_", " ")
    if d.get("decision") == "approve":
        title = f"Legal approved the {letter} letter"
    else:
        title = f"Legal returned the {letter} letter to the team (held)"
    lines = _opt("reason for the team", d, "reason") + _opt("internal note", d, "note")
    also = d.get("also")
    if isinstance(also, list) and also:
        lines.append("with: " + ", ".join(str(x).replace("_", " ") for x in also))
    if d.get("template"):
        lines.append(f"template {d['template']} version {str(d.get('template_version', ''))[:12]}")
    if d.get("verified_by") == "totp":
        lines.append("approver proven by an authenticator code")
    lines += _opt("given in", d, "via") + _opt("flow run", d, "flow_run")
    return title, lines, d.get("approver") or None


def _letter_lapsed(d: Details) -> tuple[str, list[str], str | None]:
    letter = str(d.get("letter", "?")).replace("_", " ")
    lines = [
        "the letter's templates changed after legal approved it, so it was not sent; it waits for a new approval",
        f"template {d.get('template', '?')}: approved {str(d.get('approved_version', ''))[:12]}, "
        f"now {str(d.get('current_version', ''))[:12]}",
    ]
    return f"Legal's approval of the {letter} letter lapsed", lines, None


def _sign_off_refused(d: Details) -> tuple[str, list[str], str | None]:
    lines = [f"attempt {d.get('attempt', '?')}"] + _opt("given in", d, "via")
    if d.get("approver_digest"):
        lines.append("the name given is no staff account (only a digest of it is kept)")
    if d.get("step") == "letter":
        return (
            f"Letter sign-off attempt refused ({str(d.get('reason', '?')).replace('_', ' ')}); the letter still waits",
            lines,
            d.get("approver") or None,
        )
    return f"Sign-off attempt refused ({str(d.get('reason', '?')).replace('_', ' ')}); still waiting", lines, d.get("approver") or None


def _exported(d: Details) -> tuple[str, list[str], str | None]:
    return f"Exported from {d.get('system', '?')}: {d.get('records', 0)} record(s)", [], None


def _counts(d: Details) -> list[str]:
    counts = d.get("counts") or {}
    return [f"{entity}: {_text(c)}" for entity, c in counts.items()] if isinstance(counts, dict) else []


def _kept_fields(d: Details) -> list[str]:
    """An erasure's entities anonymised but for fields legal kept: which were erased, which kept."""
    fields = d.get("fields") or {}
    if not isinstance(fields, dict):
        return []
    return [
        f"{entity}: anonymised {', '.join(map(str, per.get('anonymised', [])))}; kept {', '.join(map(str, per.get('kept', [])))}"
        for entity, per in fields.items()
        if isinstance(per, dict)
    ]


def _erased(d: Details) -> tuple[str, list[str], str | None]:
    return f"Erased in {d.get('system', '?')}", _counts(d) + _kept_fields(d) + _opt("counted", d, "counted"), None


def _corrected(d: Details) -> tuple[str, list[str], str | None]:
    return f"Corrected in {d.get('system', '?')}", _counts(d) + _opt("unchanged", d, "unchanged"), None


def _manual(d: Details) -> tuple[str, list[str], str | None]:
    return (
        f"Manual step in {d.get('system', '?')}: {d.get('outcome', '?')}",
        [f"{d.get('operation', '?')}, {d.get('records', 0)} record(s)"],
        d.get("person") or None,
    )


def _letter(d: Details) -> tuple[str, list[str], str | None]:
    kind = str(d.get("kind", "?")).replace("_", " ")
    how = {"sms-link": "a text message carrying a link to it (no email on file)", "none": "nobody (no contact on file)"}
    channel = str(d.get("channel", "email"))
    lines = [f"by {how.get(channel, channel)}"] + ([f"{d['attachments']} attachment(s)"] if d.get("attachments") else [])
    return f"Letter sent: {kind}", lines, None


def _bounced(d: Details) -> tuple[str, list[str], str | None]:
    letter = str(d.get("letter", "?")).replace("_", " ")
    return (
        f"Letter not delivered: {letter}",
        [f"{d.get('bounce', '?')} ({d.get('subtype') or 'no detail'}), as the mail service reported"],
        None,
    )


def _extended(d: Details) -> tuple[str, list[str], str | None]:
    return f"Deadline extended: {d.get('from', '?')} → {d.get('to', '?')}", _opt("reason", d, "reason"), d.get("by") or None


def _paused(d: Details) -> tuple[str, list[str], str | None]:
    lines = [f"asked on {d.get('asked_on', '?')}", *_opt("reason", d, "reason")]
    if "moves_due" in d and not d["moves_due"]:
        lines.append("the statutory date stands (recorded only)")
    return "Clock paused", lines, d.get("by") or None


def _restarted(d: Details) -> tuple[str, list[str], str | None]:
    return (
        f"Clock restarted: subject answered on {d.get('answered_on', '?')}",
        [f"{d.get('paused_days', 0)} paused day(s)", *_opt("now due", d, "due")],
        d.get("by") or None,
    )


def _restarted_processing(d: Details) -> tuple[str, list[str], str | None]:
    before = f"the previous run {d['previous_run']} was {d.get('previous_state') or 'gone'}" if d.get("previous_run") else "no run before"
    return "Flow run restarted by the reconciler", [before, *_opt("new run", d, "run")], None


def _alert(d: Details) -> tuple[str, list[str], str | None]:
    return f"Deadline alert: {d.get('kind', '?')}", [f"due {d.get('due', '?')}, {d.get('days_left', '?')} day(s) left"], None


def _evidence(d: Details) -> tuple[str, list[str], str | None]:
    return "Evidence exported", [f"{d.get('events', 0)} event(s), signed tree of {d.get('tree_size', 0)}"], None


def _shredded(d: Details) -> tuple[str, list[str], str | None]:
    return "Personal data shredded", [f"retention: {d.get('retention_months', '?')} month(s)"], None


def _note(d: Details) -> tuple[str, list[str], str | None]:
    return "Internal note", [str(d.get("text", ""))], d.get("by") or None


def _flagged(d: Details) -> tuple[str, list[str], str | None]:
    return "Flagged legal-sensitive", _opt("reason", d, "reason"), d.get("by") or None


def _unflagged(d: Details) -> tuple[str, list[str], str | None]:
    return "Legal-sensitive flag removed", _opt("reason", d, "reason"), d.get("by") or None


def _duplicate(d: Details) -> tuple[str, list[str], str | None]:
    # Written by intakes before security probe item 4 (linking before verification); still read.
    return "The same request came in again and was linked here", _opt("channel", d, "channel") + _opt("received", d, "received_at"), None


def _duplicate_linked(d: Details) -> tuple[str, list[str], str | None]:
    other = str(d.get("other") or "?")
    if d.get("role") == "original":
        return f"{other} was verified with the same contact: linked here as a duplicate, answered by this request", [], None
    return f"Duplicate of {other} (same verified contact): that request's letters answer this one", [], None


def _escalated(d: Details) -> tuple[str, list[str], str | None]:
    lines = _opt("reason", d, "reason") + _opt("legal's response target", d, "target") + _opt("given in", d, "via")
    if d.get("held"):
        lines.append("the request is held until legal decides")
    return f"Escalated to legal ({str(d.get('point', '?')).replace('_', ' ')}), no. {d.get('number', '?')}", lines, d.get("by") or None


def _escalation_resolved(d: Details) -> tuple[str, list[str], str | None]:
    decision = str(d.get("decision", "?")).replace("_", " ")
    lines = _opt("internal note", d, "note") + [f"after {d.get('hours', '?')} hour(s)" + (" (target missed)" if d.get("late") else "")]
    if d.get("verified_by") == "totp":
        lines.append("approver proven by an authenticator code")
    lines += _opt("given in", d, "via")
    return f"Legal decided escalation no. {d.get('number', '?')}: {decision}", lines, d.get("approver") or None


def _escalation_missed(d: Details) -> tuple[str, list[str], str | None]:
    return f"Legal's response target for escalation no. {d.get('number', '?')} missed ({d.get('target', '?')}): alert sent", [], None


def _link_code(d: Details) -> tuple[str, list[str], str | None]:
    letter = str(d.get("letter", "?")).replace("_", " ")
    return (
        f"One-time code no. {d.get('ordinal', '?')} to open the {letter} letter texted to the number on file",
        [f"valid until {d.get('expires_at', '?')}"],
        None,
    )


def _link_opened(d: Details) -> tuple[str, list[str], str | None]:
    return f"The subject opened the {str(d.get('letter', '?')).replace('_', ' ')} letter through its link", [], None


def _link_renewed(d: Details) -> tuple[str, list[str], str | None]:
    letter, until = str(d.get("letter", "?")).replace("_", " "), str(d.get("expires_at", "?"))[:10]
    return f"The subject had the {letter} letter's link texted again (renewal {d.get('number', '?')}): it works until {until}", [], None


def _link_refused(d: Details) -> tuple[str, list[str], str | None]:
    letter = str(d.get("letter", "?")).replace("_", " ")
    return f"A code given to open the {letter} letter was refused ({str(d.get('reason', '?')).replace('_', ' ')})", [], None


def _risk_flagged(d: Details) -> tuple[str, list[str], str | None]:
    n = d.get("escalation", "?")
    went = f"joined the open escalation no. {n} (its reason stays; this one is kept here)" if d.get("joined") else f"escalation no. {n}"
    return f"Verification risk flagged: {str(d.get('rule', '?')).replace('_', ' ')}", [*_opt("reason", d, "reason"), went], None


def _verification_deleted(d: Details) -> tuple[str, list[str], str | None]:
    deleted = d.get("deleted") or {}
    gone = [f"{str(k).replace('_', ' ')} {v}" for k, v in sorted(deleted.items()) if v]
    kept = [str(k).replace("_", " ") for k in d.get("kept") or []]
    when = "by the sweep (the request ended earlier)" if d.get("via") == "sweep" else "as the request ended"
    lines = ([f"deleted: {', '.join(gone)}"] if gone else []) + ([f"kept: {', '.join(kept)}"] if kept else [])
    return f"Verification data deleted {when}", lines, None


RULES: dict[str, Rule] = {
    "VerificationDataDeleted": _verification_deleted,
    "VerificationRiskFlagged": _risk_flagged,
    "LetterLinkCodeSent": _link_code,
    "LetterLinkOpened": _link_opened,
    "LetterLinkRefused": _link_refused,
    "LetterLinkRenewed": _link_renewed,
    "EscalationRaised": _escalated,
    "EscalationResolved": _escalation_resolved,
    "EscalationTargetMissed": _escalation_missed,
    "RequestLogged": _logged,
    "DeadlinesComputed": _deadlines,
    "DuplicateSubmissionLinked": _duplicate,
    "DuplicateLinked": _duplicate_linked,
    "StatusChanged": _status_changed,
    "HoldChanged": _hold,
    "SubjectDataViewed": _viewed,
    "VerificationCodeSent": _code_sent,
    "VerificationAttemptFailed": _attempt,
    "ReceiptConfirmed": _receipt,
    "PlanMade": _plan,
    "SignOffRecorded": _sign_off,
    "SignOffRefused": _sign_off_refused,
    "LetterSignOffRecorded": _letter_sign_off,
    "LetterSignOffLapsed": _letter_lapsed,
    "SystemExported": _exported,
    "SystemErased": _erased,
    "SystemCorrected": _corrected,
    "ManualStepConfirmed": _manual,
    "LetterSent": _letter,
    "LetterBounced": _bounced,
    "DeadlineExtended": _extended,
    "ClockPaused": _paused,
    "ClockRestarted": _restarted,
    "DeadlineAlertRaised": _alert,
    "ProcessingRestarted": _restarted_processing,
    "EvidenceExported": _evidence,
    "KeyShredded": _shredded,
    "InternalNoteAdded": _note,
    "LegalSensitiveFlagged": _flagged,
    "LegalSensitiveUnflagged": _unflagged,
}


def describe(seq: int, kind: str, at: datetime, details: Details) -> TimelineEntry:
    """One event in words. A shredded event says so; an unknown kind is still shown."""
    if details.get("shredded") is True and len(details) == 1:
        return TimelineEntry(seq, at, kind, words(kind), ("details shredded with the request's key",), None)
    rule = RULES.get(kind)
    if rule is None:
        lines = tuple(f"{k}: {_text(v)}" for k, v in details.items())
        return TimelineEntry(seq, at, kind, words(kind), lines, None)
    try:
        title, found, who = rule(details)
    except (AttributeError, TypeError, ValueError):  # an older or odd payload: show it raw, never fail the page
        return TimelineEntry(seq, at, kind, words(kind), tuple(f"{k}: {_text(v)}" for k, v in details.items()), None)
    return TimelineEntry(seq, at, kind, title, tuple(found), str(who) if who else None)
