"""sequential: one call after another. The baseline: the turn takes the *sum* of its calls."""
from __future__ import annotations

import time

import httpx


def main(base_url: str, n: int = 4) -> dict:
    start = time.perf_counter()
    with httpx.Client(base_url=base_url) as client:
        responses = [client.get("/v1/search", params={"q": f"topic {i}"}) for i in range(n)]
    return {"calls": len(responses), "ok": sum(r.is_success for r in responses), "wall_s": time.perf_counter() - start}


if __name__ == "__main__":
    from agent_core import ensure_backend
    print(main(ensure_backend().url))
