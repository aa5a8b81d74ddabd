"""The access package's readable index (``index.html`` in the zip), in the request's language.

Its fixed wording comes from a translation table per language,
``locales/package_index.LANG.json`` beside this module (as the web pages' texts do,
:mod:`dsar.web.i18n`): every key in every language with the same ``{name}`` placeholders (a
unit test checks), the English of the withheld reasons equal to the engine's own
(:data:`dsar.services.redaction.REASONS`, :data:`~dsar.services.redaction.DOCUMENT_REASONS`).
The data map's texts (a system's title, purposes, legal basis, recipients, retention, source; a
field's ``description``) print in the request's language where the data map gives it, else in
English (:class:`dsar.domain.texts.LocalText`). Names (systems, entities, fields, files,
categories) print as they are: they are the names of the files and columns in the zip.

Everything that is not the table's own wording is escaped: a value can never become markup.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from dsar.domain.texts import DEFAULT_LANGUAGE, TEXT_LANGUAGES, in_language
from dsar.services.redaction import field_maps
from dsar.services.zipstream import safe_name

LOCALES_DIR = Path(__file__).parent / "locales"


@cache
def index_texts(language: str) -> Mapping[str, str]:
    """The index's wording in ``language`` (one of :data:`TEXT_LANGUAGES`; else English)."""
    if language not in TEXT_LANGUAGES:
        language = DEFAULT_LANGUAGE
    texts = json.loads((LOCALES_DIR / f"package_index.{language}.json").read_text(encoding="utf-8"))
    if not isinstance(texts, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in texts.items()):
        raise ValueError(f"package_index.{language}.json: a locale file is a JSON object of texts")
    return texts


class _Index:
    """Wording for one language: ``t(key, name=markup)`` is the table's text, escaped, with
    each placeholder filled with ``markup`` (already escaped by the caller)."""

    def __init__(self, language: str) -> None:
        self.language = language if language in TEXT_LANGUAGES else DEFAULT_LANGUAGE
        self._texts = index_texts(self.language)
        self._english = index_texts(DEFAULT_LANGUAGE)

    def raw(self, key: str) -> str:
        return self._texts.get(key) or self._english[key]

    def __call__(self, key: str, **markup: object) -> str:
        return html.escape(self.raw(key), quote=False).format(**markup)

    def plural(self, key: str, n: int, **markup: object) -> str:
        return self(f"{key}.one" if n == 1 else f"{key}.other", n=n, **markup)

    def local(self, value: object) -> str:
        """A data map text in this language (else its English), escaped."""
        return html.escape(str(in_language(value, self.language)))

    def date(self, value: date | datetime) -> str:
        d = value.date() if isinstance(value, datetime) else value
        month = self.raw("date.months").split()[d.month - 1]
        day = self.raw("date.first_day") if d.day == 1 else str(d.day)
        return html.escape(self.raw("date").format(day=day, month=month, year=d.year))

    def reason(self, why: str) -> str:
        return self(f"reason.{why}") if f"reason.{why}" in self._english else html.escape(why)

    def document_reason(self, why: str) -> str:
        return self(f"document_reason.{why}") if f"document_reason.{why}" in self._english else html.escape(why)


def _code(text: str) -> str:
    return f"<code>{html.escape(text)}</code>"


def index_html(
    *,
    language: str,
    organisation: str,
    contact: str,
    reference: str,
    received: date | datetime,
    prepared: date | datetime,
    lookback: date | None,
    data_map: Sequence[Any],
    summaries: Sequence[Mapping[str, Any]],
) -> str:
    """The package's readable index: what each system is, what each file holds, what each
    field means (from the data map), and what was withheld and why; in ``language``."""
    t = _Index(language)
    e = html.escape
    maps = {m.system: m for m in data_map}
    org = e(organisation)
    out = [
        f"<!doctype html><html lang='{t.language}'><head><meta charset='utf-8'>",
        f"<title>{t('title', organisation=org)} ({e(reference)})</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em;text-align:left;vertical-align:top}</style>",
        "</head><body>",
        f"<h1>{t('title', organisation=org)}</h1>",
        f"<p>{t('request', reference=e(reference), received=t.date(received), prepared=t.date(prepared))}</p>",
        f"<p>{t('files', json=_code('.json'), csv=_code('.csv'), documents=_code('documents'))}</p>",
    ]
    if lookback is not None:
        out.append(f"<p><strong>{t('period.title')}</strong> {t('period.text', start=t.date(lookback))}</p>")
    withheld_any = False
    for s in summaries:
        m = maps.get(str(s["system"]))
        out.append(f"<h2>{t.local(m.title) if m is not None else e(str(s['system']))}</h2>")
        if m is not None:
            recipients = "; ".join(t.local(r) for r in m.recipients) or t("system.no_recipients")
            out.append("<dl>")
            out.append(f"<dt>{t('system.purposes')}</dt><dd>{'; '.join(t.local(p) for p in m.purposes)}</dd>")
            out.append(f"<dt>{t('system.legal_basis')}</dt><dd>{t.local(m.legal_basis)}</dd>")
            out.append(f"<dt>{t('system.recipients')}</dt><dd>{recipients}</dd>")
            out.append(f"<dt>{t('system.retention')}</dt><dd>{t.local(m.retention)}</dd>")
            out.append(f"<dt>{t('system.source')}</dt><dd>{t.local(m.source)}</dd></dl>")
        meanings = field_maps(m) if m is not None else {}
        system = safe_name(str(s["system"]))
        for entity, info in s.get("entities", {}).items():
            files = f"{system}/{safe_name(entity)}.json, {system}/{safe_name(entity)}.csv"
            n = int(info.get("records", 0))
            out.append(f"<h3>{t.plural('entity.records', n, entity=e(entity))}</h3><p>{t('entity.files', files=_code(files))}</p>")
            known = {**meanings.get("*", {}), **meanings.get(entity, {})}
            rows = []
            for col in info.get("columns", []):
                fm = known.get(col)
                if fm is not None:
                    what = t.local(fm.description) if fm.description else e(fm.category.replace("_", " "))
                else:
                    what = t("fields.document") if col == "file" else ""
                rows.append(f"<tr><td>{_code(col)}</td><td>{what or t('fields.as_held')}</td></tr>")
            if rows:
                out.append(f"<table><tr><th>{t('fields.name')}</th><th>{t('fields.meaning')}</th></tr>" + "".join(rows) + "</table>")
            gone = s.get("withheld_fields", {}).get(entity, {})
            if gone:
                withheld_any = True
                items = "".join(f"<li>{t('withheld.field', name=_code(f), reason=t.reason(why))}</li>" for f, why in sorted(gone.items()))
                out.append(f"<p>{t('withheld.fields')}</p><ul>{items}</ul>")
        docs = s.get("documents", [])
        if docs:
            out.append(f"<p>{t.plural('documents', len(docs), folder=_code(f'{system}/documents/'))}</p>")
        kept_back = s.get("withheld_documents", [])
        if kept_back:
            withheld_any = True
            items = "".join(
                f"<li>{t('withheld.document', name=_code(d['name']), reason=t.document_reason(d['reason']))}</li>" for d in kept_back
            )
            out.append(f"<p>{t('withheld.documents')}</p><ul>{items}</ul>")
    text_withheld = any(k.startswith("text:") for s in summaries for k in s.get("withheld", {}))
    if withheld_any or text_withheld:
        out.append(f"<h2>{t('left_out.title')}</h2><p>{t('left_out.text', marker=_code('[withheld: ...]'))}</p>")
    out.append(f"<p>{t('questions', contact=e(contact))}</p></body></html>")
    return "\n".join(out)
