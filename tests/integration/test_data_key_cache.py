"""The data-key cache: one per process and engine, so a request's key is unwrapped once (with
KMS, one call), never served once shredded or after its wrapping changed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from dsar.app import App
from dsar.crypto import KeyProvider
from dsar.domain.events import RequestLogged
from dsar.persistence.uow import SqlUnitOfWorkFactory
from dsar.services.intake import log_request
from dsar.services.ports import RequestQuery

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class CountingKeys(KeyProvider):
    """The engine's key provider, counting unwraps (what would be KMS Decrypt calls)."""

    def __init__(self, inner: KeyProvider) -> None:
        self.inner = inner
        self.key_id = inner.key_id
        self.unwraps = 0

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        return self.inner.wrap(data_key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        self.unwraps += 1
        return self.inner.unwrap(wrapped, context)

    def derive(self, purpose: str) -> bytes:
        return self.inner.derive(purpose)


def a_request(app: App, name: str = "Jane Doe", email: str = "jane.doe@example.com") -> str:
    raw = {"type": "access", "regime": "gdpr", "country": "DE", "subject": {"name": name, "emails": [email]}}
    return log_request(app.ctx, raw).request.id


def counting_factory(app: App, max_cached_keys: int = 100) -> tuple[SqlUnitOfWorkFactory, CountingKeys]:
    """A second process on the same database: its own cache, counting its unwraps."""
    ctx_factory = app.ctx.uow
    assert isinstance(ctx_factory, SqlUnitOfWorkFactory)
    keys = CountingKeys(ctx_factory.keys)
    return SqlUnitOfWorkFactory(app.engine, keys, ctx_factory.index, max_cached_keys=max_cached_keys), keys


def test_a_second_unit_of_work_for_the_same_request_does_not_unwrap_its_key_again(sqlite_app: App) -> None:
    rid = a_request(sqlite_app)
    uows, keys = counting_factory(sqlite_app)
    with uows() as uow:
        assert uow.requests.get(rid).subject.name == "Jane Doe"
        assert uow.audit.events(rid)[0].details["reference"]  # same transaction: same key
    assert keys.unwraps == 1
    for _ in range(3):
        with uows() as uow:
            assert uow.requests.get(rid).subject.name == "Jane Doe"
            uow.audit.append([RequestLogged(rid, NOW, reference="x")])
            uow.commit()
    assert keys.unwraps == 1
    assert rid in uows.cache


def test_reading_without_personal_data_unwraps_nothing(sqlite_app: App) -> None:
    rid = a_request(sqlite_app)
    uows, keys = counting_factory(sqlite_app)
    with uows() as uow:
        facts = uow.requests.facts(rid)
        listed = uow.requests.query(RequestQuery())
        reference = facts.reference
        assert uow.requests.id_for_reference(reference) == rid and not uow.requests.is_shredded(rid)
    assert facts.subject.name == "[not opened]" and [r.id for r in listed] == [rid]
    assert keys.unwraps == 0


def test_shredding_evicts_the_key_and_nothing_serves_it_afterwards(sqlite_app: App) -> None:
    rid = a_request(sqlite_app)
    uows, keys = counting_factory(sqlite_app)
    with uows() as uow:
        uow.requests.get(rid)
    assert rid in uows.cache
    with uows() as uow:
        uow.requests.shred(rid, NOW)
        uow.commit()
    assert rid not in uows.cache
    with uows() as uow:
        assert uow.requests.get(rid).subject.name == "[shredded]"
        assert {e.kind: e.details for e in uow.audit.events(rid)}["RequestLogged"] == {"shredded": True}
        assert uow.requests.is_shredded(rid)


def test_a_key_shredded_by_another_process_is_not_served_from_this_ones_cache(sqlite_app: App) -> None:
    rid = a_request(sqlite_app)
    uows, _ = counting_factory(sqlite_app)
    with uows() as uow:
        uow.requests.get(rid)
    with sqlite_app.ctx.uow() as other:  # the other process (its own cache)
        other.requests.shred(rid, NOW)
        other.commit()
    assert rid in uows.cache  # this process was not told ...
    with uows() as uow:  # ... and still serves nothing: the wrapped key is gone
        assert uow.requests.get(rid).subject.name == "[shredded]"
        assert {e.kind: e.details for e in uow.audit.events(rid)}["RequestLogged"] == {"shredded": True}


def test_a_key_re_wrapped_elsewhere_is_unwrapped_again_and_the_old_entry_dropped(sqlite_app: App) -> None:
    rid = a_request(sqlite_app)
    uows, keys = counting_factory(sqlite_app)
    with uows() as uow:
        uow.requests.get(rid)
    assert keys.unwraps == 1
    # Another process re-wraps the key (a rotation): same data key, different wrapped bytes.
    with sqlite_app.engine.begin() as c:
        c.execute(text("UPDATE request_key SET key_id = 'old' WHERE request_id = :r"), {"r": rid})
    with sqlite_app.ctx.uow() as other:
        assert other.keys.rewrap() == 1
        other.commit()
    with uows() as uow:
        assert uow.requests.get(rid).subject.name == "Jane Doe"
    assert keys.unwraps == 2


def test_the_cache_is_bounded_least_recently_used_first_out(sqlite_app: App) -> None:
    ids = [a_request(sqlite_app, f"P{i}", f"p{i}@example.com") for i in range(3)]
    uows, keys = counting_factory(sqlite_app, max_cached_keys=2)
    for rid in ids:
        with uows() as uow:
            uow.requests.get(rid)
    assert len(uows.cache) == 2 and ids[0] not in uows.cache
    with uows() as uow:
        uow.requests.get(ids[2])
    assert keys.unwraps == 3
    with uows() as uow:
        uow.requests.get(ids[0])
    assert keys.unwraps == 4 and ids[1] not in uows.cache
