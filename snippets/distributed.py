"""distributed: the same calls on a Dask cluster's worker processes — on this machine, or on many.

Awaited I/O runs as coroutines on the workers' event loops; CPU work runs in the worker processes, a GIL
each. With DASK_SCHEDULER_ADDRESS set (``dask scheduler`` + ``dask worker``), the calls go to that cluster;
otherwise a LocalCluster starts here. Work functions must be importable on the workers, and the service
the calls reach must be reachable from them.
"""
from __future__ import annotations

import os
import time

import httpx
from dask.distributed import Client, LocalCluster

from snippets.process_pool import keyword_counts


async def search(base_url: str, query: str) -> dict:           # a coroutine: Dask awaits it on a worker's loop
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/v1/search", params={"q": query})
        response.raise_for_status()
        return response.json()


def main(base_url: str, n: int = 4) -> dict:
    address = os.environ.get("DASK_SCHEDULER_ADDRESS")
    cluster = None if address else LocalCluster(n_workers=2, threads_per_worker=2, dashboard_address=None)
    with Client(address or cluster) as client:
        start = time.perf_counter()
        searches = [client.submit(search, base_url, f"topic {i}", pure=False) for i in range(n)]     # io
        counts = [client.submit(keyword_counts, i, pure=False) for i in range(n)]                     # cpu
        results = client.gather(searches + counts, errors="skip")     # only the calls that succeeded
        wall_s = time.perf_counter() - start
    if cluster is not None:
        cluster.close()
    return {"calls": len(searches) + len(counts), "ok": len(results), "wall_s": wall_s}


if __name__ == "__main__":
    from agent_core import ensure_backend
    print(main(ensure_backend().url))
