"""Re-wrapping data keys (dsar.services.keys)."""

from __future__ import annotations

from dsar.services.keys import key_ids_in_use, rewrap_all
from tests.unit.services.conftest import World


def test_every_data_key_is_rewrapped_under_the_new_master_key_in_batches_and_once(world: World) -> None:
    for i in range(5):
        world.log(subject={"name": f"P{i}", "emails": [f"p{i}@example.com"]})
    assert key_ids_in_use(world.ctx) == {"memory-1"}
    world.db.rotate_master_key("memory-2")
    assert rewrap_all(world.ctx, batch=2) == 5
    assert key_ids_in_use(world.ctx) == {"memory-2"}
    assert rewrap_all(world.ctx, batch=2) == 0


def test_rewrapping_leaves_the_audit_log_alone(world: World) -> None:
    world.log()
    events = world.db.committed_events
    world.db.rotate_master_key("memory-2")
    rewrap_all(world.ctx)
    assert world.db.committed_events == events
