"""The queue's filters (services.queries.request_list) on the in-memory unit of work: status,
regime, type, due date, exact reference, pages; soonest due first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dsar.domain.errors import InvalidInput
from dsar.domain.request import Status
from dsar.services import queries
from dsar.services.admin import withdraw_request
from tests.unit.services.conftest import World


def refs(rows: list[queries.RequestSummary]) -> list[str]:
    return [r.reference for r in rows]


@pytest.fixture
def three(world: World) -> dict[str, queries.RequestRef]:
    a = world.log()  # gdpr access, due in a month
    b = world.log(type="deletion", received_at=(world.clock.now - timedelta(days=20)).date().isoformat())
    c = world.log(
        type="access",
        regime="ccpa",
        country="US",
        subdivision="CA",
        access_scope="categories",
        subject={"name": "Max Mustermann", "emails": ["max@example.com"]},
    )
    withdraw_request(world.ctx, c, "by phone")
    return {k: queries.lookup_id(world.ctx, v) for k, v in (("a", a), ("b", b), ("c", c))}


def test_soonest_due_first(world: World, three: dict[str, queries.RequestRef]) -> None:
    rows = queries.request_list(world.ctx)
    assert [r.due for r in rows] == sorted(r.due for r in rows)
    assert refs(rows)[0] == three["b"].reference


def test_filters_by_regime_type_status_and_reference(world: World, three: dict[str, queries.RequestRef]) -> None:
    assert refs(queries.request_list(world.ctx, regime="ccpa")) == [three["c"].reference]
    assert refs(queries.request_list(world.ctx, request_type="deletion")) == [three["b"].reference]
    assert refs(queries.request_list(world.ctx, Status.WITHDRAWN)) == [three["c"].reference]
    assert refs(queries.request_list(world.ctx, reference=three["a"].reference.lower())) == [three["a"].reference]
    assert queries.request_list(world.ctx, regime="gdpr", request_type="deletion", reference=three["a"].reference) == []


def test_pages(world: World, three: dict[str, queries.RequestRef]) -> None:
    every = refs(queries.request_list(world.ctx))
    assert refs(queries.request_list(world.ctx, limit=2)) + refs(queries.request_list(world.ctx, limit=2, offset=2)) == every
    assert queries.request_list(world.ctx, offset=10) == []


def test_a_malformed_reference_or_an_unknown_type_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput):
        queries.request_list(world.ctx, reference="<script>")
    with pytest.raises(InvalidInput):
        queries.request_list(world.ctx, request_type="everything")
