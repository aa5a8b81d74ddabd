"""How much proof of identity a request needs, and whether the proofs given reach it. Pure.

The level follows from the request alone (regime, type, access scope, agent) and from what the
organisation holds on the subject (the data-map categories of their record in the system of
record, and whether they hold an account there that the organisation's own login can vouch
for). Nothing a requester says can lower it; only a named legal approver can
(:func:`lowered`), and that is an audit event.

CCPA (11 CCR 7060-7063):
- a request to know categories: a *reasonable degree of certainty*, two data points matched
  against what the business holds (7062(b)); possession of the contact on file counts as one;
- a request to know specific pieces: a *reasonably high degree of certainty*, three data
  points plus a declaration signed under penalty of perjury (7062(c)), kept (encrypted);
- deletion and correction: reasonable or reasonably high, by the sensitivity of the data
  and the harm an unauthorised deletion would do (7062(d), 7060(c)): high when sensitive
  categories are held;
- account holders: re-authentication through the organisation's own login (7061);
- authorised agents: the agent's signed permission plus the consumer's own confirmation
  (7063(a)), unless a power of attorney is given (7063(b)).
The other US state laws ask for "commercially reasonable" verification: the CCPA's levels are
used as the benchmark.

GDPR, UK GDPR and the other laws: proportionate (Art. 12(6); EDPB Guidelines 01/2022, 3.3):
possession of the contact on file; one data point more when sensitive categories are held.
Never a copy of an identity document: no page takes files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from dsar.domain.regimes import AccessScope, RequestType

# Data-map categories whose disclosure or deletion would do real harm (GDPR Art. 9 and 10,
# CCPA "sensitive personal information" 1798.140(ae)).
SENSITIVE_CATEGORIES = frozenset(
    {
        "health",
        "genetic",
        "biometric",
        "government_id",
        "financial",
        "financial_account",
        "payment",
        "credentials",
        "security_answers",
        "precise_location",
        "racial_or_ethnic_origin",
        "religion",
        "political_opinion",
        "trade_union",
        "sex_life",
        "sexual_orientation",
        "criminal",
        "communications_content",
    }
)


class Level(StrEnum):
    """The levels, weakest first (their order is the order of :data:`LEVEL_ORDER`)."""

    CONTACT = "contact"  # possession of the contact on file
    REASONABLE = "reasonable"  # contact + data points (CCPA: 2 in all)
    HIGH = "high"  # contact + data points (CCPA: 3 in all), for specific pieces also the declaration
    ACCOUNT = "account"  # re-authentication through the organisation's login


LEVEL_ORDER = (Level.CONTACT, Level.REASONABLE, Level.HIGH, Level.ACCOUNT)


class Proof(StrEnum):
    """A proof a subject (or their agent) gave."""

    CONTACT = "contact"  # the link or code sent to the contact on file
    DATA_POINTS = "data_points"  # enough data points matched
    DECLARATION = "declaration"  # signed under penalty of perjury
    ACCOUNT = "account"  # a valid assertion from the organisation's login
    AGENT_PERMISSION = "agent_permission"  # the agent's signed permission (reviewed)
    CONSUMER_CONFIRMATION = "consumer_confirmation"  # the consumer confirmed the agent, through their contact
    POWER_OF_ATTORNEY = "power_of_attorney"  # reviewed by legal
    BY_HAND = "by_hand"  # a legal account verified identity by other means


@dataclass(frozen=True)
class Requirement:
    """What a request needs before any data is searched, sent, erased or changed.

    ``data_points``: how many must match *besides* the contact on file. ``agent``: an agent
    acts, so the agent's permission and the consumer's confirmation (or a power of attorney)
    are needed too. ``reasons`` says why, for the audit trail and the console (no personal
    data)."""

    level: Level
    data_points: int = 0
    declaration: bool = False
    agent: bool = False
    power_of_attorney: bool = False
    reasons: tuple[str, ...] = ()
    lowered_by: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "level": self.level.value,
            "data_points": self.data_points,
            "declaration": self.declaration,
            "agent": self.agent,
            "power_of_attorney": self.power_of_attorney,
            "reasons": list(self.reasons),
            "lowered_by": self.lowered_by,
        }

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Requirement:
        reasons = doc.get("reasons") or []
        lowered = doc.get("lowered_by")
        return cls(
            Level(str(doc["level"])),
            int(str(doc.get("data_points", 0))),
            bool(doc.get("declaration", False)),
            bool(doc.get("agent", False)),
            bool(doc.get("power_of_attorney", False)),
            tuple(str(x) for x in reasons) if isinstance(reasons, list) else (),
            str(lowered) if lowered else None,
        )

    def describe(self) -> str:
        """One line for the console, `request show` and the audit trail (no personal data)."""
        parts = {
            Level.CONTACT: ["link or code to the contact on file"],
            Level.ACCOUNT: ["sign-in through the organisation's login"],
        }.get(self.level, ["link or code to the contact on file"])
        if self.level in (Level.REASONABLE, Level.HIGH) and self.data_points:
            parts = [*parts, f"{self.data_points} data point{'s' if self.data_points != 1 else ''} matched"]
        elif self.data_points:
            parts = [*parts, f"{self.data_points} data point{'s' if self.data_points != 1 else ''} matched"]
        if self.declaration:
            parts.append("declaration under penalty of perjury")
        if self.power_of_attorney:
            parts.append("power of attorney reviewed by legal")
        elif self.agent:
            parts.append("the agent's signed permission and the consumer's confirmation")
        text = f"{self.level.value}: " + ", ".join(parts)
        return text + (f" (lowered by {self.lowered_by})" if self.lowered_by else "")


US_STATE_LAWS = frozenset({"ccpa", "cpa", "ctdpa", "ocpa", "tdpsa", "ucpa", "vcdpa"})


def _us_state_law(regime: str) -> bool:
    return regime in US_STATE_LAWS or regime.startswith("us-")


def required(
    regime: str,
    request_type: RequestType,
    access_scope: AccessScope | None,
    categories: frozenset[str] | set[str],
    *,
    account_holder: bool = False,
    agent: bool = False,
    power_of_attorney: bool = False,
) -> Requirement:
    """The level a request needs. ``categories``: the data-map categories held on the subject
    in the system of record (empty when the subject is unknown there). ``account_holder``: the
    subject holds an account the organisation's login can vouch for (a login is configured)."""
    sensitive = sorted(set(categories) & SENSITIVE_CATEGORIES)
    reasons: list[str] = []
    if sensitive:
        reasons.append("sensitive categories held: " + ", ".join(sensitive))
    if account_holder:
        req = Requirement(Level.ACCOUNT, reasons=(*reasons, "account holder: re-authenticate through the login (11 CCR 7061)"))
    elif _us_state_law(regime):
        if request_type is RequestType.ACCESS and access_scope is AccessScope.SPECIFIC_PIECES:
            req = Requirement(
                Level.HIGH, 2, True, reasons=(*reasons, "specific pieces: three data points and a signed declaration (11 CCR 7062(c))")
            )
        elif request_type in (RequestType.DELETION, RequestType.CORRECTION) and sensitive:
            req = Requirement(
                Level.HIGH, 2, reasons=(*reasons, f"{request_type.value} of sensitive data: three data points (11 CCR 7062(d))")
            )
        else:
            req = Requirement(Level.REASONABLE, 1, reasons=(*reasons, "two data points (11 CCR 7062(b))"))
    elif sensitive:
        req = Requirement(Level.REASONABLE, 1, reasons=(*reasons, "proportionate: the contact on file and one data point (EDPB 01/2022)"))
    else:
        req = Requirement(Level.CONTACT, reasons=(*reasons, "proportionate: the contact on file (EDPB 01/2022)"))
    if power_of_attorney:
        req = replace(req, power_of_attorney=True, reasons=(*req.reasons, "power of attorney: reviewed by legal (11 CCR 7063(b))"))
    elif agent:
        req = replace(req, agent=True, reasons=(*req.reasons, "agent: signed permission and the consumer's confirmation (11 CCR 7063(a))"))
    return req


def rank(level: Level) -> int:
    return LEVEL_ORDER.index(level)


def lowered(current: Requirement, to: Requirement, approver: str) -> Requirement:
    """``to`` as approved by ``approver``; refused unless it is weaker than ``current``."""
    weaker = (rank(to.level), to.data_points, to.declaration) < (rank(current.level), current.data_points, current.declaration)
    if not weaker:
        raise ValueError("not a lowering: the level can only be raised by policy")
    return replace(to, lowered_by=approver, reasons=(*to.reasons, f"lowered from {current.level.value} by {approver}"))


def lowest(level: Level) -> Requirement:
    """The weakest requirement of a level (what a lowering names)."""
    points = {Level.CONTACT: 0, Level.REASONABLE: 1, Level.HIGH: 2, Level.ACCOUNT: 0}[level]
    return Requirement(level, points)


def next_proof(req: Requirement, given: frozenset[Proof] | set[Proof]) -> Proof | None:
    """The next proof the subject must give, or None when the requirement is met. A proof by
    hand (a legal account) meets any requirement."""
    if Proof.BY_HAND in given:
        return None
    if req.power_of_attorney:
        return None if Proof.POWER_OF_ATTORNEY in given else Proof.POWER_OF_ATTORNEY
    if req.level is Level.ACCOUNT:
        if Proof.ACCOUNT not in given:
            return Proof.ACCOUNT
    else:
        if Proof.CONTACT not in given:
            return Proof.CONTACT
        if req.data_points and Proof.DATA_POINTS not in given:
            return Proof.DATA_POINTS
        if req.declaration and Proof.DECLARATION not in given:
            return Proof.DECLARATION
    if req.agent:
        for p in (Proof.AGENT_PERMISSION, Proof.CONSUMER_CONFIRMATION):
            if p not in given:
                return p
    return None


def met(req: Requirement, given: frozenset[Proof] | set[Proof]) -> bool:
    return next_proof(req, given) is None


# The data points a subject can be asked for (what a system of record commonly holds).
DATA_POINTS = ("phone", "postcode", "street", "city", "name")
# Data points too public to count on their own (THREATS 3, 12): a name never counts.
NOT_COUNTED = frozenset({"name"})


def askable_points(held: set[str] | frozenset[str], *, excluded: set[str] | frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The data points a subject may be asked for: held on file, not public, not the channel
    the contact proof went through, not an attribute the request asks to correct (11 CCR
    7060(e): verify with data other than the data disputed; THREATS 10)."""
    return tuple(p for p in DATA_POINTS if p in held and p not in NOT_COUNTED and p not in excluded)


def points_pass(required_points: int, results: list[bool]) -> bool:
    """Every point given must match and at least ``required_points`` must be given: one
    wrong point fails the attempt (no partial credit to guess with)."""
    return len(results) >= required_points and all(results)
