"""SQL connectors share one engine (one connection pool) per database URL in a process; SQLite
files keep an engine per connector."""

from __future__ import annotations

from pathlib import Path

from dsar.connectors.sql import SharedEngines


def test_one_engine_per_url_shared_and_sqlite_files_not_shared(tmp_path: Path) -> None:
    engines = SharedEngines()
    a, shared_a = engines.get("postgresql+psycopg://u@127.0.0.1:5432/one")
    b, shared_b = engines.get("postgresql+psycopg://u@127.0.0.1:5432/one")
    c, _ = engines.get("postgresql+psycopg://u@127.0.0.1:5432/two")
    assert a is b and shared_a and shared_b and c is not a
    x, shared_x = engines.get(f"sqlite:///{tmp_path / 'shop.db'}")
    y, _ = engines.get(f"sqlite:///{tmp_path / 'shop.db'}")
    assert x is not y and not shared_x
    engines.dispose_all()
    d, _ = engines.get("postgresql+psycopg://u@127.0.0.1:5432/one")
    assert d is not a  # forgotten after dispose_all: a new pool
