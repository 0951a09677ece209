"""process-pool: CPU work on every core. The work function must live in an importable module, and
the pool needs an explicit start method (forkserver or spawn; never fork in a threaded program)."""
from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor


def keyword_counts(seed: int, words: int = 100_000) -> int:
    """Pure-Python work that holds the GIL: threads could not run two of these at once."""
    counts: dict[int, int] = {}
    x = seed
    for _ in range(words):
        x = (x * 1103515245 + 12345) % 2**31
        counts[x % 997] = counts.get(x % 997, 0) + 1
    return max(counts.values())


def main(base_url: str = "", n: int = 4) -> dict:
    start = time.perf_counter()
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=context) as pool:
        results = list(pool.map(keyword_counts, range(n)))
    return {"calls": len(results), "ok": sum(r > 0 for r in results), "wall_s": time.perf_counter() - start}


if __name__ == "__main__":
    print(main())
