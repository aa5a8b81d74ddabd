"""Each regime's facts in words: the rows of `dsar regimes` and the table in docs/regimes.md.

docs/regimes.md is :func:`render_markdown`'s output (a unit test keeps the two equal), so the
documentation cannot drift from the data in :mod:`dsar.domain.regime_data`. Pure.
"""

from __future__ import annotations

from dsar.domain.regime_data._languages import WORDING
from dsar.domain.regimes import REGIMES, ClockKind, Regime


def response(r: Regime) -> str:
    c = r.clock
    if c.kind is ClockKind.MONTHS:
        return f"{c.months} month(s), rolled forward to a working day"
    if c.kind is ClockKind.WORKING_DAYS:
        return f"{c.days} working days after the day of receipt"
    if c.kind is ClockKind.TARGET:
        extra = f"; notice within {c.notice_within_days} days if longer" if c.notice_within_days else ""
        return f"'{c.law_words}': the organisation's target (DSAR_REASONABLE_PERIOD_DAYS){extra}"
    return f"{c.days} calendar days (receipt = day 1)"


def extension(r: Regime) -> str:
    c = r.clock
    unit = "month(s)" if c.kind is ClockKind.MONTHS else "days"
    if c.extension:
        return f"+{c.extension} {unit}; notice {c.extension_notice}"
    return f"none counted ({c.extension_notice})" if c.extension_notice else "none"


def rights(r: Regime) -> str:
    names = []
    for right in r.rights:
        names.append(right.type.value + (f" (from {right.since})" if right.since else ""))
    if r.portability:
        names.append("portability")
    return ", ".join(names)


def appeal(r: Regime) -> str:
    a = r.appeal
    if a is None:
        return "none"
    ext = f" +{a.extension}" if a.extension else ""
    route = "; a denial names the Attorney General complaint route" if a.complaint_route_required else ""
    return f"{a.days} days{ext} ({a.rule}){route}"


def sources(r: Regime) -> str:
    parts = []
    for s in r.sources:
        text = f"{s.fact}: {s.citation}"
        if s.confirmed:
            text += f" [confirmed: {s.confirmed}]"
        elif s.secondary:
            text += f" [secondary, not confirmed: {s.secondary}]"
        parts.append(text)
    return "; ".join(parts)


def regime_rows() -> list[dict[str, str]]:
    rows = []
    for r in REGIMES.values():
        rows.append(
            {
                "code": r.code,
                "aliases": ", ".join(r.aliases),
                "title": r.title,
                "citation": r.citation,
                "place": r.country + (f"-{'/'.join(sorted(r.subdivisions))}" if r.subdivisions and len(r.subdivisions) < 5 else ""),
                "effective": r.effective.isoformat() if r.effective else "",
                "response": response(r),
                "extension": extension(r),
                "acknowledge": f"{r.clock.acknowledge_business_days} business days" if r.clock.acknowledge_business_days else "",
                "rights": rights(r),
                "appeal": appeal(r),
                "regulator": r.regulator,
                "lookback": r.lookback_start.isoformat() if r.lookback_start else "",
                "rule": r.clock.rule,
                "sources": sources(r),
                "notes": r.notes,
            }
        )
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "—"


def render_markdown() -> str:
    """docs/regimes.md, generated (`python -m dsar.domain.regime_docs > docs/regimes.md`)."""
    out = [
        "# Regimes: every fact and its source",
        "",
        "Generated from `src/dsar/domain/regime_data/` (one module per regime) by",
        "`python -m dsar.domain.regime_docs > docs/regimes.md`; `tests/unit/test_regime_data.py` fails",
        "when this file and the data differ. `dsar regimes` prints the same table.",
        "",
        "A fact marked *secondary, not confirmed* comes from a law-firm or tracker summary and was not",
        "checked against the statute's text; *confirmed* names the text that was checked. Where a",
        "figure is uncertain the engine takes the shorter (earlier) period. A request received before",
        "a regime's effective date is refused at intake with the date the law takes effect.",
        "Appeals (request type `appeal`) exist where the appeal column names a period.",
        "",
        "| code | aliases | law | place | effective | response | extension | acknowledge | rights | appeal | regulator"
        " | look-back | sources |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in regime_rows():
        law = f"{row['title']} ({row['citation']})" + (f". {row['notes']}" if row["notes"] else "")
        cells = [
            f"`{row['code']}`",
            row["aliases"],
            law,
            row["place"],
            row["effective"],
            row["response"],
            row["extension"],
            row["acknowledge"],
            row["rights"],
            row["appeal"],
            row["regulator"],
            row["lookback"],
            row["sources"],
        ]
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    appealable = sorted(code for code, r in REGIMES.items() if r.appeal is not None)
    out += ["", f"Regimes with an appeal right ({len(appealable)}): " + ", ".join(f"`{c}`" for c in appealable) + ".", ""]
    out += [
        "## In German, French and Spanish letters",
        "",
        "From `src/dsar/domain/regime_data/_languages.py`: the regulator a letter names, the same body",
        "as above, by its official name in the letter's language where it has one, else by its",
        "official name with a description in that language; the law's title where it has an official",
        "one in that language (else the title above); the law's own words, translated. A letter in",
        "English prints the table above.",
        "",
        "| code | language | regulator | law | the law's words |",
        "|---|---|---|---|---|",
    ]
    for code, words in WORDING.items():
        for lang, w in words.items():
            out.append("| " + " | ".join(_cell(c) for c in (f"`{code}`", lang, w.regulator, w.title, w.law_words)) + " |")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render_markdown(), end="")
