"""How long the `dsar` command takes to answer (issue 13, item 8).

Times, as fresh processes (``python -m dsar``, what the console script runs), the median of
several runs of:

* ``dsar --help``
* ``dsar request show REF`` (one request in a fresh SQLite database)
* ``dsar request new ... --no-start`` (a new subject each run, so each one is stored)

Targets on an idle 2-core machine: --help under 0.3 s, show under 0.5 s, new under 1 s. Also
prints the bare interpreter's start for comparison, and, with ``--imports``, the ten heaviest
imports of each command (``python -X importtime``).

    uv run python benchmarks/cli_startup.py [--repeat 7] [--imports]

Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEW = ["request", "new", "--type", "access", "--regime", "gdpr", "--country", "DE", "--name", "Bench Mark", "--no-start"]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[2:])} failed ({done.returncode}): {done.stderr[-1500:]}")
    return elapsed, done.stdout


def heaviest_imports(args: list[str], env: dict[str, str], n: int = 10) -> list[tuple[int, str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "dsar", *args], env=env, capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and len(m.group(2)) <= 2:  # top-level and first-level imports: where the time goes
            rows.append((int(m.group(1)), m.group(2) + m.group(3)))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--imports", action="store_true", help="also print the heaviest imports per command")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dsar-cli-bench-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DSAR_", "PREFECT_"))}
        env |= {
            "DSAR_HOME": home,
            "DSAR_PREFECT_PORT": "9",
            "DSAR_DATA_MAP_DIR": str(ROOT / "connectors"),
            "DSAR_TEMPLATES_DIR": str(ROOT / "templates"),
        }
        dsar = [sys.executable, "-m", "dsar"]
        timed([*dsar, "db", "upgrade"], env)
        _, out = timed([*dsar, *NEW, "--email", "bench-0@example.com", "--json"], env)
        ref = re.search(r'"reference": "([^"]+)"', out)
        assert ref is not None
        commands: dict[str, list[list[str]]] = {
            "python -c pass (the interpreter alone)": [[sys.executable, "-c", "pass"]] * opts.repeat,
            "dsar --help": [[*dsar, "--help"]] * opts.repeat,
            f"dsar request show {ref.group(1)}": [[*dsar, "request", "show", ref.group(1)]] * opts.repeat,
            "dsar request new ... --no-start": [[*dsar, *NEW, "--email", f"bench-{i + 1}@example.com"] for i in range(opts.repeat)],
        }
        print(f"{'command':<46} {'median':>8} {'min':>8} {'max':>8}   (seconds, {opts.repeat} runs each)")
        for label, runs in commands.items():
            times = [timed(cmd, env)[0] for cmd in runs]
            print(f"{label:<46} {statistics.median(times):8.3f} {min(times):8.3f} {max(times):8.3f}")
        if opts.imports:
            for label, args in (("--help", ["--help"]), ("request show", ["request", "show", ref.group(1)])):
                print(f"\nheaviest imports of dsar {label} (cumulative microseconds):")
                for us, name in heaviest_imports(args, env):
                    print(f"  {us:>9,}  {name}")


if __name__ == "__main__":
    main()
