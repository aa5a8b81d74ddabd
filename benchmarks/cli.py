"""How long the `dsar` command takes to answer (issue 13, item 8): CPU seconds and wall.

Runs each command as a fresh process (``python -m dsar``, what the console script runs) several
times and prints the median CPU time (user + system, from the operating system's accounting of
the child) and the median wall time, with the machine's load average before and after: on a
shared machine the wall time follows the load, the CPU time much less.

* ``dsar --help``
* ``dsar request show REF`` (one request in a fresh SQLite database)
* ``dsar request new ... --no-start`` (a new subject each run, so each one is stored)
* ``dsar request new ...`` starting its flow run on a real local Prefect server (started here,
  with the ``process-request`` deployment registered and nothing serving it, so the runs stay
  Scheduled and cost the machine nothing while the next command is timed)

Targets on an idle 2-core machine: --help under 0.3 s, show under 0.5 s, new under 1 s.

    uv run python benchmarks/cli.py [--repeat 7] [--imports] [--no-prefect]

Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NEW = ["request", "new", "--type", "access", "--regime", "gdpr", "--country", "DE", "--name", "Bench Mark"]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(CPU seconds of the child, wall seconds, its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[2:])} failed ({done.returncode}): {done.stderr[-1500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, done.stdout


def heaviest_imports(args: list[str], env: dict[str, str], n: int = 10) -> list[tuple[int, str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "dsar", *args], env=env, capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and len(m.group(2)) <= 2:  # top-level and first-level imports: where the time goes
            rows.append((int(m.group(1)), m.group(2) + m.group(3)))
    return sorted(rows, reverse=True)[:n]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(api: str, path: str, body: dict[str, Any] | None = None, *, busy_for: float = 120.0) -> Any:
    """One call to Prefect's API; a 503 (the server answers /health before its database is
    ready, or is busy on a loaded machine) is retried for up to ``busy_for`` seconds."""
    data = None if body is None else json.dumps(body).encode()
    deadline = time.monotonic() + busy_for
    while True:
        req = urllib.request.Request(api + path, data=data, method="GET" if body is None else "POST")  # noqa: S310 - loopback
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or time.monotonic() > deadline:
                raise
            time.sleep(1)


def start_prefect(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A local Prefect server with the process-request deployment registered (nothing serves it)."""
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSAR_", "PREFECT_"))}
    env |= {"PREFECT_HOME": str(home), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    log = open(home / "server.log", "wb")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while True:
        try:
            _call(api, "/health")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.terminate()
                raise SystemExit("the Prefect server did not start: " + (home / "server.log").read_text()[-1500:]) from None
            time.sleep(1)
    try:
        flow = _call(api, "/flows/", {"name": "process-request"})
        _call(api, "/deployments/", {"name": "process-request", "flow_id": flow["id"]})
    except BaseException:
        proc.terminate()  # never leave the server behind
        proc.wait(timeout=60)
        raise
    return proc, api


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--imports", action="store_true", help="also print the heaviest imports per command")
    parser.add_argument("--no-prefect", action="store_true", help="skip `request new` with its flow run (no Prefect server)")
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dsar-cli-bench-") as tmp:
        home = Path(tmp) / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DSAR_", "PREFECT_"))}
        env |= {
            "DSAR_HOME": str(home),
            "DSAR_PREFECT_PORT": "9",
            "DSAR_DATA_MAP_DIR": str(ROOT / "connectors"),
            "DSAR_TEMPLATES_DIR": str(ROOT / "templates"),
            "PREFECT_HOME": str(Path(tmp) / "client-prefect"),
        }
        server: subprocess.Popen[bytes] | None = None
        if not opts.no_prefect:
            (Path(tmp) / "server").mkdir()
            server, api = start_prefect(Path(tmp) / "server")
        try:
            dsar = [sys.executable, "-m", "dsar"]
            timed([*dsar, "db", "upgrade"], env)
            _, _, out = timed([*dsar, *NEW, "--no-start", "--email", "bench-0@example.com", "--json"], env)
            ref = re.search(r'"reference": "([^"]+)"', out)
            assert ref is not None
            n = opts.repeat
            commands: dict[str, tuple[dict[str, str], list[list[str]]]] = {
                "python -c pass (the interpreter alone)": (env, [[sys.executable, "-c", "pass"]] * n),
                "dsar --help": (env, [[*dsar, "--help"]] * n),
                f"dsar request show {ref.group(1)}": (env, [[*dsar, "request", "show", ref.group(1)]] * n),
                "dsar request new ... --no-start": (
                    env,
                    [[*dsar, *NEW, "--no-start", "--email", f"bench-a{i}@example.com"] for i in range(n)],
                ),
            }
            if server is not None:
                with_run = env | {"PREFECT_API_URL": api}
                commands["dsar request new ... (starts its flow run)"] = (
                    with_run,
                    [[*dsar, *NEW, "--email", f"bench-b{i}@example.com"] for i in range(n)],
                )
            print(f"load average before: {load()}   ({n} runs each; median, min and max; seconds)")
            print(f"{'command':<46} {'CPU med':>8} {'CPU min':>8} {'CPU max':>8} {'wall med':>9} {'wall min':>9} {'wall max':>9}")
            for label, (run_env, runs) in commands.items():
                cpu, wall = [], []
                for cmd in runs:
                    c, w, stdout = timed(cmd, run_env)
                    cpu.append(c)
                    wall.append(w)
                    if "starts its flow run" in label and "Flow run started" not in stdout:
                        raise SystemExit(f"no flow run was started: {stdout}")
                print(
                    f"{label:<46} {statistics.median(cpu):8.3f} {min(cpu):8.3f} {max(cpu):8.3f}"
                    f" {statistics.median(wall):9.3f} {min(wall):9.3f} {max(wall):9.3f}"
                )
            print(f"load average after:  {load()}")
            if opts.imports:
                for label, args in (("--help", ["--help"]), ("request show", ["request", "show", ref.group(1)])):
                    print(f"\nheaviest imports of dsar {label} (cumulative microseconds):")
                    for us, name in heaviest_imports(args, env):
                        print(f"  {us:>9,}  {name}")
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    server.kill()


if __name__ == "__main__":
    main()
