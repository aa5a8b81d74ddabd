"""templates/manifest.toml: which file writes which letter, for which regime, in which language.

``[letters.KIND.REGIME]`` maps a language to a file (``REGIME`` is a regime code or
``default``). A letter is looked up most specific first: the regime in the language, the
default in the language, the regime in English, the default in English. ``[texts.KIND.REGIME]``
does the same for plain-text messages (the verification SMS): no subject, no layout, no PDF.
``[files]`` names the files every letter also uses (the HTML page around it, the vocabulary):
they are approved like the letters and the texts. Errors name the manifest and what is wrong
in it.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

from dsar.domain.errors import ConfigurationError, NotFound

LANGUAGES = ("en", "de", "fr", "es")
FALLBACK_LANGUAGE = "en"
MANIFEST = "manifest.toml"


def version_of(content: bytes) -> str:
    """A template's version: the SHA-256 of its bytes (what legal approves)."""
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True)
class Entry:
    kind: str
    regime: str  # a regime code or "default"
    language: str
    path: str  # relative to the templates folder


@dataclass(frozen=True)
class Manifest:
    folder: Path
    entries: tuple[Entry, ...]
    layout: str  # the HTML page every letter is set in (mail's HTML part, the PDF)
    vocabulary: str  # words for the data map's categories and entities, per language
    texts: tuple[Entry, ...] = ()  # plain-text messages ([texts]): the SMS kinds

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        if not path.is_file():
            raise ConfigurationError(f"templates folder {folder} has no {MANIFEST}")
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"{path}: not valid TOML ({exc})") from None
        files = doc.get("files", {})
        layout, vocabulary = files.get("layout"), files.get("vocabulary")
        if not isinstance(layout, str) or not isinstance(vocabulary, str):
            raise ConfigurationError(f"{path}: [files] must name layout and vocabulary")
        entries = _entries(doc, "letters", path)
        texts = _entries(doc, "texts", path)
        both = {e.kind for e in entries} & {e.kind for e in texts}
        if both:
            raise ConfigurationError(f"{path}: {', '.join(sorted(both))} is both a letter and a text")
        manifest = cls(folder, tuple(entries), layout, vocabulary, tuple(texts))
        missing = [f for f in manifest.files() if not (folder / f).is_file()]
        if missing:
            raise ConfigurationError(f"{path} names files that do not exist: {', '.join(missing)}")
        return manifest

    def kinds(self) -> list[str]:
        """The letter kinds (texts apart: :meth:`text_kinds`)."""
        return sorted({e.kind for e in self.entries})

    def text_kinds(self) -> list[str]:
        return sorted({e.kind for e in self.texts})

    def candidates(self, kind: str, regime: str, language: str) -> list[tuple[str, str]]:
        order = [(regime, language), ("default", language), (regime, FALLBACK_LANGUAGE), ("default", FALLBACK_LANGUAGE)]
        return list(dict.fromkeys(order))

    def lookup(self, kind: str, regime: str, language: str, *, text: bool = False) -> Entry:
        """The file of a letter kind (``text``: of a text kind) for the regime and language."""
        by_key = {(e.regime, e.language): e for e in (self.texts if text else self.entries) if e.kind == kind}
        order = self.candidates(kind, regime, language)
        for key in order:
            if key in by_key:
                return by_key[key]
        looked = ", ".join(f"{r}.{lang}" for r, lang in order)
        raise NotFound(f"no template for {kind} ({regime}, {language}); looked for {looked} in {MANIFEST}")

    def letter_files(self) -> list[str]:
        return sorted({e.path for e in self.entries})

    def text_files(self) -> list[str]:
        return sorted({e.path for e in self.texts})

    def files(self) -> list[str]:
        """Every file a letter or a text can be made of: the letters, the texts, the shared
        partials, the layout and the vocabulary (what `dsar templates list` shows and legal
        approves)."""
        partials = sorted(str(p.relative_to(self.folder)) for p in (self.folder / "_partials").glob("*.j2"))
        return sorted({*self.letter_files(), *self.text_files(), *partials, self.layout, self.vocabulary})

    def entry_of(self, path: str) -> Entry | None:
        return next((e for e in (*self.entries, *self.texts) if e.path == path), None)


def _entries(doc: dict[str, object], table: str, path: Path) -> list[Entry]:
    """The entries of ``[letters]`` or ``[texts]``: KIND.REGIME.LANGUAGE = file."""
    entries: list[Entry] = []
    kinds = doc.get(table, {})
    if not isinstance(kinds, dict):
        raise ConfigurationError(f"{path}: [{table}] must be a table")
    for kind, regimes in kinds.items():
        if not isinstance(regimes, dict):
            raise ConfigurationError(f"{path}: {table}.{kind} must be a table of regimes")
        for regime, languages in regimes.items():
            if not isinstance(languages, dict):
                raise ConfigurationError(f"{path}: {table}.{kind}.{regime} must map languages to files")
            for language, file in languages.items():
                if language not in LANGUAGES or not isinstance(file, str):
                    raise ConfigurationError(f"{path}: {table}.{kind}.{regime}.{language}: a language of {', '.join(LANGUAGES)} and a file")
                entries.append(Entry(kind, regime, language, file))
    return entries
