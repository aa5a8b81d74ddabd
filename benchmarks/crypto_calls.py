"""How much cryptography one access request costs: data-key unwraps (with AWS KMS, each is a
KMS Decrypt call) and AES-GCM opens (decryptions of sealed fields, events and exports).

One GDPR access request for a demo-shop customer is logged, then runs through the services in
the order the `process-request` flow calls them (no Prefect), on a second engine as a flow
process would (nothing cached from intake): verification, planning, sign-off, execution, the
response letter. The calls are counted by observing the interpreter (``sys.setprofile``),
so the engine runs unmodified.

    uv run python benchmarks/crypto_calls.py

Prints the counts per step and in total; asserts nothing.
"""

from __future__ import annotations

import inspect
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from dsar.app import build_app
from dsar.crypto import fields, keys
from dsar.crypto.totp import code_at, secret_from_base32
from dsar.demo.run import latest_code
from dsar.demo.shop import seed_shop
from dsar.services import accounts
from dsar.services import processing as svc
from dsar.services.context import ServiceContext
from dsar.services.intake import log_request
from dsar.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
WATCHED = {
    fields.open_sealed.__code__: "open",
    keys.LocalKeyProvider.unwrap.__code__: "unwrap",
    keys.KmsKeyProvider.unwrap.__code__: "unwrap",
}


class CallCounter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            name = WATCHED.get(frame.f_code)
            # The KMS provider falls back to the local ring for legacy keys: count one call once.
            if name is not None and not (name == "unwrap" and frame.f_back is not None and frame.f_back.f_code in WATCHED):
                self.counts[name] += 1

    def measure(self, fn: Callable[[], Any]) -> Counter[str]:
        before = Counter(self.counts)
        sys.setprofile(self)
        try:
            fn()
        finally:
            sys.setprofile(None)
        return self.counts - before


def enrol_legal(ctx: ServiceContext, name: str = "lena.legal") -> bytes:
    """A legal account with an authenticator, as `dsar users add/totp` make it; its secret."""
    accounts.add_user(ctx, name, "legal", by="benchmark")
    return secret_from_base32(accounts.enrol_totp(ctx, name, by="benchmark").secret)


def approve_letters(ctx: ServiceContext) -> None:
    """Legal approves the letter templates (`dsar templates approve`): no letter goes out
    before. Another account than the sign-off's, whose code is good once per 30-second step."""
    from dsar.services.templates import approve_templates

    secret = enrol_legal(ctx, "tom.legal")
    result = approve_templates(ctx, [], "tom.legal", code_at(secret, ctx.clock()))
    assert result.refused is None, result.refused


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="dsar-crypto-bench-"))
    try:
        shop_map = work / "map"
        shop_map.mkdir()
        shutil.copy(ROOT / "connectors" / "shop.yaml", shop_map / "shop.yaml")
        settings = Settings(home=work / "home", data_map_dir=shop_map, templates_dir=ROOT / "templates", _env_file=None)  # type: ignore[call-arg]
        seed_shop(settings.demo_shop_path)
        params = inspect.signature(build_app).parameters
        app = build_app(settings, migrate_schema=True) if "migrate_schema" in params else build_app(settings)
        ctx = app.ctx
        approve_letters(ctx)
        counter = CallCounter()
        subject = {"name": "Jane Doe", "emails": ["jane.doe@example.com"]}
        submission = {"type": "access", "regime": "gdpr", "country": "DE", "subject": subject}
        request = counter.measure(lambda: None)  # warm-up of the profiler itself
        logged: list[Any] = []
        rows: list[tuple[str, Counter[str]]] = []
        rows.append(("log the request", counter.measure(lambda: logged.append(log_request(ctx, submission).request))))
        r = logged[0]
        # The flow runs in another process than the CLI that logged the request: a fresh engine,
        # with nothing cached, as `dsar serve` would start it.
        app.engine.dispose()
        app = build_app(settings, migrate_schema=True) if "migrate_schema" in params else build_app(settings)
        ctx = app.ctx
        rows.append(("send the one-time code", counter.measure(lambda: svc.start_verification(ctx, r.id))))
        code = latest_code(settings.effective_outbox_dir, r.reference)
        assert code is not None, "no code was mailed"
        rows.append(("check the code", counter.measure(lambda: svc.confirm_code(ctx, r.id, code))))
        rows.append(("plan", counter.measure(lambda: svc.plan_request(ctx, r.id))))
        rows.append(("sign-off form text", counter.measure(lambda: svc.plan_summary(ctx, r.id))))
        secret = enrol_legal(ctx)
        approve = svc.SignOff(svc.SignOffDecision.APPROVE)
        rows.append(
            (
                "record sign-off",
                counter.measure(
                    lambda: svc.record_sign_off(ctx, r.id, approve, "lena.legal", code_at(secret, ctx.clock()), via="benchmark")
                ),
            )
        )
        rows.append(("execute (export)", counter.measure(lambda: svc.execute_plan(ctx, r.id))))
        rows.append(("response letter", counter.measure(lambda: svc.send_response(ctx, r.id))))
        rows.append(("status check", counter.measure(lambda: svc.status_of(ctx, r.id))))
        del request
        total: Counter[str] = Counter()
        print(f"{'step':<24} {'unwrap (KMS calls)':>19} {'AES-GCM opens':>14}")
        for name, c in rows:
            total += c
            print(f"{name:<24} {c['unwrap']:>19} {c['open']:>14}")
        print(f"{'total':<24} {total['unwrap']:>19} {total['open']:>14}")
        print(f"final status: {svc.status_of(ctx, r.id).value}")
        app.engine.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
