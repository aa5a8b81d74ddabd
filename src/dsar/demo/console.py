"""The demo's progress lines (issue 13, item 3): never broken in the middle of a word or an
address.

Rich wraps a line longer than the console at words, but folds a word longer than a line (a run's
address in the Prefect UI, a folder path) in the middle, and when the output is not a terminal (a
pipe, a CI log) it wraps at 80 columns whatever reads it. Here: on a terminal a line wraps at
words to the terminal's width, a word longer than that stays whole on a line of its own (still
one address to click or copy); elsewhere a line is never wrapped.
"""

from __future__ import annotations

from typing import IO, Any

from rich.console import Console
from rich.text import Text


def wrap_at_words(text: Text, width: int) -> Text:
    """``text`` with line breaks at spaces so that each line fits ``width`` where its words
    allow; continuation lines keep the first line's indentation. Words are never split."""
    plain = text.plain
    if "\n" in plain or len(plain) <= width:
        return text
    indent = len(plain) - len(plain.lstrip(" "))
    cuts: list[int] = []
    start, room = 0, width
    while len(plain) - start > room:
        space = plain.rfind(" ", start + 1, start + room + 1)
        if space <= start + (indent if not cuts else 0):
            space = plain.find(" ", start + room)  # a word longer than the line: whole, then break
        if space == -1:
            break
        cuts.append(space)
        start, room = space + 1, max(width - indent, 1)
    if not cuts:
        return text
    pieces = text.divide(cuts)
    out = pieces[0]
    for piece in pieces[1:]:
        out.append("\n" + " " * indent)
        out.append_text(piece[1:])  # without the space the line broke at
    return out


class ProgressConsole(Console):
    """A console for progress lines: see the module's docstring."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if not self.is_terminal:
            kwargs.setdefault("soft_wrap", True)
        elif len(objects) == 1 and isinstance(objects[0], str) and not kwargs.get("soft_wrap"):
            markup = kwargs.pop("markup", None)
            text = self.render_str(objects[0], markup=markup, highlight=kwargs.pop("highlight", None))
            objects = (wrap_at_words(text, self.width),)
            kwargs["soft_wrap"] = True
        super().print(*objects, **kwargs)


def progress_console(file: IO[str] | None = None, **options: Any) -> ProgressConsole:
    return ProgressConsole(file=file, **options)
