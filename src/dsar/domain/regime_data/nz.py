# ruff: noqa: E501  (citations and notes are data: kept on one line each)
"""New Zealand Privacy Act 2020 (nz): one regime as data (issue 16)."""

from __future__ import annotations

from datetime import date

from dsar.domain.regime_model import Clock, ClockKind, Regime, RequestType, Right, Source

# s.7 'working day': not a Saturday, Sunday, Waitangi Day, Good Friday, Easter Monday, Anzac Day, the
# Sovereign's birthday, Matariki, Labour Day (Waitangi and Anzac Day Mondayised), nor 25 Dec-15 Jan.
NZ_LISTED_HOLIDAYS = frozenset(
    {
        "Waitangi Day",
        "Waitangi Day (observed)",
        "Good Friday",
        "Easter Monday",
        "Anzac Day",
        "Anzac Day (observed)",
        "King's Birthday",
        "Queen's Birthday",
        "Matariki",
        "Labour Day",
    }
)

REGIME = Regime(
    code="nz",
    title="New Zealand Privacy Act 2020",
    citation="Privacy Act 2020 ss. 7, 44, 48; IPP 6-7",
    country="NZ",
    rights=(Right(RequestType.ACCESS), Right(RequestType.CORRECTION)),
    effective=date(2020, 12, 1),
    clock=Clock(
        ClockKind.WORKING_DAYS,
        20,
        extension_notice="within the 20 working days: the new period, the reasons, the right to complain (s.48-49)",
        closedown=((12, 25), (1, 15)),
        listed_holidays=NZ_LISTED_HOLIDAYS,
        rule="Privacy Act 2020 s.44: 20 working days after the day of receipt; s.7 working day",
    ),
    portability=False,
    regulator="the Privacy Commissioner (privacy.org.nz)",
    aliases=(),
    sources=(
        Source("effective", "Privacy Act 2020 in force 2020-12-01"),
        Source(
            "response",
            "Privacy Act 2020 s.44(1): 20 working days after the day the request is received",
            secondary="privacy-law trackers and law-firm summaries",
            confirmed="the Privacy Commissioner's guidance (privacy.org.nz): 20 working days from receipt",
        ),
        Source(
            "working_day",
            "Privacy Act 2020 s.7 'working day' (listed holidays, Mondayised Waitangi/Anzac, 25 Dec-15 Jan)",
            secondary="privacy-law trackers and law-firm summaries",
            confirmed="Privacy Act 1993 s.2 as the Commissioner quotes it: Sat, Sun, Good Friday, Easter Monday, Anzac, Labour Day, Sovereign's birthday, Waitangi, 25 Dec-15 Jan; Matariki and Mondayisation not confirmed in the 2020 text",
        ),
        Source(
            "extension",
            "Privacy Act 2020 s.48: extension for a reasonable period with notice; no fixed length (the engine counts none)",
            secondary="privacy-law trackers and law-firm summaries",
        ),
        Source("rights", "IPP 6 access, IPP 7 correction; no erasure right"),
        Source("regulator", "Privacy Act 2020 Part 5: complaint to the Privacy Commissioner"),
    ),
)
