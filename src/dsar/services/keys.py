"""Key rotation: re-wrap every request's data key under the key provider's current key.

The data keys themselves do not change, so nothing sealed has to be re-encrypted and the audit
log is untouched; only the wrapping changes. Safe to interrupt and run again.
"""

from __future__ import annotations

from dsar.services.context import ServiceContext


def rewrap_all(ctx: ServiceContext, batch: int = 1000) -> int:
    total = 0
    while True:
        with ctx.uow() as uow:
            n = uow.keys.rewrap(batch)
            uow.commit()
        total += n
        if n < batch:
            return total


def key_ids_in_use(ctx: ServiceContext) -> set[str]:
    with ctx.uow() as uow:
        return uow.keys.key_ids()
