"""Texts a letter prints in the subject's language: :class:`LocalText`.

A ``LocalText`` *is* its default text (English: a ``str``), so everything that is not a letter
— the console, the CLI, the audit trail, the Prefect forms, the recorded plan — goes on seeing
and storing exactly what it saw before. A letter's renderer asks it for the letter's language
(:meth:`LocalText.in_language`) and gets, in that order:

* ``words=(group, key)``: the approved vocabulary's text for the key (templates/vocabulary.toml,
  approved by legal like the letters: the engine's own reason codes and legal grounds), with
  ``{name}`` placeholders filled from ``args`` (each itself a LocalText or a plain string);
* ``variants``: the text in that language as its owner wrote it (the data map's translations,
  the regime data's names);
* else the default, unchanged.

``after`` is appended verbatim to a translation (legal's own words typed after a reason code:
they stay as typed). Pure: no I/O; the vocabulary is handed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

# The languages letters are written in (dsar.domain.letters.LETTER_LANGUAGES) and the default.
TEXT_LANGUAGES = ("en", "de", "fr", "es")
DEFAULT_LANGUAGE = "en"

Vocabulary = Mapping[str, Mapping[str, Mapping[str, str]]]


class LocalText(str):
    """A text that is its default (English) wording as a ``str`` and knows its translations.

    Equal to, and hashed as, its default text: two LocalTexts with the same English compare
    equal whatever their translations (they stand for the same thing)."""

    _variants: dict[str, str]
    _words: tuple[str, str] | None
    _args: dict[str, str]
    _after: str

    def __new__(
        cls,
        default: str,
        variants: Mapping[str, str] | None = None,
        *,
        words: tuple[str, str] | None = None,
        args: Mapping[str, str] | None = None,
        after: str = "",
    ) -> LocalText:
        self = super().__new__(cls, default)
        self._variants = {k: v for k, v in (variants or {}).items() if v}
        self._words = words
        self._args = dict(args or {})
        self._after = after
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (str(self), self._variants, self._words, self._args, self._after))

    @property
    def default(self) -> str:
        return str(self)

    @property
    def variants(self) -> Mapping[str, str]:
        """The translations its owner wrote, by language (the default's language excluded)."""
        return MappingProxyType(self._variants)

    def in_language(self, language: str, vocabulary: Vocabulary | None = None) -> str:
        """The text in ``language``: the vocabulary's words, else the owner's variant, else the
        default (see the module)."""
        if self._words is not None and vocabulary is not None:
            group, key = self._words
            found = vocabulary.get(group, {}).get(key, {}).get(language)
            if found:
                for name, value in self._args.items():
                    shown = value.in_language(language, vocabulary) if isinstance(value, LocalText) else str(value)
                    found = found.replace("{" + name + "}", shown)
                return found + self._after
        if language in self._variants:
            return self._variants[language] + self._after
        return str(self)


def _rebuild(default: str, variants: dict[str, str], words: tuple[str, str] | None, args: dict[str, str], after: str) -> LocalText:
    return LocalText(default, variants, words=words, args=args, after=after)


def in_language(value: object, language: str, vocabulary: Vocabulary | None = None) -> object:
    """``value`` as a letter in ``language`` prints it: a LocalText translated, anything else as is."""
    return value.in_language(language, vocabulary) if isinstance(value, LocalText) else value
