"""The letters' own small markup, turned into plain text (reflowed) and into HTML.

A template renders to blocks separated by blank lines:

- a paragraph: its lines are joined and reflowed (text: to :data:`WIDTH` columns);
- a list: every line starts with ``- `` (one item a line, reflowed with a hanging indent);
- lines kept as they are: every line starts with ``| `` (the signature, an address);
- a verbatim line: it starts with four spaces (a one-time code, a link): never reflowed or broken.

The text form is what the subject reads in a mail client; the HTML form is built from the
output of the autoescaping environment (every value is escaped already), so this module only
adds tags around it and never unescapes anything.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Literal

WIDTH = 72

BlockKind = Literal["paragraph", "list", "lines", "verbatim"]


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    lines: tuple[str, ...]


def blocks(source: str) -> list[Block]:
    out: list[Block] = []
    for chunk in _chunks(source):
        if all(line.startswith("    ") for line in chunk):
            out.append(Block("verbatim", tuple(line.strip() for line in chunk)))
        elif all(line.startswith("- ") for line in chunk):
            out.append(Block("list", tuple(line[2:].strip() for line in chunk)))
        elif all(line.startswith("|") for line in chunk):
            out.append(Block("lines", tuple(line[1:].strip() for line in chunk)))
        else:
            out.append(Block("paragraph", (" ".join(line.strip() for line in chunk),)))
    return out


def _chunks(source: str) -> list[list[str]]:
    chunks: list[list[str]] = []
    current: list[str] = []
    for raw in source.splitlines():
        line = raw.rstrip()
        if not line.strip():
            if current:
                chunks.append(current)
                current = []
            continue
        current.append(line)
    if current:
        chunks.append(current)
    return chunks


def _fill(text: str, first: str = "", rest: str = "") -> str:
    # Long words (a link, a very long name) stay whole on a line of their own: a link broken
    # across lines does not work when clicked.
    return textwrap.fill(
        " ".join(text.split()),
        width=WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def to_text(source: str) -> str:
    parts: list[str] = []
    for b in blocks(source):
        if b.kind == "paragraph":
            parts.append(_fill(b.lines[0]))
        elif b.kind == "list":
            parts.append("\n".join(_fill(item, "- ", "  ") for item in b.lines))
        elif b.kind == "lines":
            parts.append("\n".join(b.lines))
        else:
            parts.append("\n".join("    " + line for line in b.lines))
    return "\n\n".join(parts) + "\n"


def to_html(escaped_source: str) -> str:
    """The body's HTML from the autoescaped rendering (values are escaped already)."""
    parts: list[str] = []
    for b in blocks(escaped_source):
        if b.kind == "paragraph":
            parts.append(f"<p>{' '.join(b.lines[0].split())}</p>")
        elif b.kind == "list":
            parts.append("<ul>" + "".join(f"<li>{item}</li>" for item in b.lines) + "</ul>")
        elif b.kind == "lines":
            parts.append('<p class="lines">' + "<br>".join(b.lines) + "</p>")
        else:
            parts.append('<p class="verbatim">' + "<br>".join(f"<code>{line}</code>" for line in b.lines) + "</p>")
    return "\n".join(parts)
