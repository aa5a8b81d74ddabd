"""Required content, as data (src/dsar/letters/required.toml): every letter kind x regime x
language that applies is rendered from the shipped templates and checked against it, in its
text and its HTML; a sample also as PDF, read back with pypdf. Hostile values (HTML, jinja
syntax, very long strings, right-to-left marks) render inert in all three.

The context's human texts come in the four languages as the data map, the regime data and the
vocabulary give them (:class:`LocalText`): a German, French or Spanish letter prints them in its
language and holds none of their English (nor the regime's English regulator)."""

from __future__ import annotations

import html
import io
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from dsar.domain.decisions import DenialReason, denial_reason_text
from dsar.domain.exemptions import LegalGround, ground_text, kept_field_text
from dsar.domain.regime_model import RequestType
from dsar.domain.regimes import REGIMES, regime_text
from dsar.domain.texts import LocalText
from dsar.letters.manifest import LANGUAGES
from dsar.letters.render import LetterRenderer, law_facts, long_date

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = tomllib.loads((ROOT / "src" / "dsar" / "letters" / "required.toml").read_text(encoding="utf-8"))
RENDERER = LetterRenderer(ROOT / "templates")
VOCABULARY = RENDERER.vocabulary()

RECEIVED = date(2026, 11, 2)
SENT = date(2026, 11, 27)


def local(en: str, de: str, fr: str, es: str) -> LocalText:
    """A data-map text in the four languages (as `title: {en: ..., de: ..., ...}` loads)."""
    return LocalText(en, {"de": de, "fr": fr, "es": es})


SHOP = local("Online shop", "Onlineshop", "Boutique en ligne", "Tienda en línea")
CARRIER = local("Parcel carrier", "Paketdienst", "Transporteur de colis", "Empresa de paquetería")
SYSTEM = {
    "title": SHOP,
    "purposes": [
        local(
            "Running your customer account",
            "Führung Ihres Kundenkontos",
            "Gestion de votre compte client",
            "Gestión de su cuenta de cliente",
        ),
        local("Taking your orders", "Annahme Ihrer Bestellungen", "Prise de vos commandes", "Recepción de sus pedidos"),
    ],
    "legal_basis": local("Performance of a contract", "Vertragserfüllung", "Exécution d'un contrat", "Ejecución de un contrato"),
    "recipients": [CARRIER],
    "third_country_transfers": [
        local(
            "Payment processor in the United States under the SCCs",
            "Zahlungsdienstleister in den USA, Standardvertragsklauseln",
            "Prestataire de paiement aux États-Unis, clauses contractuelles types",
            "Procesador de pagos en Estados Unidos, cláusulas contractuales tipo",
        )
    ],
    "retention": local("Orders 10 years", "Bestellungen 10 Jahre", "Commandes 10 ans", "Pedidos 10 años"),
    "source": local("Collected from you", "Bei Ihnen erhoben", "Collectées auprès de vous", "Recogidos de usted"),
}
INVOICES_KEPT = local(
    "invoices kept 10 years", "Rechnungen 10 Jahre aufbewahrt", "factures conservées 10 ans", "facturas conservadas 10 años"
)
COMMERCIAL_LAW = local(
    "kept 10 years under commercial law",
    "10 Jahre nach Handelsrecht aufbewahrt",
    "conservé 10 ans selon le droit commercial",
    "conservado 10 años según el derecho mercantil",
)
# Legal's code with words typed after it: the code's sentence translated, the words as typed.
DENIAL = denial_reason_text(DenialReason.UNVERIFIABLE, "code 7")
GROUND = ground_text(LegalGround.GDPR_17_3_E)
HOLD = ground_text(LegalGround.LEGAL_HOLD)
HOLD_FIELD = kept_field_text("postcode", LegalGround.LEGAL_HOLD)


def context(kind: str, regime: str, name: str = "Jane Doe") -> dict[str, Any]:
    request_type = {
        "deletion_response": "deletion",
        "partial_refusal": "deletion",
        "recipient_notice": "deletion",
        "correction_response": "correction",
        "appeal_outcome": "appeal",
    }.get(kind, "access")
    return {
        "request": {
            "reference": "DSR-2026-000042",
            "type": request_type,
            "regime": regime,
            "received": RECEIVED,
            "subject_name": name,
            "access_scope": "specific_pieces" if regime == "ccpa" and kind == "access_response" else None,
        },
        "organisation": "Example Shop Ltd",
        "contact": "privacy@example-shop.test",
        "sent_on": SENT,
        "due": date(2026, 12, 2),
        "code": "48213907",
        "link": "https://privacy.example-shop.test/verify/l/3q2-7wEAAAB2b3VjaGVy",
        "code_page": "https://privacy.example-shop.test/verify",
        "resend_page": "https://privacy.example-shop.test/verify/resend",
        "agent": False,
        "expires_at": datetime(2026, 11, 5, 9, 30, tzinfo=UTC),
        "new_due": date(2027, 2, 2),
        "previous_due": date(2026, 12, 2),
        "reasons": "Twelve systems hold records about you",
        "systems": [SYSTEM],
        "categories": ["contact", "postal_address"],
        "record_count": 7,
        "found": True,
        "manual": [],
        "erasure": [
            {"system": SHOP, "entity": "customer", "rows": 1, "action": "anonymise"},
            {"system": SHOP, "entity": "order_line", "rows": 3, "action": "retain", "reason": INVOICES_KEPT},
            # legal kept one field of the addresses, the others were anonymised
            {
                "system": SHOP,
                "entity": "address",
                "rows": 1,
                "action": "anonymise",
                "reason": HOLD_FIELD,
                "fields": ["street", "city"],
                "keep": ["postcode"],
                "kept": [{"field": "postcode", "reason": HOLD, "ground": "legal-hold"}],
            },
        ],
        "corrections": [{"attribute": "phone", "systems": [SHOP]}],
        "recipients": [CARRIER],
        "notified": [CARRIER],
        "denial_reason": DENIAL,
        "appeal_url": "https://forms.example-shop.test/?appeal_of=DSR-2026-000042",
        "appealed_reference": "DSR-2026-000007",
        "appealed_type": "access",
        "outcome": "upheld",
        "law": regime_text(REGIMES[regime], "title"),
        "regulator": regime_text(REGIMES[regime], "regulator"),
        "complaint_route_required": True,
        "refused": [
            {"system": SHOP, "entity": "orders", "rows": 3, "reason": COMMERCIAL_LAW},
            {"system": SHOP, "entity": "customer", "rows": 1, "reason": GROUND},
        ],
        "recipient": "Carrier Express GmbH",
        "action": "erasure",
        "person": {"name": name, "emails": ["jane.doe@example.com"]},
        "package": {"url": "https://forms.example-shop.test/package#t0ken", "expires_at": datetime(2026, 12, 4, 9, 0, tzinfo=UTC)},
    }


def word(group: str, key: str, language: str) -> str:
    entry = VOCABULARY[group][key]
    return entry.get(language) or entry["en"]


def say(value: Any, language: str) -> str:
    """A context value as a letter in ``language`` prints it."""
    return value.in_language(language, VOCABULARY) if isinstance(value, LocalText) else str(value)


def expected(fact: str, kind: str, regime: str, language: str, ctx: dict[str, Any]) -> list[str]:
    """The strings a fact means in one letter (each must appear)."""
    facts = law_facts(regime, language)
    d = lambda value: long_date(value, language)  # noqa: E731
    s = lambda value: say(value, language)  # noqa: E731
    system = ctx["systems"][0]
    table: dict[str, list[str]] = {
        "reference": [ctx["request"]["reference"]],
        "received": [d(RECEIVED)],
        "sent_on": [d(SENT)],
        "organisation": [ctx["organisation"]],
        "contact": [ctx["contact"]],
        "redress": [facts["regulator"]] + ([f" {facts['appeal_days']} "] if facts["appeal_days"] else []),
        "law_words": [facts["law_words"]] if facts["law_words"] else [],
        "code": [ctx["code"]],
        "expires": ["09:30"],
        "due": [d(ctx["due"])],
        "new_due": [d(ctx["new_due"])],
        "previous_due": [d(ctx["previous_due"])],
        "reasons": [ctx["reasons"]],
        "categories": [word("categories", c, language) for c in ctx["categories"]],
        "purposes": [s(p) for p in system["purposes"]],
        "legal_basis": [s(system["legal_basis"])],
        "recipients": [s(x) for x in ctx["recipients"]],
        "retention": [s(system["retention"])],
        "source": [s(system["source"])],
        "transfers": [s(x) for x in system["third_country_transfers"]],
        "lookback": [d(facts["lookback_start"])] if facts["lookback_start"] else [],
        "erasure": [
            word("entities", "customer", language),
            word("entities", "order_line", language),
            s(INVOICES_KEPT),
            # what an anonymisation under legal's field exemption erased, and what it kept, on which ground
            word("entities", "address", language),
            f"{word('attributes', 'street', language)}, {word('attributes', 'city', language)}",
            f"{word('attributes', 'postcode', language)}, ",
            s(HOLD),
        ],
        "corrections": [word("attributes", "phone", language), s(SHOP)],
        "denial_reason": [s(ctx["denial_reason"])],
        "appeal_url": [ctx["appeal_url"]],
        "outcome_reasons": [ctx["reasons"]],
        "appealed_reference": [ctx["appealed_reference"]],
        "refused": [word("entities", "orders", language), s(COMMERCIAL_LAW), s(GROUND)],
        "recipient": [ctx["recipient"]],
        "package_link": [ctx["package"]["url"]],
        "person": [ctx["person"]["name"], "jane.doe@example.com"],
        "notified": [s(x) for x in ctx["notified"]],
    }
    return table[fact]


def english_texts(ctx: Any, regime: str, language: str) -> list[str]:
    """The English of every text of the context and of the regime's facts that has a wording in
    ``language``: a letter in that language must hold none of them."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, LocalText):
            if value.in_language(language, VOCABULARY) != str(value):
                found.append(str(value))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk(ctx)
    for fact in ("regulator", "title", "law_words"):
        text = regime_text(REGIMES[regime], fact)
        if text and text.in_language(language) != str(text):
            found.append(str(text))
    return found


def applies(kind: str, regime: str) -> bool:
    r = REGIMES[regime]
    if kind == "appeal_outcome":
        return r.appeal is not None
    if kind == "correction_response":
        return any(x.type is RequestType.CORRECTION for x in r.rights)
    if kind == "recipient_notice":
        return any(x.type in (RequestType.DELETION, RequestType.CORRECTION) for x in r.rights)
    if kind == "extension":
        return r.clock.extension is not None
    return True


def facts_for(kind: str, regime: str) -> list[str]:
    rules = REQUIRED[kind]
    family = law_facts(regime)["family"]
    return [*rules.get("all", []), *rules.get(family, []), *(rules.get(regime, []) if regime != family else [])]


CASES = [(k, r, lang) for k in sorted(REQUIRED) for r in sorted(REGIMES) for lang in LANGUAGES if applies(k, r)]


def flat(text: str) -> str:
    return " ".join(text.split())


def test_every_kind_of_the_manifest_has_required_content_and_every_language() -> None:
    kinds = set(RENDERER.manifest.kinds())
    assert set(REQUIRED) <= kinds
    for kind in kinds:
        languages = {e.language for e in RENDERER.manifest.entries if e.kind == kind and e.regime == "default"}
        assert languages == set(LANGUAGES), kind


def test_the_context_has_english_to_keep_out_of_other_languages() -> None:
    """The check above is real: the contexts carry texts with translations, and the regime's
    regulator has its own in each language."""
    ctx = context("access_response", "gdpr")
    english = english_texts(ctx, "gdpr", "de")
    assert {"Online shop", "Orders 10 years", "Parcel carrier", REGIMES["gdpr"].regulator} <= set(english)
    assert {str(DENIAL), str(GROUND), str(COMMERCIAL_LAW), str(INVOICES_KEPT)} <= set(english)
    assert english_texts(ctx, "gdpr", "en") == []


def test_the_cases_cover_every_regime_and_language() -> None:
    assert {r for _, r, _ in CASES} == set(REGIMES) and {lang for *_, lang in CASES} == set(LANGUAGES)
    assert len(CASES) > 1500


@pytest.mark.parametrize("kind", sorted(REQUIRED))
def test_every_letter_says_what_its_law_requires_in_every_language(kind: str) -> None:
    """One test per kind, each rendering every regime x language (1,500+ letters in all)."""
    failures = []
    for k, regime, language in CASES:
        if k != kind:
            continue
        ctx = context(kind, regime)
        letter = RENDERER.render(kind, regime, ctx, language)
        assert letter.language == language, (kind, regime, language, letter.template)
        text, page = flat(letter.body), flat(html.unescape(letter.html))
        for fact in facts_for(kind, regime):
            for want in expected(fact, kind, regime, language, ctx):
                if want not in text or want.strip() not in page:
                    failures.append(f"{letter.template} ({regime}, {language}): {fact} {want!r}")
        if language != "en":
            for english in english_texts(ctx, regime, language):
                if english in text or english in page:
                    failures.append(f"{letter.template} ({regime}, {language}): English {english!r}")
        assert all(len(line) <= 72 or " " not in line.strip() for line in letter.body.splitlines()), letter.template
        for internal in ("postal_address", "order_line", "{{", "{%"):
            assert internal not in letter.body, (letter.template, internal)
    assert failures == []


HOSTILE = [
    "<script>alert(1)</script><b>Jane</b>",
    "{{ 7*7 }}{% for x in range(3) %}x{% endfor %}",
    "Jane \u202eeoD\u202c \u200fRTL\u200e \u2067isolate\u2069",
    "J" * 5000,
    "Jane\r\nBcc: victim@example.org\n\n- injected list item",
]


@pytest.mark.parametrize("name", HOSTILE, ids=["html", "jinja", "bidi", "long", "newlines"])
def test_hostile_values_render_inert_in_text_html_and_pdf(name: str) -> None:
    from pypdf import PdfReader

    letter = RENDERER.render("denial", "gdpr", context("denial", "gdpr", name=name), "en")
    page = letter.html
    text = letter.body
    assert "49" not in text and "xxx" not in text  # never evaluated
    assert "<script>" not in page and "<b>Jane" not in page  # escaped in HTML
    if "<script>" in name:
        assert "&lt;script&gt;" in page and "<script>alert(1)</script>" in text  # text shows it as typed
    for mark in ("\u202e", "\u202c", "\u200f", "\u200e", "\u2067", "\u2069"):
        assert mark not in text and mark not in page
    assert "\nBcc:" not in text and "<li>injected" not in page  # a value never starts a line or a list
    if len(name) > 2000:
        assert "J" * 1999 + "…" in flat(text) and "J" * 2001 not in text
    pdf = RENDERER.pdf(letter)
    extracted = "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "DSR-2026-000042" in extracted and "supervisory authority" in flat(extracted)
    assert "\u202e" not in extracted and "49" not in extracted.replace("2026-000042", "")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_letter_as_pdf_reads_back_with_its_required_content(language: str) -> None:
    from pypdf import PdfReader

    ctx = context("deletion_response", "gdpr")
    letter = RENDERER.render("deletion_response", "gdpr", ctx, language)
    pdf = RENDERER.pdf(letter)
    assert pdf.startswith(b"%PDF-")
    extracted = flat("".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages))
    for fact in facts_for("deletion_response", "gdpr"):
        for want in expected(fact, "deletion_response", "gdpr", language, ctx):
            assert flat(want) in extracted, (language, fact, want)
    assert "Example Shop Ltd" in extracted and letter.subject in extracted


@pytest.mark.parametrize("name", HOSTILE, ids=["html", "jinja", "bidi", "long", "newlines"])
def test_a_hostile_translation_renders_inert_like_any_value(name: str) -> None:
    """A data map's translation is a value like any other: cleaned, escaped, never template source."""
    ctx = context("access_response", "gdpr")
    ctx["systems"] = [{**SYSTEM, "title": LocalText("Online shop", {"de": name}), "retention": LocalText("Orders 10 years", {"de": name})}]
    letter = RENDERER.render("access_response", "gdpr", ctx, "de")
    text, page = letter.body, letter.html
    assert "49" not in text and "xxx" not in text and "<script>" not in page and "<b>Jane" not in page
    assert not any(mark in text or mark in page for mark in ("\u202e", "\u202c", "\u200f", "\u200e", "\u2067", "\u2069"))
    assert "\nBcc:" not in text and "<li>injected" not in page
    assert "Online shop" not in text and "Orders 10 years" not in text
