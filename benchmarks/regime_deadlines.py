"""Time the due-date computation and its trace for every regime (issue 16).

For each regime, computes the dates of requests received on every day of a span of years
(default 2027-2028: after every regime's effective date) with and without the trace, and
prints the rate and the slowest regime. The first pass per year fills the holiday cache (as
a fresh process does); it is timed separately. Prints figures; asserts nothing.

    uv run python benchmarks/regime_deadlines.py [--years N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, timedelta

from dsar.domain.deadlines import compute_deadlines, explain_deadlines
from dsar.domain.regimes import REGIMES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--years", type=int, default=2)
    args = parser.parse_args()
    start = date(2027, 6, 1)
    days = [start + timedelta(days=i) for i in range(365 * args.years)]

    t0 = time.perf_counter()
    for code in REGIMES:
        compute_deadlines(code, start)
    print(f"first computation of all {len(REGIMES)} regimes (holiday calendars loaded): {(time.perf_counter() - t0) * 1000:.0f} ms")

    rates: dict[str, float] = {}
    traced: dict[str, float] = {}
    for code in REGIMES:
        t = time.perf_counter()
        for d in days:
            compute_deadlines(code, d)
        rates[code] = len(days) / (time.perf_counter() - t)
        t = time.perf_counter()
        for d in days:
            explain_deadlines(code, d).lines()
        traced[code] = len(days) / (time.perf_counter() - t)
    slowest = min(rates, key=lambda c: rates[c])
    print(f"{len(days):,} received dates x {len(REGIMES)} regimes")
    print(f"compute_deadlines: median {statistics.median(rates.values()):,.0f}/s; slowest {slowest} {rates[slowest]:,.0f}/s")
    slowest_t = min(traced, key=lambda c: traced[c])
    print(f"with the trace rendered: median {statistics.median(traced.values()):,.0f}/s; slowest {slowest_t} {traced[slowest_t]:,.0f}/s")
    for code in sorted(REGIMES, key=lambda c: rates[c])[:5]:
        print(f"  {code:8} {rates[code]:>10,.0f}/s  traced {traced[code]:>10,.0f}/s")


if __name__ == "__main__":
    main()
