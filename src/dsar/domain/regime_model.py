"""What a regime is, as data: who may ask what, how its clock counts, who hears an appeal.

Each regime the engine knows is one module under :mod:`dsar.domain.regime_data` that builds one
:class:`Regime` from these types, every fact with its :class:`Source` (and a note where the
figure comes from a secondary source and was not confirmed against the statute). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class RequestType(StrEnum):
    ACCESS = "access"
    DELETION = "deletion"
    CORRECTION = "correction"
    # A consumer's appeal of a refusal (US state laws); linked to the refused request.
    APPEAL = "appeal"


class AccessScope(StrEnum):
    """CCPA distinguishes a request to know categories from one for specific pieces
    (Cal. Civ. Code 1798.110; 11 CCR 7024). Other regimes give a copy (GDPR Art. 15(3))."""

    CATEGORIES = "categories"
    SPECIFIC_PIECES = "specific_pieces"


class ClockKind(StrEnum):
    MONTHS = "months"  # GDPR / UK GDPR: calendar months, rolled forward over non-working days
    DAYS = "days"  # calendar days, the day of receipt counted as day 1, no roll-forward
    WORKING_DAYS = "working_days"  # working days after the day of receipt (NZ)
    TARGET = "target"  # "without delay" / "reasonable period": the organisation's configured target


@dataclass(frozen=True)
class Source:
    """Where one fact comes from. ``secondary`` names the summary it was taken from when the
    statute's text could not be confirmed; ``confirmed`` says what text was checked."""

    fact: str
    citation: str
    secondary: str | None = None
    confirmed: str | None = None


@dataclass(frozen=True)
class Right:
    """A request type a regime provides, optionally only from a date (e.g. Utah correction)."""

    type: RequestType
    since: date | None = None


@dataclass(frozen=True)
class Clock:
    """How the response period is counted. ``days`` is 0 for months-based regimes (``months``
    then says how many). ``extension`` is the further period (same unit), None when the law
    gives none the engine can count. ``law_words`` is the law's own phrase when it sets no
    number ("without delay"); the letter quotes it and the due date is the organisation's
    target (``DSAR_REASONABLE_PERIOD_DAYS``)."""

    kind: ClockKind
    days: int = 0
    months: int = 0
    extension: int | None = None
    extension_notice: str = ""
    acknowledge_business_days: int | None = None
    # For TARGET clocks with a statutory long-stop notice (Singapore: tell within 30 days).
    notice_within_days: int | None = None
    law_words: str | None = None
    # WORKING_DAYS: a closedown excluded every year, (month, day) to (month, day) of the next year.
    closedown: tuple[tuple[int, int], tuple[int, int]] | None = None
    # WORKING_DAYS: the public holidays the law itself lists (names as the `holidays` package
    # spells them); None: every public holiday of the calendar.
    listed_holidays: frozenset[str] | None = None
    rule: str = ""  # the citation of the counting rule, shown in the trace


@dataclass(frozen=True)
class Appeal:
    """The consumer's right to appeal a refusal and how long the controller has to decide."""

    days: int
    extension: int | None = None
    # The law requires the decision to tell the consumer how to complain to the Attorney General.
    complaint_route_required: bool = True
    rule: str = ""


@dataclass(frozen=True)
class Wording:
    """A regime's facts as a letter in another language names them
    (:mod:`dsar.domain.regime_data._languages`). ``regulator`` names the same body as
    :attr:`Regime.regulator`: its official name in that language where it has one, else its
    official name with a description in that language. ``title`` and ``law_words``: empty keeps
    the regime's own (an official title in English; a law with no words to quote)."""

    regulator: str
    title: str = ""
    law_words: str = ""


@dataclass(frozen=True)
class Regime:
    code: str
    title: str
    citation: str
    country: str
    rights: tuple[Right, ...]
    # Subdivisions allowed (None: any/none); `subdivision_required` forces one.
    subdivisions: frozenset[str] | None = None
    subdivision_required: bool = False
    # Countries allowed, when the regime spans several (GDPR: any member state).
    countries: frozenset[str] = field(default_factory=frozenset)
    access_scopes: tuple[AccessScope, ...] = ()
    # --- facts as data (issue 16) ---
    effective: date | None = None
    clock: Clock = field(default_factory=lambda: Clock(ClockKind.DAYS, 45))
    portability: bool = False
    appeal: Appeal | None = None
    regulator: str = ""  # whom a refusal names as the place to complain
    aliases: tuple[str, ...] = ()  # other codes that reach this regime (us-va for vcdpa)
    lookback_start: date | None = None  # CCPA: requests to know cover data back to this date
    # The holiday calendar the clock uses when it is not the regime's country (None: country).
    calendar: str | None = None
    sources: tuple[Source, ...] = ()
    notes: str = ""

    def allowed_countries(self) -> frozenset[str]:
        return self.countries or frozenset({self.country})

    def provides(self, request_type: RequestType, on: date) -> bool:
        if request_type is RequestType.APPEAL:
            return self.appeal is not None and self.in_force(on)
        return any(r.type is request_type and (r.since is None or on >= r.since) for r in self.rights)

    def in_force(self, on: date) -> bool:
        return self.effective is None or on >= self.effective

    def source(self, fact: str) -> Source | None:
        return next((s for s in self.sources if s.fact == fact), None)

    @property
    def secondary_facts(self) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if s.secondary and not s.confirmed)


ALL_RIGHTS = (Right(RequestType.ACCESS), Right(RequestType.DELETION), Right(RequestType.CORRECTION))
NO_CORRECTION = (Right(RequestType.ACCESS), Right(RequestType.DELETION))
