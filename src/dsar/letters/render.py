"""Rendering of templates/ into letters and emails.

Templates are chosen by a lookup list, most specific first — ``<kind>/<regime>.<lang>.txt.j2``,
then ``<kind>/default.<lang>.txt.j2``, then English — never by an if-chain. Rendering runs in
jinja2's sandbox with strict undefined variables; values a subject supplied are data, never
template source, so ``{{ ... }}`` in a name prints as typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsar.domain.errors import ConfigurationError, NotFound
from dsar.services.ports import RenderedLetter

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

__all__ = ["LetterRenderer", "RenderedLetter"]


class LetterRenderer:
    def __init__(self, templates_dir: Path) -> None:
        if not templates_dir.is_dir():
            raise ConfigurationError(f"templates folder {templates_dir} does not exist")
        self._templates_dir = templates_dir

    @cached_property
    def _env(self) -> SandboxedEnvironment:
        """jinja2, imported when the first letter is rendered (not by every command)."""
        from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
        from jinja2.sandbox import SandboxedEnvironment

        return SandboxedEnvironment(
            loader=FileSystemLoader(str(self._templates_dir)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    @staticmethod
    def candidates(kind: str, regime: str, language: str) -> list[str]:
        return [
            f"{kind}/{regime}.{language}.txt.j2",
            f"{kind}/default.{language}.txt.j2",
            f"{kind}/{regime}.en.txt.j2",
            f"{kind}/default.en.txt.j2",
        ]

    def render(self, kind: str, regime: str, context: Mapping[str, Any], language: str = "en") -> RenderedLetter:
        names = self.candidates(kind, regime, language)
        env = self._env
        from jinja2 import TemplateNotFound  # imported with the environment above

        try:
            template = env.select_template(names)
        except TemplateNotFound:
            raise NotFound(f"no template for {kind} ({regime}, {language}); looked for {', '.join(names)}") from None
        text = template.render(**context)
        # First line "Subject: ..." is the email subject; the rest is the body.
        first, _, rest = text.partition("\n")
        if not first.startswith("Subject: "):
            raise ConfigurationError(f"template {template.name} must start with a 'Subject: ' line")
        return RenderedLetter(template=str(template.name), subject=first.removeprefix("Subject: ").strip(), body=rest.lstrip("\n"))
