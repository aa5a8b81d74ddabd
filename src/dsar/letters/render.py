"""Rendering of templates/ into letters: plain text, HTML and a PDF on the letterhead.

The file is chosen by templates/manifest.toml (:mod:`dsar.letters.manifest`), never by an
if-chain. Each template renders twice in jinja2's sandbox with strict undefined variables:
once without escaping for the plain-text body (reflowed to 72 columns by
:mod:`dsar.letters.markup`) and once with autoescape for the HTML body, set in the layout page
that is also the PDF's. Values a subject supplied are data, never template source: ``{{ ... }}``
in a name prints as typed, ``<b>`` prints as ``<b>``; control and bidirectional-override
characters are dropped from every value, and line breaks in a value become spaces (a value
cannot start a new paragraph or list).

Texts that exist in several languages (:class:`dsar.domain.texts.LocalText`: the data map's
titles, purposes and retention, the regime's regulator, legal's reason codes and grounds) are
printed in the language of the file the letter is rendered from, at this one place
(:func:`clean_all`): from the approved vocabulary, or from the translations their owner wrote,
else in English.

Each letter reports the files it was made of with their versions (SHA-256): the letter file,
every partial it imports, the layout and the vocabulary; the services send it only when legal
approved each of those versions (:mod:`dsar.services.templates`).
"""

from __future__ import annotations

import threading
import tomllib
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsar.domain.errors import ConfigurationError
from dsar.domain.regimes import REGIMES, regime_text
from dsar.domain.texts import LocalText, Vocabulary
from dsar.letters import markup
from dsar.letters.manifest import LANGUAGES, Manifest, version_of
from dsar.services.ports import RenderedLetter

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

__all__ = ["LetterRenderer", "RenderedLetter", "law_facts"]

# Bidirectional embeddings, overrides and isolates, and the marks: a value cannot reorder the
# letter's text around it (a name with U+202E printing the rest of the line backwards).
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
MAX_VALUE = 2000

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
}


def long_date(value: date | datetime, language: str) -> str:
    d = value.date() if isinstance(value, datetime) else value
    month = MONTHS.get(language, MONTHS["en"]).split()[d.month - 1]
    if language == "de":
        return f"{d.day}. {month} {d.year}"
    if language == "es":
        return f"{d.day} de {month} de {d.year}"
    return f"{d.day} {month} {d.year}"


def clean(value: Any) -> Any:
    """What a template prints of a value: strings without control or bidi characters, on one
    line, at most MAX_VALUE characters; other values as they are."""
    if not isinstance(value, str):
        return value
    out = "".join(
        " " if ch in "\r\n\t\v\f\u2028\u2029\x85" else "" if ch in _BIDI or unicodedata.category(ch) == "Cc" else ch for ch in value
    )
    return out if len(out) <= MAX_VALUE else out[: MAX_VALUE - 1] + "…"


def clean_all(value: Any, language: str = "en", vocabulary: Vocabulary | None = None) -> Any:
    """Every string inside the context cleaned (:func:`clean`), through dicts, lists and tuples:
    done to the values, not to the template's output, so a macro's own line breaks stay. A
    :class:`LocalText` is printed in ``language`` (the vocabulary's words or its owner's
    translation, else its English), then cleaned like any value."""
    if isinstance(value, LocalText):
        return clean(value.in_language(language, vocabulary))
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, Mapping):
        return {k: clean_all(v, language, vocabulary) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_all(v, language, vocabulary) for v in value]
    return value


def law_facts(regime: str, language: str = "en") -> dict[str, Any]:
    """The regime's facts a letter names (from dsar.domain.regime_data), in ``language``: the
    regulator, the law's title and its own words as :mod:`dsar.domain.regime_data._languages`
    gives them (English where it gives none). Never written per regime in the templates."""
    r = REGIMES.get(regime)
    if r is None:
        return {"code": regime, "title": "", "citation": "", "regulator": "", "appeal_days": None, "complaint_route": False,
                "law_words": None, "family": "other", "lookback_start": None}  # fmt: skip
    family = "gdpr" if r.code in ("gdpr", "uk-gdpr") else "ccpa" if r.code == "ccpa" else "us-state" if r.country == "US" else "other"
    return {
        "code": r.code,
        "title": regime_text(r, "title").in_language(language),
        "citation": r.citation,
        "regulator": regime_text(r, "regulator").in_language(language),
        "appeal_days": r.appeal.days if r.appeal else None,
        "complaint_route": bool(r.appeal and r.appeal.complaint_route_required),
        "law_words": regime_text(r, "law_words").in_language(language) if r.clock.law_words else None,
        "family": family,
        "lookback_start": r.lookback_start,
    }


class LetterRenderer:
    def __init__(self, templates_dir: Path) -> None:
        if not templates_dir.is_dir():
            raise ConfigurationError(f"templates folder {templates_dir} does not exist")
        self._templates_dir = templates_dir
        self._vocab_cache: tuple[tuple[int, int], dict[str, dict[str, dict[str, str]]]] | None = None
        self._references_cache: dict[tuple[str, str], tuple[str, ...]] = {}
        self._references_lock = threading.Lock()

    @property
    def folder(self) -> Path:
        return self._templates_dir

    @cached_property
    def manifest(self) -> Manifest:
        return Manifest.load(self._templates_dir)

    def _environment(self, html: bool) -> SandboxedEnvironment:
        from jinja2 import FileSystemLoader, StrictUndefined, pass_context
        from jinja2.runtime import Context
        from jinja2.sandbox import SandboxedEnvironment

        @pass_context
        def words(ctx: Context, key: str, group: str = "categories") -> str:
            """The vocabulary's words for a data-map name in the letter's language."""
            entry = self.vocabulary().get(group, {}).get(str(key))
            language = str(ctx.get("language", "en"))
            if entry:
                return entry.get(language) or entry.get("en") or str(key).replace("_", " ")
            return str(key).replace("_", " ")

        @pass_context
        def longdate(ctx: Context, value: date | datetime) -> str:
            return long_date(value, str(ctx.get("language", "en")))

        env = SandboxedEnvironment(
            loader=FileSystemLoader(str(self._templates_dir)),
            undefined=StrictUndefined,
            autoescape=html,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["words"] = words
        env.filters["longdate"] = longdate
        return env

    @cached_property
    def _text_env(self) -> SandboxedEnvironment:
        return self._environment(False)

    @cached_property
    def _html_env(self) -> SandboxedEnvironment:
        return self._environment(True)

    def _read_vocabulary(self, path: Path) -> dict[str, dict[str, dict[str, str]]]:
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"{path}: not valid TOML ({exc})") from None
        return {k: v for k, v in doc.items() if isinstance(v, dict)}

    def _sources(self, path: str, seen: set[str] | None = None) -> set[str]:
        """The file and every template it imports or includes (statically), recursively."""
        seen = set() if seen is None else seen
        if path in seen:
            return seen
        seen.add(path)
        for ref in self._references(path):
            self._sources(ref, seen)
        return seen

    def _references(self, path: str) -> tuple[str, ...]:
        """What one file imports or includes, parsed once per version of its text (the file is
        read each time, and parsed again when its text changed: ~4 ms a file otherwise, the
        larger part of rendering a letter)."""
        from jinja2 import meta

        data = (self._templates_dir / path).read_bytes()
        key = (path, version_of(data))
        found = self._references_cache.get(key)
        if found is None:
            parsed = self._text_env.parse(data.decode("utf-8"))
            found = tuple(ref for ref in meta.find_referenced_templates(parsed) if ref is not None)
            with self._references_lock:
                self._references_cache[key] = found
        return found

    def vocabulary(self) -> dict[str, dict[str, dict[str, str]]]:
        """Read again when the file changed (as jinja2 reloads a changed template): the words
        a letter prints are always those of the version it is approved by."""
        path = self._templates_dir / self.manifest.vocabulary
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._vocab_cache is None or self._vocab_cache[0] != stamp:
            self._vocab_cache = (stamp, self._read_vocabulary(path))
        return self._vocab_cache[1]

    def _globals(self, language: str, regime: str) -> dict[str, Any]:
        return {"language": language, "regime_facts": law_facts(regime, language)}

    def render(self, kind: str, regime: str, context: Mapping[str, Any], language: str = "en") -> RenderedLetter:
        language = language if language in LANGUAGES else "en"
        entry = self.manifest.lookup(kind, regime, language)
        values = {**self._globals(entry.language, regime), **clean_all(context, entry.language, self.vocabulary())}
        text = self._text_env.get_template(entry.path).render(values)
        escaped = self._html_env.get_template(entry.path).render(values)
        subject, body = _split(text, entry.path)
        _, html_body = _split(escaped, entry.path)
        page = self._html_env.get_template(self.manifest.layout).render(
            {**values, "subject": subject, "body_html": _markup(markup.to_html(html_body)), "lang": entry.language}
        )
        files = sorted(self._sources(entry.path) | {self.manifest.layout, self.manifest.vocabulary})
        sources = tuple((f, version_of((self._templates_dir / f).read_bytes())) for f in files)
        return RenderedLetter(
            template=entry.path,
            subject=subject,
            body=markup.to_text(body),
            html=page,
            version=dict(sources)[entry.path],
            language=entry.language,
            sources=sources,
        )

    def render_text(self, kind: str, regime: str, context: Mapping[str, Any], language: str = "en") -> RenderedLetter:
        """A plain-text message of a ``[texts]`` kind (an SMS): rendered in the sandbox without
        escaping, values cleaned as a letter's are, each paragraph (lines between blank lines)
        joined on one line. No subject, no HTML, no PDF; its sources (the file, what it
        imports, the vocabulary) must be approved like a letter's."""
        language = language if language in LANGUAGES else "en"
        entry = self.manifest.lookup(kind, regime, language, text=True)
        values = {**self._globals(entry.language, regime), **clean_all(context, entry.language, self.vocabulary())}
        text = self._text_env.get_template(entry.path).render(values)
        body = "\n".join(" ".join(" ".join(block.lines).split()) for block in markup.blocks(text))
        files = sorted(self._sources(entry.path) | {self.manifest.vocabulary})
        sources = tuple((f, version_of((self._templates_dir / f).read_bytes())) for f in files)
        return RenderedLetter(
            template=entry.path, subject="", body=body, version=dict(sources)[entry.path], language=entry.language, sources=sources
        )

    def pdf(self, letter: RenderedLetter) -> bytes:
        """The letter as a PDF on the letterhead (WeasyPrint; pango from scripts/ensure-weasyprint)."""
        return html_to_pdf(letter.html, self._templates_dir)


def _markup(html: str) -> Any:
    from markupsafe import Markup

    return Markup(html)  # noqa: S704 - built by markup.to_html from the autoescaped rendering


def _split(rendered: str, name: str) -> tuple[str, str]:
    first, _, rest = rendered.lstrip("\n").partition("\n")
    if not first.startswith("Subject: "):
        raise ConfigurationError(f"template {name} must start with a 'Subject: ' line")
    return first.removeprefix("Subject: ").strip(), rest


def warm_pdf() -> None:
    """Load WeasyPrint and its fonts now (``dsar serve`` at start): its import looks for the
    Pango libraries by running gcc, ld and ldconfig (ctypes.util.find_library), which a serving
    process should not do in the middle of a request, and the first PDF loads the fonts.
    ConfigurationError when it cannot load (its Debian libraries: scripts/ensure-weasyprint)."""
    try:
        html_to_pdf("<p>warm-up</p>", Path.cwd())
    except (ImportError, OSError) as exc:
        why = type(exc).__name__
        raise ConfigurationError(f"the PDF renderer (WeasyPrint) cannot load: {why}; run scripts/ensure-weasyprint") from None


def html_to_pdf(html: str, base: Path) -> bytes:
    import logging

    from weasyprint import HTML  # type: ignore[import-untyped]
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

    # WeasyPrint logs every CSS property it ignores at WARNING: not the subject's business,
    # and never a value, but noise in the flow run's logs.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    # A letter loads nothing but the templates folder's own files (the letterhead's logo): no
    # network, no data: URLs, nothing a value could point at.
    document = HTML(string=html, base_url=str(base), url_fetcher=URLFetcher(allowed_protocols={"file"}))
    pdf: bytes = document.write_pdf(font_config=_font_config())
    return pdf


_fonts = threading.local()


def _font_config() -> Any:
    """WeasyPrint's font configuration (a Pango font map), one per thread and reused for every
    PDF that thread makes: WeasyPrint builds a new one per document otherwise (~10 ms a PDF).
    Per thread, not per process: Pango's font maps are not made for use from two threads at
    once, and WeasyPrint's C calls run without the interpreter lock."""
    config = getattr(_fonts, "config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration  # type: ignore[import-untyped]

        config = _fonts.config = FontConfiguration()
    return config
