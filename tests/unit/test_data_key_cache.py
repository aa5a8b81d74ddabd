"""The data-key cache on its own: bounded, least recently used first out, keyed by the
wrapped key it came from, safe to share between threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from dsar.persistence.sealing import DataKeyCache


def test_an_entry_is_served_only_for_the_wrapped_key_it_came_from() -> None:
    cache = DataKeyCache(10)
    cache.put("r1", b"wrapped-1", b"k" * 32)
    assert cache.get("r1", b"wrapped-1") == b"k" * 32
    assert cache.get("r1", b"re-wrapped") is None
    assert "r1" not in cache  # the stale entry went


def test_beyond_its_bound_the_least_recently_used_key_goes() -> None:
    cache = DataKeyCache(2)
    cache.put("a", b"wa", b"ka")
    cache.put("b", b"wb", b"kb")
    assert cache.get("a", b"wa") == b"ka"  # a is now the most recently used
    cache.put("c", b"wc", b"kc")
    assert "b" not in cache and "a" in cache and "c" in cache and len(cache) == 2


def test_evicting_forgets_and_a_zero_bound_caches_nothing() -> None:
    cache = DataKeyCache(2)
    cache.put("a", b"wa", b"ka")
    cache.evict("a")
    assert cache.get("a", b"wa") is None
    none = DataKeyCache(0)
    none.put("a", b"wa", b"ka")
    assert len(none) == 0


def test_threads_share_one_cache_within_its_bound() -> None:
    cache = DataKeyCache(50)

    def work(i: int) -> None:
        for j in range(200):
            rid = f"r{(i * 7 + j) % 120}"
            cache.put(rid, rid.encode(), rid.encode() * 2)
            got = cache.get(rid, rid.encode())
            assert got in (None, rid.encode() * 2)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))
    assert len(cache) <= 50
