"""The connector factory builds one system's connector when it is used and closes it after;
listing the systems and telling manual ones apart builds nothing. The SQL connector keeps what
it reflected from a database for the next connector of the same system."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from dsar.connectors.base import Connector, ExportRecord, Health, LocateResult, PrebuiltConnectorFactory, SubjectKeys
from dsar.connectors.datamap import AnySystem, load_data_map, load_system_map
from dsar.connectors.registry import DataMapConnectorFactory
from dsar.connectors.s3 import S3Connector
from dsar.connectors.sql import ReflectionCache, SqlConnector
from dsar.demo.shop import seed_shop
from dsar.domain.errors import ConfigurationError, NotFound, PermanentConnectorError

ROOT = Path(__file__).resolve().parents[2]
JANE = SubjectKeys(emails=("jane.doe@example.com",))


@pytest.fixture
def demo_map(tmp_path: Path) -> tuple[list[AnySystem], dict[str, str]]:
    """The demo company's data map (shop, files, helpdesk, warehouse) and its secrets: the shop
    a seeded SQLite file, the file store a folder, the helpdesk never started."""
    seed_shop(tmp_path / "shop.db")
    (tmp_path / "files").mkdir()
    secrets = {
        "DSAR_DEMO_SHOP_URL": f"sqlite:///{tmp_path / 'shop.db'}",
        "DSAR_DEMO_FILES_URL": f"file://{tmp_path / 'files'}",
        "DSAR_DEMO_HELPDESK_URL": "http://127.0.0.1:9/api",
        "DSAR_DEMO_HELPDESK_TOKEN": "Bearer t",
    }
    return load_data_map(ROOT / "connectors"), secrets


class Statements:
    """Counts the SQL statements every engine of the process runs while it is active."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(statement)

    def __enter__(self) -> Statements:
        event.listen(Engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._record)

    def reflections(self) -> int:
        return sum("PRAGMA" in s.upper() or "information_schema" in s for s in self.seen)


def test_systems_and_manual_ones_are_known_without_building_a_connector(demo_map: tuple[list[AnySystem], dict[str, str]]) -> None:
    maps, _ = demo_map
    factory = DataMapConnectorFactory(maps, {}, b"k")  # no secret at all: building any connector would fail
    assert factory.systems() == [m.system for m in maps] == ["files", "helpdesk", "shop", "warehouse"]
    assert [factory.is_manual(s) for s in factory.systems()] == [False, False, False, True]
    with pytest.raises(NotFound, match="nope"):
        factory.is_manual("nope")
    with pytest.raises(ConfigurationError, match="DSAR_DEMO_SHOP_URL"), factory.open("shop"):
        pass  # only opening a system needs its secret


def test_open_builds_only_that_system_and_closes_it_after(demo_map: tuple[list[AnySystem], dict[str, str]]) -> None:
    maps, secrets = demo_map
    broken = {**secrets, "DSAR_DEMO_FILES_URL": "file://relative"}  # the files system cannot even be built
    factory = DataMapConnectorFactory(maps, broken, b"k")
    closed: list[str] = []
    with factory.open("shop") as shop:
        assert isinstance(shop, SqlConnector) and shop.system == "shop"
        assert shop.locate(JANE).found
        event.listen(shop._engine, "close", lambda *_: closed.append("connection"))  # the pool's connection to the file
    assert closed == ["connection"]  # the engine was disposed: nothing is left open on the database
    with pytest.raises(PermanentConnectorError, match="file:///"), factory.open("files"):
        pass
    with pytest.raises(NotFound), factory.open("nope"):
        pass


def test_open_closes_the_connector_when_the_block_fails(demo_map: tuple[list[AnySystem], dict[str, str]]) -> None:
    maps, secrets = demo_map
    factory = DataMapConnectorFactory(maps, secrets, b"k")
    closed: list[str] = []
    with pytest.raises(RuntimeError, match="halfway"), factory.open("shop") as shop:
        shop.locate(JANE)
        event.listen(shop._engine, "close", lambda *_: closed.append("connection"))
        raise RuntimeError("halfway")
    assert closed == ["connection"]


def test_every_system_builds_in_map_order(demo_map: tuple[list[AnySystem], dict[str, str]]) -> None:
    maps, secrets = demo_map
    factory = DataMapConnectorFactory(maps, secrets, b"k")
    built = [factory.build(s) for s in factory.systems()]
    try:
        assert [c.system for c in built] == ["files", "helpdesk", "shop", "warehouse"]
        assert isinstance(built[0], S3Connector) and built[0].folder and built[3].manual
    finally:
        for c in built:
            c.close()


def test_a_second_connector_of_a_system_does_not_reflect_the_database_again(tmp_path: Path) -> None:
    seed_shop(tmp_path / "shop.db")
    shop = load_system_map(ROOT / "connectors" / "shop.yaml")
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    cache = ReflectionCache()

    def export_once() -> tuple[list[ExportRecord], int]:
        c = SqlConnector(shop, url, b"k", reflected=cache)
        try:
            with Statements() as seen:
                records = list(c.export(c.locate(JANE)))
            return records, seen.reflections()
        finally:
            c.close()

    first, reflected_first = export_once()
    second, reflected_second = export_once()
    assert reflected_first >= 1 and reflected_second == 0
    assert first == second and len(cache) == 1
    other = tmp_path / "other.db"
    seed_shop(other)
    c = SqlConnector(shop, f"sqlite:///{other}", b"k", reflected=cache)  # another database: reflected on its own
    with Statements() as seen:
        list(c.export(c.locate(JANE)))
    c.close()
    assert seen.reflections() >= 1 and len(cache) == 2


def test_the_reflection_cache_is_bounded_and_shared_safely_between_threads() -> None:
    cache = ReflectionCache(maxsize=2)
    a, b, c = (ReflectionCache.key(f"sqlite:///{n}.db", ["customer=.customer.id"]) for n in "abc")
    cache.put(a, "customer", int)
    cache.put(b, "customer", str)
    assert cache.get(a, "customer") is int  # a is now the most recently used
    cache.put(c, "customer", int)
    assert cache.get(b, "customer") is None and cache.get(a, "customer") is int and len(cache) == 2
    assert b"secret" not in repr(ReflectionCache.key("postgresql://u:secret@h/db", [])).encode()  # only a digest of the URL

    def hammer(n: int) -> None:
        for i in range(500):
            key = ReflectionCache.key(f"sqlite:///{(n * 500 + i) % 7}.db", ["t"])
            cache.put(key, f"e{i % 3}", int)
            cache.get(key, f"e{i % 3}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        for done in [pool.submit(hammer, n) for n in range(8)]:
            done.result()  # re-raises what a thread raised
    assert len(cache) <= 2


class Recording(Connector):
    """A stand-in connector that records what was done to it."""

    def __init__(self, system: str, manual: bool = False) -> None:
        self.system, self.manual, self.closed = system, manual, 0

    def check(self) -> Health:
        return Health(self.system, True)

    def locate(self, subject: SubjectKeys) -> LocateResult:
        return LocateResult(self.system)

    def export(self, located: LocateResult) -> Iterator[ExportRecord]:
        return iter(())

    def close(self) -> None:
        self.closed += 1


def test_a_prebuilt_factory_hands_out_its_connectors_and_leaves_them_open() -> None:
    crm, archive = Recording("crm"), Recording("archive", manual=True)
    factory = PrebuiltConnectorFactory([crm, archive])
    assert factory.systems() == ["crm", "archive"] and not factory.is_manual("crm") and factory.is_manual("archive")
    with factory.open("crm") as c:
        assert c is crm
    assert crm.closed == 0 and [factory.build(s) for s in factory.systems()] == [crm, archive]
    with pytest.raises(NotFound), factory.open("nope"):
        pass
    with pytest.raises(ValueError, match="same system"):
        PrebuiltConnectorFactory([crm, Recording("crm")])
