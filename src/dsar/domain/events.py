"""Audit events: everything that happens to a request, as typed values.

Each event knows its ``kind`` (its class name, past tense), its ``payload`` (what goes into the
sealed audit record) and its ``idempotency_key`` (a re-run of the step that produced it writes
nothing twice: the log skips a key it already holds). Payloads carry no more personal data
than the step needs; they are sealed under the request's key at rest and are shown decrypted
only to staff and in evidence bundles.

The key formats are stored in existing logs: changing one would let a re-run append an event
a second time, so they are part of the format, not an implementation detail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

JsonValue = Any  # str | int | bool | None | list | dict of these


@dataclass(frozen=True)
class AuditEvent:
    """Something that happened to a request. Subclasses name it and say what it carries."""

    request_id: str
    at: datetime
    kind: ClassVar[str] = "AuditEvent"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = cls.__name__

    def payload(self) -> dict[str, JsonValue]:
        return {}

    @property
    def idempotency_key(self) -> str:
        # Events that can happen any number of times are unique by their moment.
        return f"{self.request_id}:{self.kind}:{self.at.isoformat()}"


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _given(doc: dict[str, JsonValue], **optional: JsonValue) -> dict[str, JsonValue]:
    """``doc`` with each optional field that was given (empty ones are left out, so a payload
    written before a field existed keeps its hash)."""
    for name, value in optional.items():
        if value:
            doc[name] = value
    return doc


# --- intake and the request's state --------------------------------------------------------


@dataclass(frozen=True)
class RequestLogged(AuditEvent):
    reference: str = ""
    request_type: str = ""
    regime: str = ""
    channel: str = ""
    # Why a request received long ago was logged only now (intake's backdating bound); absent
    # from the payload when not given, so earlier events keep their hashes.
    backdated_reason: str | None = None
    # The language of the subject's letters; absent from earlier events' payloads.
    language: str | None = None

    def payload(self) -> dict[str, JsonValue]:
        doc: dict[str, JsonValue] = {"reference": self.reference, "type": self.request_type, "regime": self.regime, "channel": self.channel}
        if self.backdated_reason is not None:
            doc["backdated_reason"] = self.backdated_reason
        if self.language is not None:
            doc["language"] = self.language
        return doc


@dataclass(frozen=True)
class DeadlinesComputed(AuditEvent):
    due: date | None = None
    acknowledge_by: date | None = None
    extension_notice_by: date | None = None
    extended_due: date | None = None

    def payload(self) -> dict[str, JsonValue]:
        return {
            "due": _iso(self.due),
            "acknowledge_by": _iso(self.acknowledge_by),
            "extension_notice_by": _iso(self.extension_notice_by),
            "extended_due": _iso(self.extended_due),
        }

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:deadlines:initial"


@dataclass(frozen=True)
class DuplicateSubmissionLinked(AuditEvent):
    """A repeat submission recorded on the first request at intake; ``submission`` is its own
    id. No longer written (intake linked unverified submissions, security probe item 4); kept
    so that logs which hold it still read."""

    channel: str = ""
    received_at: datetime | None = None
    submission: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"channel": self.channel, "received_at": self.received_at.isoformat() if self.received_at else None}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:duplicate:{self.submission}"


@dataclass(frozen=True)
class DuplicateLinked(AuditEvent):
    """Two requests of the same type and regime, verified with the same contact within the
    duplicate window: one request, answered once. Recorded on both: on the later request
    (``role`` "duplicate", which then ends) and on the earlier one (``role`` "original", whose
    letters answer both). ``other`` is the other request's id, ``other_reference`` its
    reference."""

    other: str = ""
    other_reference: str = ""
    role: str = "duplicate"

    def payload(self) -> dict[str, JsonValue]:
        return {"role": self.role, "other": self.other_reference}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:duplicate-linked:{self.other}"


@dataclass(frozen=True)
class StatusChanged(AuditEvent):
    move: str = ""
    from_status: str = ""
    to_status: str = ""
    reason: str = ""
    by: str = ""  # the staff member, when a person made the move (a withdrawal)

    def payload(self) -> dict[str, JsonValue]:
        d: dict[str, JsonValue] = {"move": self.move, "from": self.from_status, "to": self.to_status}
        if self.reason:
            d["reason"] = self.reason
        if self.by:
            d["by"] = self.by
        return d

    @property
    def idempotency_key(self) -> str:
        # A move from a given status happens once.
        return f"{self.request_id}:{self.move}:{self.from_status}"


@dataclass(frozen=True)
class HoldChanged(AuditEvent):
    on_hold: bool = False
    reason: str = ""
    by: str = ""  # the staff member, when a person (not the engine) held or released it

    def payload(self) -> dict[str, JsonValue]:
        return {"on_hold": str(self.on_hold).lower(), "reason": self.reason} | ({"by": self.by} if self.by else {})

    @property
    def idempotency_key(self) -> str:
        # A hold and its release in the same instant are two events (the moment alone made
        # the release vanish from the log). Keyed by the moment already, so no re-run ever
        # depended on the older form.
        return f"{self.request_id}:{self.kind}:{'on' if self.on_hold else 'off'}:{self.at.isoformat()}"


@dataclass(frozen=True)
class SubjectDataViewed(AuditEvent):
    """Staff revealed the subject's personal data (``dsar request show --reveal``)."""

    via: str = "cli"

    def payload(self) -> dict[str, JsonValue]:
        return {"via": self.via}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:viewed:{self.at.isoformat()}"


# --- verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationCodeSent(AuditEvent):
    channel: str = "email"
    challenge: int = 0
    expires_at: datetime | None = None
    template: str = ""
    version: str = ""  # the template's approved version and the letter's language
    language: str = ""

    def payload(self) -> dict[str, JsonValue]:
        doc: dict[str, JsonValue] = {
            "channel": self.channel,
            "challenge": self.challenge,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "template": self.template,
        }
        if self.version:
            doc |= {"version": self.version, "language": self.language}
        return doc

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:challenge:{self.challenge}"


@dataclass(frozen=True)
class VerificationAttemptFailed(AuditEvent):
    challenge: int = 0
    attempt: int = 0
    expired: bool = False

    def payload(self) -> dict[str, JsonValue]:
        return {"challenge": self.challenge, "attempt": self.attempt, "expired": self.expired}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:challenge:{self.challenge}:attempt:{self.attempt}"


@dataclass(frozen=True)
class ReceiptConfirmed(AuditEvent):
    """The subject was told their request arrived (11 CCR 7021(a)); the first one counts."""

    how: str = ""
    by: str = ""
    note: str | None = None

    def payload(self) -> dict[str, JsonValue]:
        return {"how": self.how, "by": self.by} | ({"note": self.note} if self.note else {})

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:receipt-confirmed"


@dataclass(frozen=True)
class InternalNoteAdded(AuditEvent):
    """A note staff wrote on the request (sealed like every payload; never sent to the subject)."""

    text: str = ""
    by: str = ""
    via: str = ""
    note_id: str = ""  # unique per note: two notes written in the same instant are both kept

    def payload(self) -> dict[str, JsonValue]:
        return {"text": self.text, "by": self.by, "via": self.via}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:note:{self.note_id or self.at.isoformat()}"


@dataclass(frozen=True)
class LegalSensitiveFlagged(AuditEvent):
    """Staff marked the request legal-sensitive (litigation, a regulator, a journalist...):
    legal looks at it before anything goes out."""

    reason: str = ""
    by: str = ""
    via: str = ""
    number: int = 0  # the n-th flag or unflag of this request (1, 2, ...)

    def payload(self) -> dict[str, JsonValue]:
        return {"reason": self.reason, "by": self.by, "via": self.via}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:legal-flag:{self.number}"


@dataclass(frozen=True)
class LegalSensitiveUnflagged(AuditEvent):
    """The legal-sensitive mark was taken off again, saying why."""

    reason: str = ""
    by: str = ""
    via: str = ""
    number: int = 0  # the n-th flag or unflag of this request (1, 2, ...)

    def payload(self) -> dict[str, JsonValue]:
        return {"reason": self.reason, "by": self.by, "via": self.via}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:legal-flag:{self.number}"


# --- planning, sign-off, execution --------------------------------------------------------


@dataclass(frozen=True)
class PlanMade(AuditEvent):
    """Per system: the operation and how many records matched (never values)."""

    steps: tuple[tuple[str, str, int], ...] = ()

    def payload(self) -> dict[str, JsonValue]:
        return {"steps": [{"system": s, "operation": op, "matches": n} for s, op, n in self.steps]}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:plan"


@dataclass(frozen=True)
class SignOffRecorded(AuditEvent):
    """Legal's decision. ``reason`` (a DenialReason code) and ``reason_text`` are what the
    subject is told; ``note`` is legal's internal reasoning (the payload is sealed under the
    request's key like every payload: auditors read it, the subject never does).
    ``verified_by`` says how the approver was proven (``totp``); ``via`` where it was given
    (``prefect-ui``, ``console``, ``cli``); ``flow_run`` the run it resumed, when known."""

    step: str = ""
    decision: str = ""
    approver: str = ""
    reason: str | None = None
    reason_text: str = ""
    note: str = ""
    verified_by: str = ""
    via: str = ""
    flow_run: str | None = None
    # Legal's exemptions at approval: (target, ground code) pairs (dsar.domain.exemptions).
    exemptions: tuple[tuple[str, str], ...] = ()

    def payload(self) -> dict[str, JsonValue]:
        d: dict[str, JsonValue] = {"step": self.step, "decision": self.decision, "approver": self.approver}
        if self.exemptions:
            d["exemptions"] = [{"target": t, "ground": g} for t, g in self.exemptions]
        if self.reason is not None:
            d["reason"] = self.reason
        return _given(d, reason_text=self.reason_text, note=self.note, verified_by=self.verified_by, via=self.via, flow_run=self.flow_run)

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:decision:{self.step}"


@dataclass(frozen=True)
class LetterSignOffRecorded(AuditEvent):
    """Legal's decision on a response letter before it goes out (dsar.domain.letter_sign_off):
    ``approve``, or ``return`` with ``reason`` (for the team: the request is held with it).
    ``letter`` is the letter's kind, ``also`` the letters going with it (a partial refusal),
    ``template``/``template_version`` the file and SHA-256 of the letter as previewed when it
    was approved. ``note`` is internal. Like :class:`SignOffRecorded`: ``verified_by``
    (``totp``), ``via`` (``prefect-ui``, ``console``, ``cli``), ``flow_run``. The payload is
    sealed under the request's key; no letter text, no subject data."""

    step: str = ""
    decision: str = ""
    approver: str = ""
    letter: str = ""
    also: tuple[str, ...] = ()
    template: str = ""
    template_version: str = ""
    reason: str = ""
    note: str = ""
    verified_by: str = ""
    via: str = ""
    flow_run: str | None = None
    sources_version: str = ""  # one SHA-256 over every file of the letter (its partials, layout, vocabulary)

    def payload(self) -> dict[str, JsonValue]:
        d: dict[str, JsonValue] = {"step": self.step, "decision": self.decision, "approver": self.approver, "letter": self.letter}
        return _given(
            d,
            also=list(self.also),
            template=self.template,
            template_version=self.template_version,
            sources_version=self.sources_version,
            reason=self.reason,
            note=self.note,
            verified_by=self.verified_by,
            via=self.via,
            flow_run=self.flow_run,
        )

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:decision:{self.step}"


@dataclass(frozen=True)
class LetterSignOffLapsed(AuditEvent):
    """Legal's approval of a letter lapsed before the letter went: the files it is made of
    changed since (a template approved anew, a partial, the vocabulary), so what would be sent
    is not what legal previewed. The letter waits for a new approval. ``step`` is the approval
    that lapsed; versions are SHA-256 digests (no letter text, no subject data)."""

    step: str = ""
    letter: str = ""
    template: str = ""
    approved_version: str = ""
    current_version: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {
            "step": self.step,
            "letter": self.letter,
            "template": self.template,
            "approved_version": self.approved_version,
            "current_version": self.current_version,
        }

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:letter-lapsed:{self.step}"


@dataclass(frozen=True)
class SignOffRefused(AuditEvent):
    """A sign-off attempt not taken: the request keeps waiting. ``approver`` is the name given
    when it is a staff account's, else only ``approver_digest`` (a keyed digest of what was
    typed); the code itself is never kept. ``attempt`` counts the refused attempts."""

    step: str = ""
    attempt: int = 0
    reason: str = ""
    approver: str | None = None
    approver_digest: str | None = None
    via: str = ""

    def payload(self) -> dict[str, JsonValue]:
        d: dict[str, JsonValue] = {"step": self.step, "attempt": self.attempt, "reason": self.reason, "via": self.via}
        if self.approver is not None:
            d["approver"] = self.approver
        if self.approver_digest is not None:
            d["approver_digest"] = self.approver_digest
        return d

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:sign-off-refused:{self.step}:{self.attempt}"


@dataclass(frozen=True)
class SystemExported(AuditEvent):
    system: str = ""
    records: int = 0

    def payload(self) -> dict[str, JsonValue]:
        return {"system": self.system, "records": self.records}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:receipt:{self.system}:export"


@dataclass(frozen=True)
class SystemErased(AuditEvent):
    """Counts per entity and action (``{"order": {"anonymise": 3}}``): what, not which values.
    Where legal kept fields of an entity it anonymised, ``fields`` names them and the fields
    erased (``{"customer": {"anonymised": ["email"], "kept": ["phone"]}}``): names, no values."""

    system: str = ""
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # True when an earlier run erased and died before keeping its receipt: the counts are
    # then what the plan approved less what was still there afterwards.
    recounted: bool = False
    fields: Mapping[str, Mapping[str, Sequence[str]]] = field(default_factory=dict)

    def payload(self) -> dict[str, JsonValue]:
        doc: dict[str, JsonValue] = {"system": self.system, "counts": {e: dict(c) for e, c in self.counts.items()}}
        if self.recounted:
            doc["counted"] = "after the fact: an earlier run erased and stopped before its receipt was kept"
        if self.fields:  # only then: an erasure without field exemptions keeps its earlier payload
            doc["fields"] = {e: {k: list(v) for k, v in per.items()} for e, per in self.fields.items()}
        return doc

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:receipt:{self.system}:erase"


@dataclass(frozen=True)
class SystemCorrected(AuditEvent):
    """Counts per entity and field, and each change as keyed hashes of old and new values."""

    system: str = ""
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    unchanged: int = 0
    changes: Sequence[Mapping[str, str]] = ()

    def payload(self) -> dict[str, JsonValue]:
        return {
            "system": self.system,
            "counts": {e: dict(c) for e, c in self.counts.items()},
            "unchanged": self.unchanged,
            "changes": [dict(c) for c in self.changes],
        }

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:receipt:{self.system}:correct"


@dataclass(frozen=True)
class ManualStepConfirmed(AuditEvent):
    system: str = ""
    operation: str = ""
    outcome: str = ""
    records: int = 0
    person: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"system": self.system, "operation": self.operation, "outcome": self.outcome, "records": self.records, "person": self.person}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:receipt:{self.system}:{self.operation}"


# --- letters and deadlines ----------------------------------------------------------------


@dataclass(frozen=True)
class LetterSent(AuditEvent):
    letter: str = ""  # the letter's kind: verification_code, access_response, denial, extension...
    template: str = ""
    message_id: str = ""
    attachments: int = 0
    channel: str = "email"
    # The template's version (SHA-256, approved by legal) and the letter's language; a letter
    # to a recipient of the data (GDPR Art. 19) names the recipient, never the subject.
    version: str = ""
    language: str = ""
    recipient: str = ""
    # SHA-256 of the PDF mailed with it, kept sealed beside the request: the evidence bundle
    # carries the PDF and its verifier ties it to this event.
    pdf_sha256: str = ""

    def payload(self) -> dict[str, JsonValue]:
        doc: dict[str, JsonValue] = {
            "kind": self.letter,
            "template": self.template,
            "message_id": self.message_id,
            "attachments": self.attachments,
            "channel": self.channel,
        }
        if self.version:
            doc |= {"version": self.version, "language": self.language}
        if self.recipient:
            doc["recipient"] = self.recipient
        if self.pdf_sha256:
            doc["pdf_sha256"] = self.pdf_sha256
        return doc

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:letter:{self.letter}"


@dataclass(frozen=True)
class LetterBounced(AuditEvent):
    """The mail service reported a letter undelivered after accepting it (an SES bounce or
    complaint notification). ``letter`` is the letter's purpose as its message id names it
    (``access_response``, ``verify-3-1``...); ``bounce`` is ``permanent``, ``transient``,
    ``undetermined`` or ``complaint``; ``notice`` the service's own id of the notification (a
    notification delivered twice is recorded once). Never the address."""

    letter: str = ""
    bounce: str = ""
    subtype: str = ""
    notice: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"letter": self.letter, "bounce": self.bounce, "subtype": self.subtype}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:bounce:{self.notice}"


@dataclass(frozen=True)
class DeadlineExtended(AuditEvent):
    from_due: date | None = None
    to_due: date | None = None
    by: str = ""
    reason: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"from": _iso(self.from_due), "to": _iso(self.to_due), "by": self.by, "reason": self.reason}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:extended"


@dataclass(frozen=True)
class ClockPaused(AuditEvent):
    asked_on: date | None = None
    reason: str = ""
    moves_due: bool = False
    pause_number: int = 1  # the n-th pause of this request
    by: str = ""  # the staff member who recorded it, when named

    def payload(self) -> dict[str, JsonValue]:
        d: dict[str, JsonValue] = {"asked_on": _iso(self.asked_on), "reason": self.reason, "moves_due": self.moves_due}
        return d | ({"by": self.by} if self.by else {})

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:paused:{_iso(self.asked_on)}:{self.pause_number}"


@dataclass(frozen=True)
class ClockRestarted(AuditEvent):
    pause_id: int = 0
    answered_on: date | None = None
    paused_days: int = 0
    due: date | None = None
    by: str = ""  # the staff member who recorded it, when named

    def payload(self) -> dict[str, JsonValue]:
        d: dict[str, JsonValue] = {"answered_on": _iso(self.answered_on), "paused_days": self.paused_days, "due": _iso(self.due)}
        return d | ({"by": self.by} if self.by else {})

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:restarted:{self.pause_id}"


@dataclass(frozen=True)
class DeadlineAlertRaised(AuditEvent):
    alert: str = ""  # the alert's kind: due-in-7d, breached, ack-in-3d, ack-breached...
    due: date | None = None
    days_left: int = 0

    def payload(self) -> dict[str, JsonValue]:
        return {"kind": self.alert, "due": _iso(self.due), "days_left": self.days_left}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:alert:{_iso(self.due)}:{self.alert}"


@dataclass(frozen=True)
class ProcessingRestarted(AuditEvent):
    """The reconciler found an open request without a live flow run and started one."""

    previous_run: str | None = None
    previous_state: str | None = None  # e.g. FAILED, CRASHED, COMPLETED; None: no run was recorded
    run: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"previous_run": self.previous_run, "previous_state": self.previous_state, "run": self.run}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:restarted:{self.previous_run}"


# --- evidence and retention ---------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceExported(AuditEvent):
    tree_size: int = 0
    events: int = 0
    key_id: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"tree_size": self.tree_size, "events": self.events, "key_id": self.key_id}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:exported:{self.at.isoformat()}"


@dataclass(frozen=True)
class KeyShredded(AuditEvent):
    retention_months: int = 0

    def payload(self) -> dict[str, JsonValue]:
        return {"retention_months": self.retention_months}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:shredded"


# --- staff accounts and API tokens (the staff stream) -----------------------------------------

# The audit stream of staff events: not a request, but sealed and chained like one. Its data
# key is created on first use and retention never shreds it (it is no request, so never a
# shredding candidate). Request ids are uuid4 hex: never 32 zeros.
STAFF_STREAM = "0" * 32


@dataclass(frozen=True)
class StaffEvent(AuditEvent):
    """Something that happened to a staff account or an API token. ``event_id`` is random
    (given by the service): two logins in the same instant are two events."""

    event_id: str = ""

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:{self.kind}:{self.event_id}"


@dataclass(frozen=True)
class StaffLoggedIn(StaffEvent):
    account: str = ""
    source: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"account": self.account, "source": self.source}


@dataclass(frozen=True)
class StaffTotpEnrolled(StaffEvent):
    """An authenticator (TOTP secret) was enrolled or replaced for the account; never the secret."""

    account: str = ""
    by: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"account": self.account, "by": self.by}


@dataclass(frozen=True)
class StaffLoginFailed(StaffEvent):
    """A refused login. For a name no account has, only a keyed digest of it (``name_digest``)."""

    account: str | None = None
    name_digest: str | None = None
    reason: str = ""
    source: str = ""

    def payload(self) -> dict[str, JsonValue]:
        d: dict[str, JsonValue] = {"reason": self.reason, "source": self.source}
        if self.account is not None:
            d["account"] = self.account
        if self.name_digest is not None:
            d["name_digest"] = self.name_digest
        return d


@dataclass(frozen=True)
class StaffLockedOut(StaffEvent):
    account: str = ""
    until: datetime | None = None
    failures: int = 0

    def payload(self) -> dict[str, JsonValue]:
        return {"account": self.account, "until": self.until.isoformat() if self.until else None, "failures": self.failures}


@dataclass(frozen=True)
class StaffCodesLockedOut(StaffEvent):
    """Too many wrong authenticator codes: every code of the account is refused ``until``."""

    account: str = ""
    until: datetime | None = None
    failures: int = 0

    def payload(self) -> dict[str, JsonValue]:
        return {"account": self.account, "until": self.until.isoformat() if self.until else None, "failures": self.failures}


@dataclass(frozen=True)
class StaffAccountAdded(StaffEvent):
    account: str = ""
    role: str = ""
    by: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"account": self.account, "role": self.role, "by": self.by}


@dataclass(frozen=True)
class StaffPasswordResetIssued(StaffEvent):
    account: str = ""
    by: str = ""
    expires_at: datetime | None = None

    def payload(self) -> dict[str, JsonValue]:
        return {"account": self.account, "by": self.by, "expires_at": self.expires_at.isoformat() if self.expires_at else None}


@dataclass(frozen=True)
class StaffPasswordSet(StaffEvent):
    account: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"account": self.account}


@dataclass(frozen=True)
class StaffRoleChanged(StaffEvent):
    account: str = ""
    from_role: str = ""
    to_role: str = ""
    by: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"account": self.account, "from": self.from_role, "to": self.to_role, "by": self.by}


@dataclass(frozen=True)
class StaffDeactivated(StaffEvent):
    account: str = ""
    by: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"account": self.account, "by": self.by}


@dataclass(frozen=True)
class StaffTrainingRecorded(StaffEvent):
    account: str = ""
    on: date | None = None
    by: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"account": self.account, "on": _iso(self.on), "by": self.by}


@dataclass(frozen=True)
class StaffSessionsEnded(StaffEvent):
    account: str = ""
    by: str = ""
    reason: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"account": self.account, "by": self.by, "reason": self.reason}


@dataclass(frozen=True)
class ApiTokenCreated(StaffEvent):
    token_id: int = 0
    name: str = ""
    scopes: tuple[str, ...] = ()
    by: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"token_id": self.token_id, "name": self.name, "scopes": list(self.scopes), "by": self.by}


@dataclass(frozen=True)
class ApiTokenRevoked(StaffEvent):
    token_id: int = 0
    name: str = ""
    by: str = ""

    def payload(self) -> dict[str, JsonValue]:
        return {"token_id": self.token_id, "name": self.name, "by": self.by}


# --- what the log holds -------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    """One event as read back from the log: its place, kind, time and opened payload
    (``{"shredded": true}`` once the request's key is destroyed)."""

    seq: int
    kind: str
    at: datetime
    details: dict[str, Any]


@dataclass(frozen=True)
class CheckpointRecord:
    """A signed tree head of the whole log (RFC 9162), and where it was archived."""

    tree_size: int
    root_hash: str
    chain_head: str
    signed_at: datetime
    key_id: str
    statement: str
    signature: str
    archived_as: str | None = None


@dataclass(frozen=True)
class EscalationRaised(AuditEvent):
    """A request escalated to legal (dsar.domain.escalations): the point, the reason, who
    raised it, legal's response target, and whether it put the request on hold."""

    number: int = 0
    point: str = ""
    reason: str = ""
    by: str = ""
    via: str = ""
    target: date | None = None
    held: bool = False

    def payload(self) -> dict[str, JsonValue]:
        return {
            "number": self.number,
            "point": self.point,
            "reason": self.reason,
            "by": self.by,
            "via": self.via,
            "target": self.target.isoformat() if self.target else None,
            "held": self.held,
        }

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:escalation:{self.number}"


@dataclass(frozen=True)
class EscalationResolved(AuditEvent):
    """Legal's decision on an escalation, proven like a sign-off; ``hours`` from raised to
    resolved (for reporting); ``late`` when legal's response target had passed."""

    number: int = 0
    point: str = ""
    decision: str = ""
    approver: str = ""
    note: str = ""
    verified_by: str = ""
    via: str = ""
    hours: float = 0.0
    late: bool = False
    flow_run: str | None = None  # the run the decision resumed, when it was given in or handed to one

    def payload(self) -> dict[str, JsonValue]:
        d: dict[str, JsonValue] = {
            "number": self.number,
            "point": self.point,
            "decision": self.decision,
            "approver": self.approver,
            "verified_by": self.verified_by,
            "via": self.via,
            "hours": self.hours,
            "late": self.late,
        }
        if self.note:
            d["note"] = self.note
        if self.flow_run:
            d["flow_run"] = self.flow_run
        return d

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:escalation-resolved:{self.number}"


@dataclass(frozen=True)
class EscalationTargetMissed(AuditEvent):
    """Legal's response target of an escalation passed without a decision: an alert went out."""

    number: int = 0
    point: str = ""
    target: date | None = None

    def payload(self) -> dict[str, JsonValue]:
        return {"number": self.number, "point": self.point, "target": self.target.isoformat() if self.target else None}

    @property
    def idempotency_key(self) -> str:
        return f"{self.request_id}:escalation-missed:{self.number}"
