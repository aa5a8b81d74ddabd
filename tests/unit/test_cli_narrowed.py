"""Issue 13, item 8: `dsar GROUP COMMAND ...` builds only the command it names (dsar.cli's
`_narrowed`), not the app's 60 commands. What the user sees must not change: for every command,
its help, its usage line on a missing argument and its error on an unknown option are the same
through the narrowed command as through the whole app, with the same exit code."""

from __future__ import annotations

import pytest
import typer
from typer.main import get_command_name
from typer.testing import CliRunner

from dsar.cli import _narrowed, app


def _commands(t: typer.Typer, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [(*path, c.name or get_command_name(c.callback.__name__)) for c in t.registered_commands if c.callback is not None]
    for g in t.registered_groups:
        assert g.typer_instance is not None and g.name is not None
        found += _commands(g.typer_instance, (*path, g.name))
    return found


COMMANDS = _commands(app)


def test_every_command_is_found() -> None:
    assert len(COMMANDS) > 50
    assert ("request", "show") in COMMANDS and ("legal", "queue") in COMMANDS and ("db", "upgrade") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("tail", [["--help"], ["--no-such-option"]])
def test_a_narrowed_command_answers_as_the_whole_app_does(path: tuple[str, ...], tail: list[str]) -> None:
    narrowed = _narrowed([*path, *tail])
    assert narrowed is not None
    single, prog_name, args = narrowed
    assert prog_name == " ".join(("dsar", *path)) and args == tail
    runner = CliRunner()
    whole = runner.invoke(app, [*path, *tail], prog_name="dsar")
    alone = runner.invoke(single, args, prog_name=prog_name)
    assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output)
    assert whole.exit_code == (0 if tail == ["--help"] else 2)
    assert f"dsar {' '.join(path)}" in whole.output


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["request"],
        ["request", "--help"],
        ["request", "no-such-command"],
        ["no-such-group", "show"],
        ["--json", "request", "show", "X"],
    ],
)
def test_anything_but_one_named_command_goes_to_the_whole_app(argv: list[str]) -> None:
    assert _narrowed(argv) is None


def test_the_arguments_after_the_command_are_passed_on_as_given() -> None:
    narrowed = _narrowed(["request", "show", "DSR-1", "--json", "--", "-x"])
    assert narrowed is not None
    assert narrowed[1:] == ("dsar request show", ["DSR-1", "--json", "--", "-x"])
