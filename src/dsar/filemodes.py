"""Files at rest are private to the service account: the data folder is 0700 and every file
dsar (or a process it starts, such as the local Prefect server) creates is 0600, whatever the
umask of the shell that started it (databases, keys, exports, outbox mail, evidence bundles
hold personal data or secrets). Called at the entry points, never at import.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077


def restrict_new_files() -> None:
    """New files 0600 and folders 0700 in this process and the processes it starts."""
    os.umask(PRIVATE_UMASK)


def secure_home(home: Path) -> None:
    """Create the data folder 0700, and take group and other access away from one made earlier."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o077:
        home.chmod(mode & 0o700)
