"""Issue 13, item 8: `dsar --help` answers without importing the database, the settings, Prefect
or the domain model. The help runs as `dsar` does (``python -m dsar``: its main(), in a process
of its own) and its imports are read from ``-X importtime``: what a module imports at module
level, or a command's import moved up again, shows here as a module that should not be there.

tests/integration/test_cli.py holds the same check for `request show`, which needs a database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

# Never needed to print help: each costs tens to hundreds of milliseconds at every start. (Not
# pydantic itself: typer reads a sub-command's options through it.)
NOT_FOR_HELP = (
    "alembic",
    "cryptography",
    "holidays",
    "jwt",
    "phonenumbers",
    "prefect",
    "pydantic_settings",
    "sqlalchemy",
    "sqlmodel",
    "dsar.app",
    "dsar.settings",
    "dsar.domain.events",
    "dsar.domain.request",
    "dsar.persistence",
    "dsar.services",
)


def imported_by(*args: str) -> set[str]:
    """The modules `dsar ARGS` imports (it must succeed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSAR_", "PREFECT_"))}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dsar", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage" in done.stdout
    return {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", done.stderr, re.MULTILINE)}


@pytest.mark.parametrize("args", [["--help"], ["request", "--help"], ["request", "show", "--help"], ["request", "new", "--help"]])
def test_help_imports_no_database_settings_prefect_or_domain_model(args: list[str]) -> None:
    modules = imported_by(*args)
    assert "dsar.cli" in modules  # the import times were read
    heavy = sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in NOT_FOR_HELP))
    assert heavy == [], f"dsar {' '.join(args)} imports {heavy}"
