"""The demo's progress lines never break inside a word or an address (issue 13, item 3)."""

from __future__ import annotations

import io

from rich.table import Table

from dsar.demo.console import progress_console

URL = "http://127.0.0.1:4200/runs/flow-run/49a80c47-584c-4315-ab81-b790fc04f557"
LINE = f"  DSR-2026-000001: the run waits for you at [bold]{URL}[/]; enter the code from the outbox in its Resume form."


def test_on_a_terminal_lines_wrap_at_words_to_its_width_and_an_address_stays_whole() -> None:
    f = io.StringIO()
    progress_console(f, width=40, force_terminal=True, color_system=None).print(LINE)
    lines = f.getvalue().splitlines()
    assert len(lines) > 2
    assert f"  {URL};" in lines  # longer than the width: whole, on a line of its own
    for line in lines:
        assert line.startswith("  ")  # continuation keeps the indentation
        assert len(line) <= 40 or URL in line
    words = " ".join(line.strip() for line in lines).split()
    assert words == LINE.replace("[bold]", "").replace("[/]", "").split()  # nothing split, lost or added


def test_in_a_pipe_or_a_log_a_line_is_never_wrapped() -> None:
    f = io.StringIO()
    console = progress_console(f, width=40)
    console.print(LINE)
    assert f.getvalue() == LINE.replace("[bold]", "").replace("[/]", "") + "\n"
    t = Table("reference", "status")
    t.add_row("DSR-2026-000001", "closed")
    console.print(t)  # tables still render
    assert any("DSR-2026-000001" in row and "closed" in row for row in f.getvalue().splitlines()[1:])


def test_a_short_line_is_printed_as_it_is() -> None:
    f = io.StringIO()
    progress_console(f, width=80, force_terminal=True, color_system=None).print("Prefect UI at http://127.0.0.1:4200")
    assert f.getvalue() == "Prefect UI at http://127.0.0.1:4200\n"
