"""asyncio: await every network call on one event loop. The turn takes about as long as its slowest call.

The trap: a blocking call (sqlite3, a sync SDK, time.sleep) or CPU work *inside* a coroutine freezes
the loop, and every awaited call waits behind it. Hand those to a thread or a process instead.
"""
from __future__ import annotations

import asyncio
import time

import httpx


async def search(client: httpx.AsyncClient, query: str) -> dict:
    response = await client.get("/v1/search", params={"q": query})
    response.raise_for_status()
    return response.json()


async def agent_turn(base_url: str, n: int) -> list[dict]:
    async with httpx.AsyncClient(base_url=base_url) as client:     # one client, shared by every call
        # return_exceptions: one failed call does not cancel the others, and its exception is returned
        return await asyncio.gather(*(search(client, f"topic {i}") for i in range(n)), return_exceptions=True)


def main(base_url: str, n: int = 4) -> dict:
    start = time.perf_counter()
    results = asyncio.run(agent_turn(base_url, n))
    ok = sum(not isinstance(r, BaseException) for r in results)
    return {"calls": len(results), "ok": ok, "wall_s": time.perf_counter() - start}


if __name__ == "__main__":
    from agent_core import ensure_backend
    print(main(ensure_backend().url))
