"""The access package's index in the request's language (dsar.services.package_index): the
table's wording in English, German, French and Spanish, the data map's texts in that language
(else English), withheld fields and documents explained in it, and every value inert."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
import string

import pytest

from dsar.connectors.schema import EntityMap, FieldMap, SqlSystem
from dsar.domain.texts import TEXT_LANGUAGES
from dsar.services import processing as svc
from dsar.services.package_index import index_texts
from dsar.services.redaction import DOCUMENT_REASONS, REASONS
from tests.documents import PNG, make_pdf
from tests.unit.services.conftest import JANE, World, download_package
from tests.unit.services.fakes import FakeSystem
from tests.unit.services.test_package import answered

CARD = "4111 1111 1111 1111"
HOSTILE = "<script>alert(1)</script>{organisation}{0}"

# The data map's own translations, as an organisation writes them (docs/data-map.md).
TITLE = {"en": "Online shop", "de": "Onlineshop", "fr": "Boutique en ligne", "es": "Tienda en línea"}
PURPOSE = {"en": "Running your account", "de": "Führung Ihres Kontos", "fr": "Gestion de votre compte", "es": "Gestión de su cuenta"}
EMAIL = {
    "en": "The email address you gave us",
    "de": "Die E-Mail-Adresse, die Sie uns genannt haben",
    "fr": "L'adresse e-mail que vous nous avez indiquée",
    "es": "La dirección de correo electrónico que nos dio",
}
# The table's headings each language must show (and English must not).
HEADINGS = ("system.purposes", "system.legal_basis", "fields.meaning", "withheld.fields", "withheld.documents", "left_out.title")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def shop_map(*, translated: bool = True, hostile: bool = False) -> SqlSystem:
    def text(table: dict[str, str]) -> object:
        if hostile:
            return {lang: f"{value} {HOSTILE}" for lang, value in table.items()}
        return table if translated else table["en"]

    fields = {
        "email": FieldMap(category="contact", description=text(EMAIL)),  # type: ignore[arg-type]
        "tax_number": FieldMap(category="identity", withhold="government_id"),
        "referrer": FieldMap(category="referral", withhold="third_party"),
        "nickname": FieldMap(category="profile_<b>"),
    }
    return SqlSystem(
        system="shop",
        title=text(TITLE),  # type: ignore[arg-type]
        type="sql",
        connection="SHOP_URL",
        purposes=[text(PURPOSE)],  # type: ignore[list-item]
        legal_basis=text({"en": "Contract", "de": "Vertrag", "fr": "Contrat", "es": "Contrato"}),  # type: ignore[arg-type]
        recipients=[],
        retention="10 years",  # English only: every language shows it as it is
        source="You",
        entities={"customer": EntityMap(table="customer", key="id", identity={"email": "email"}, fields=fields)},
    )


def shop_data(doc_name: str = "statement.pdf") -> FakeSystem:
    docs = {doc_name: make_pdf(f"Card {CARD} charged 12.00"), "passport.png": PNG}
    uploads = [{"key": f"uploads/{name}", "email": JANE, "content_base64": base64.b64encode(body).decode()} for name, body in docs.items()]
    customer = {"key": "1", "email": JANE, "tax_number": "DE-TAX-1", "referrer": "Bob", "nickname": "<i>Jane</i>", "<u>x</u>{0}": "y"}
    return FakeSystem("shop", rows={"customer": [customer], "uploads": uploads})


def index_of(w: World, language: str) -> str:
    rid = answered(w, language=language)
    files = download_package(w, rid)
    return files[f"{svc.reference_of(w.ctx, rid)}-your-data/index.html"].decode()


# --- the table --------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", TEXT_LANGUAGES)
def test_every_key_in_every_language_with_the_same_placeholders(lang: str) -> None:
    english, texts = index_texts("en"), index_texts(lang)
    assert set(texts) == set(english)
    for key, text in texts.items():
        assert text.strip() and placeholders(text) == placeholders(english[key]), (lang, key)
    assert len(texts["date.months"].split()) == 12
    if lang != "en":
        assert all(texts[k] != english[k] for k in HEADINGS), lang


def test_every_reason_is_in_the_table_and_its_english_is_the_engine_s() -> None:
    english = index_texts("en")
    assert {k: english[f"reason.{k}"] for k in REASONS} == REASONS
    assert {k: english[f"document_reason.{k}"] for k in DOCUMENT_REASONS} == DOCUMENT_REASONS


# --- the index --------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", TEXT_LANGUAGES)
def test_the_index_is_in_the_request_s_language(lang: str) -> None:
    index = index_of(World([shop_data()], (shop_map(),)), lang)
    texts = index_texts(lang)
    page = html.unescape(index)
    assert f"<html lang='{lang}'>" in index
    for key in HEADINGS:
        assert texts[key] in page, key
    # the data map's texts in the language it gives them in
    assert f"<h2>{html.escape(TITLE[lang])}</h2>" in index and PURPOSE[lang] in page and EMAIL[lang] in page
    assert "10 years" in page  # given in English only
    # withheld fields and documents, explained in the language
    for name, reason in (("tax_number", "government_id"), ("referrer", "third_party")):
        line = texts["withheld.field"].format(name=name, reason=texts[f"reason.{reason}"])
        assert f"<li>{line}</li>" in re.sub("</?code>", "", page), name
    for name, reason in (("statement.pdf", "financial_account"), ("passport.png", "unscannable")):
        line = texts["withheld.document"].format(name=name, reason=texts[f"document_reason.{reason}"])
        assert line in re.sub("</?code>", "", page), name
    assert texts["title"].format(organisation="Example Shop Ltd") in page
    if lang != "en":
        english = index_texts("en")
        assert all(english[k] not in page for k in HEADINGS)


def test_the_dates_are_written_in_the_language() -> None:
    index = html.unescape(index_of(World([shop_data()], (shop_map(),)), "fr"))
    assert re.search(r"Demande DSR-\d{4}-\d{6}, reçue le 2 mars 2026\. Préparée le \d{1,2}(er)? \w+ 2026\.", index), index[:800]


def test_the_index_falls_back_to_english_where_the_data_map_has_only_english() -> None:
    index = html.unescape(index_of(World([shop_data()], (shop_map(translated=False),)), "fr"))
    fr = index_texts("fr")
    assert "<h2>Online shop</h2>" in index and PURPOSE["en"] in index and EMAIL["en"] in index
    assert fr["system.purposes"] in index and fr["fields.meaning"] in index  # the table's wording in French all the same
    assert TITLE["fr"] not in index and EMAIL["fr"] not in index


@pytest.mark.parametrize("lang", TEXT_LANGUAGES)
def test_hostile_values_stay_inert_in_every_language(lang: str) -> None:
    w = World([shop_data(doc_name="<img src=x onerror=alert(1)>{0}.pdf")], (shop_map(hostile=True),))
    w.ctx = dataclasses.replace(w.ctx, policy=dataclasses.replace(w.ctx.policy, organisation_name="Evil <script>x</script> {title} Ltd"))
    index = index_of(w, lang)
    assert "<script>" not in index and "<img" not in index and "<b>" not in index and "<i>" not in index and "<u>" not in index
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{organisation}{0}" in index  # printed as typed, never filled in
    assert "Evil &lt;script&gt;x&lt;/script&gt; {title} Ltd" in index
    assert "&lt;img src=x onerror=alert(1)&gt;{0}.pdf" in index and "<code>&lt;u&gt;x&lt;/u&gt;{0}</code>" in index
    assert re.findall(r"<(\w+)", index) and set(re.findall(r"<(\w+)", index)) <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "code", "strong",
        "dl", "dt", "dd", "table", "tr", "th", "td", "ul", "li",
    }  # fmt: skip
