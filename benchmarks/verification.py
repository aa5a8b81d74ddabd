"""Identity verification over the demo shop: every customer × request shape, the subject acting
at once through the real web app (FastAPI test client): the link from the letter in the outbox,
then the data points and the declaration their level asks for, as the shop holds them.

Prints the share verified in one step (every proof right the first time: no wrong code, no
failed data points, no resend) and the time from submission (logged, verification started as
the flow's first task) to verified: median and p90, per shape and overall.

    uv run python benchmarks/verification.py [--subjects N]
"""

from __future__ import annotations

import argparse
import html
import re
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from dsar.app import build_app  # noqa: E402
from dsar.demo.run import latest_link  # noqa: E402
from dsar.demo.shop import seed_shop  # noqa: E402
from dsar.services import processing, queries, verification_summary  # noqa: E402
from dsar.services.intake import log_request  # noqa: E402
from dsar.services.orchestration import InMemoryOrchestrator  # noqa: E402
from dsar.settings import Settings  # noqa: E402
from dsar.web.app import create_app  # noqa: E402
from dsar.web.context import WebContext  # noqa: E402

SHAPES: dict[str, dict[str, Any]] = {
    "gdpr access": {"type": "access", "regime": "gdpr", "country": "DE"},
    "ccpa categories": {"type": "access", "regime": "ccpa", "country": "US", "subdivision": "CA", "access_scope": "categories"},
    "ccpa specific pieces": {"type": "access", "regime": "ccpa", "country": "US", "subdivision": "CA", "access_scope": "specific_pieces"},
    "ccpa deletion": {"type": "deletion", "regime": "ccpa", "country": "US", "subdivision": "CA"},
    "gdpr correction (phone)": {
        "type": "correction",
        "regime": "gdpr",
        "country": "DE",
        "corrections": [{"attribute": "phone", "value": "+49 30 1234567"}],
    },
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SESSION = re.compile(r'name="session" value="([^"]+)"')
_POINT = re.compile(r'name="point_([a-z]+)"')
_NEEDED = re.compile(r'data-needed="(\d+)"')


def _grab(pattern: re.Pattern[str], page: str) -> str:
    m = pattern.search(page)
    return html.unescape(m.group(1)) if m else ""


def customers(shop: Path) -> list[dict[str, str]]:
    with sqlite3.connect(shop) as db:
        rows = db.execute(
            "SELECT c.email, c.name, c.phone, a.street, a.city, a.postcode "
            "FROM customer c JOIN address a ON a.id = c.address_id ORDER BY c.id"
        ).fetchall()
    keys = ("email", "name", "phone", "street", "city", "postcode")
    return [dict(zip(keys, (str(v) for v in row), strict=True)) for row in rows]


def act(client: TestClient, link: str, held: dict[str, str]) -> int:
    """The subject on the pages; returns how many pages they submitted."""
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    page = client.get(path).text
    page = client.post(path, data={"csrf_token": _grab(_CSRF, page), "confirm": "yes"}).text
    posts = 1
    for _ in range(3):
        if 'action="/verify/points"' in page:
            asked = _POINT.findall(page)
            needed = int(_grab(_NEEDED, page) or "1")
            chosen = [p for p in ("postcode", "street", "city", "phone") if p in asked][:needed]
            data = {"csrf_token": _grab(_CSRF, page), "session": _grab(_SESSION, page)} | {f"point_{p}": held[p] for p in chosen}
            page = client.post("/verify/points", data=data).text
        elif 'action="/verify/declaration"' in page:
            data = {"csrf_token": _grab(_CSRF, page), "session": _grab(_SESSION, page), "full_name": held["name"], "agree": "yes"}
            page = client.post("/verify/declaration", data=data).text
        else:
            break
        posts += 1
    return posts


def approve_letters(ctx: Any) -> None:
    """Legal approves the letter templates (`dsar templates approve`): no letter goes out before."""
    from datetime import UTC, datetime

    from dsar.crypto.totp import code_at, secret_from_base32
    from dsar.services import accounts
    from dsar.services.templates import approve_templates

    accounts.add_user(ctx, "lena.legal", "legal", by="benchmark")
    secret = secret_from_base32(accounts.enrol_totp(ctx, "lena.legal", by="benchmark").secret)
    refused = approve_templates(ctx, [], "lena.legal", code_at(secret, datetime.now(UTC))).refused
    if refused is not None:
        raise SystemExit(f"template approval refused: {refused}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=0, help="only the first N customers (0: all)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dsar-verify-bench-"))
    try:
        maps = work / "map"
        maps.mkdir()
        shutil.copy(ROOT / "connectors" / "shop.yaml", maps / "shop.yaml")
        settings = Settings(home=work / "home", data_map_dir=maps, templates_dir=ROOT / "templates", _env_file=None)  # type: ignore[call-arg]
        seed_shop(settings.demo_shop_path)
        app = build_app(settings, migrate_schema=True)
        approve_letters(app.ctx)
        web = WebContext(app, InMemoryOrchestrator(), session_key=secrets.token_bytes(32))
        people = customers(settings.demo_shop_path)
        if args.subjects:
            people = people[: args.subjects]
        results: dict[str, list[tuple[bool, float, int, str]]] = {s: [] for s in SHAPES}
        fastapi = create_app(web)
        for shape, raw in SHAPES.items():
            for i, person in enumerate(people):
                # each subject from an address of their own: the pages allow 30 tries an hour per address
                with TestClient(fastapi, client=(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", 50000)) as client:
                    started = time.perf_counter()
                    submission = {**raw, "subject": {"name": person["name"], "emails": [person["email"]]}}
                    r = log_request(app.ctx, submission).request
                    processing.start_verification(app.ctx, r.id)
                    link = latest_link(settings.effective_outbox_dir, r.reference)
                    posts = act(client, link, person) if link else 0
                    elapsed = time.perf_counter() - started
                    verified = queries.lookup_id(app.ctx, r.id).status.value in ("verified", "withdrawn")
                    case = verification_summary.summary(app.ctx, r.id)
                    one_step = verified and case is not None and case.attempts == 0 and case.sends == 1
                    results[shape].append((one_step, elapsed, posts, case.level if case else "?"))
        print(f"identity verification: {len(people)} demo subjects x {len(SHAPES)} request shapes, the subject acting at once")
        print(f"{'shape':<26}{'level':<12}{'pages':>6}{'one step':>12}{'median s':>10}{'p90 s':>8}")
        everything: list[tuple[bool, float, int, str]] = []
        for shape, rows in results.items():
            everything += rows
            times = [t for ok, t, _, _ in rows if ok]
            share = f"{sum(ok for ok, *_ in rows)}/{len(rows)}"
            median = f"{statistics.median(times):.3f}" if times else "-"
            p90 = f"{pct(times, 0.9):.3f}" if times else "-"
            print(f"{shape:<26}{rows[0][3]:<12}{max(p for _, _, p, _ in rows):>6}{share:>12}{median:>10}{p90:>8}")
        times = [t for ok, t, _, _ in everything if ok]
        ok = sum(o for o, *_ in everything)
        timing = (
            f"submission -> verified median {statistics.median(times):.3f} s, p90 {pct(times, 0.9):.3f} s" if times else "none verified"
        )
        print(f"{'all':<38}{ok}/{len(everything)} ({100 * ok / len(everything):.0f}%) verified in one step; {timing}")
        app.engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
