"""The public pages' languages: English, German, French and Spanish (more by adding a catalog).

The language comes from ``?lang=`` (the switch; remembered in a cookie), then the ``lang``
cookie, then ``Accept-Language``; English when nothing matches. Catalogs are plain dicts:
every key must exist in every language (a unit test checks), English is the fallback.

Each part of the web app may keep its texts in ``locales/<part>.<lang>.json`` beside this
module (e.g. ``public.de.json``): they are merged into ``CATALOGS`` at import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}
DEFAULT_LANGUAGE = "en"

CATALOGS: dict[str, dict[str, str]] = {
    "en": {
        "site.title": "Privacy requests",
        "error.title": "Something is not right",
        "error.back": "Go back",
        "lang.switch": "Language",
    },
    "de": {
        "site.title": "Datenschutzanfragen",
        "error.title": "Etwas stimmt nicht",
        "error.back": "Zurück",
        "lang.switch": "Sprache",
    },
    "fr": {
        "site.title": "Demandes relatives à vos données personnelles",
        "error.title": "Quelque chose ne va pas",
        "error.back": "Retour",
        "lang.switch": "Langue",
    },
    "es": {
        "site.title": "Solicitudes de privacidad",
        "error.title": "Algo no está bien",
        "error.back": "Volver",
        "lang.switch": "Idioma",
    },
}


LOCALES_DIR = Path(__file__).parent / "locales"


def _load_locales(catalogs: dict[str, dict[str, str]], folder: Path = LOCALES_DIR) -> None:
    for path in sorted(folder.glob("*.*.json")):
        lang = path.stem.rsplit(".", 1)[1]
        texts = json.loads(path.read_text(encoding="utf-8"))
        if lang not in LANGUAGES or not isinstance(texts, dict) or not all(isinstance(v, str) for v in texts.values()):
            raise ValueError(f"{path.name}: a locale file is a JSON object of texts in one of {', '.join(LANGUAGES)}")
        catalogs[lang].update(texts)


_load_locales(CATALOGS)


def negotiate(query_lang: str | None, cookie_lang: str | None, accept_language: str | None) -> str:
    for candidate in (query_lang, cookie_lang):
        if candidate and candidate.lower() in LANGUAGES:
            return candidate.lower()
    best: tuple[float, str] | None = None
    for part in (accept_language or "")[:500].split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if lang in LANGUAGES and q > 0 and (best is None or q > best[0]):
            best = (q, lang)
    return best[1] if best else DEFAULT_LANGUAGE


class Translator:
    """``t("key", name=value)``: the language's text, else English, else the key itself."""

    def __init__(self, lang: str, catalogs: Mapping[str, Mapping[str, str]] = CATALOGS) -> None:
        self.lang = lang if lang in catalogs else DEFAULT_LANGUAGE
        self._own = catalogs[self.lang]
        self._fallback = catalogs[DEFAULT_LANGUAGE]

    def __call__(self, key: str, **values: object) -> str:
        text = self._own.get(key) or self._fallback.get(key) or key
        return text.format(**values) if values else text
