"""`dsar db upgrade|status`, the schema check every other command makes, and files at rest
private to the service account (security probe, item 13), through the real command in its own
process (the umask is set by `dsar`'s entry point)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dsar(home: Path, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSAR_", "PREFECT_"))}
    env |= {
        "DSAR_HOME": str(home),
        "DSAR_PREFECT_PORT": "9",  # nothing answers there: no flow run is started
        "DSAR_DATA_MAP_DIR": str(ROOT / "connectors"),
        "DSAR_TEMPLATES_DIR": str(ROOT / "templates"),
    }
    return subprocess.run(
        [sys.executable, "-m", "dsar", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: os.umask(umask),  # noqa: PLW1509 - the shell's umask the command inherits
    )


NEW = ["request", "new", "--type", "access", "--regime", "gdpr", "--country", "DE", "--name", "Jane Doe", "--email", "jane.doe@example.com"]


def test_a_command_on_an_empty_database_refuses_and_names_the_upgrade(tmp_path: Path) -> None:
    r = dsar(tmp_path / "home", "request", "list")
    assert r.returncode == 1
    assert "run `dsar db upgrade`" in r.stderr
    status = dsar(tmp_path / "home", "db", "status")
    assert status.returncode == 1 and "empty" in status.stdout


def test_db_upgrade_brings_the_schema_up_and_is_safe_to_repeat(tmp_path: Path) -> None:
    first = dsar(tmp_path / "home", "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "empty ->" in first.stdout
    again = dsar(tmp_path / "home", "db", "upgrade")
    assert again.returncode == 0 and "(up to date)" in again.stdout
    assert dsar(tmp_path / "home", "db", "status").returncode == 0
    assert dsar(tmp_path / "home", "request", "list").returncode == 0


def test_the_data_folder_and_every_file_in_it_are_private_whatever_the_umask(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)  # made earlier by someone else, open to the group and others
    assert dsar(home, "db", "upgrade", umask=0o022).returncode == 0
    logged = dsar(home, *NEW, umask=0o022)
    assert logged.returncode == 0, logged.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "dsar.db" for p in files) and any(p.suffix == ".key" for p in files)
    loose = {str(p.relative_to(home)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert loose == {}
    folders = {str(p.relative_to(home)): oct(stat.S_IMODE(p.stat().st_mode)) for p in home.rglob("*") if p.is_dir()}
    assert all(mode == "0o700" for mode in folders.values()), folders
