"""Rate limits of the public form and the API: a sliding window per key (source address,
subject address, API token), in memory, per process.

``limiter.check(key)`` returns None when the call is allowed (and counts it), else the seconds
after which it will be: the route answers ``429`` with ``Retry-After``. Keys that hold a
subject's address are digested first, so no personal data sits in memory as text.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic


@dataclass(frozen=True)
class Limit:
    calls: int
    per_seconds: float


class RateLimiter:
    def __init__(self, limits: dict[str, Limit], clock: Callable[[], float] = monotonic, max_keys: int = 100_000) -> None:
        self._limits = limits
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def digest(value: str) -> str:
        return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]

    def check(self, bucket: str, key: str) -> int | None:
        """Count a call of ``key`` in ``bucket``; None if allowed, else whole seconds to wait."""
        limit = self._limits[bucket]
        now = self._clock()
        with self._lock:
            if len(self._hits) >= self._max_keys:
                self._evict(now)
            hits = self._hits.setdefault((bucket, key), deque())
            while hits and hits[0] <= now - limit.per_seconds:
                hits.popleft()
            if len(hits) >= limit.calls:
                return max(1, math.ceil(hits[0] + limit.per_seconds - now))
            hits.append(now)
            return None

    def _evict(self, now: float) -> None:
        longest = max(limit.per_seconds for limit in self._limits.values())
        for k in [k for k, v in self._hits.items() if not v or v[-1] <= now - longest]:
            del self._hits[k]


class DistinctWithin:
    """How many different values (digests) one key sent within a sliding window, in memory, per
    process: the public form's burst flag (one sender, many subjects)."""

    def __init__(self, per_seconds: float, clock: Callable[[], float] = monotonic, max_keys: int = 100_000) -> None:
        self._per = per_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._seen: dict[str, deque[tuple[float, str]]] = {}
        self._lock = threading.Lock()

    def add(self, key: str, value: str) -> int:
        """Record ``value`` for ``key``; the number of different values within the window."""
        now = self._clock()
        with self._lock:
            if len(self._seen) >= self._max_keys:
                for k in [k for k, v in self._seen.items() if not v or v[-1][0] <= now - self._per]:
                    del self._seen[k]
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0][0] <= now - self._per:
                seen.popleft()
            seen.append((now, value))
            return len({v for _, v in seen})


def address_wait(extra: dict[str, object], name: str, limit: Limit, source: str | None) -> int | None:
    """Count one call of a public page from ``source`` (the client's address) against ``limit``,
    in the app's limiter ``name`` (made on first use, kept in ``extra``: the web context's).
    None when allowed, else the seconds to wait (the page answers 429 with Retry-After)."""
    limiter = extra.get(name)
    if limiter is None:
        limiter = extra.setdefault(name, RateLimiter({"address": limit}))
    assert isinstance(limiter, RateLimiter)
    return limiter.check("address", RateLimiter.digest(source or "unknown"))
