"""Prefect reads its settings when imported; a process that imported it already (a test
session, a long-lived server) and then configures another API must talk to the new one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    os.environ["PREFECT_API_URL"] = "http://127.0.0.1:7/api"
    import prefect  # imported first, pointing at port 7
    from prefect.settings import get_current_settings
    assert str(get_current_settings().api.url) == "http://127.0.0.1:7/api"
    from dsar.orchestration.prefect import configure_environment
    from dsar.settings import Settings
    settings = Settings(home=Path(sys.argv[1]), prefect_api_url="http://127.0.0.1:9/api", _env_file=None)
    configure_environment(settings)
    print(get_current_settings().api.url)
    """
)


def test_configuring_another_api_after_prefect_was_imported_points_its_clients_there(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DSAR_"))}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "http://127.0.0.1:9/api"
