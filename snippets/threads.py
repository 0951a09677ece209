"""threads: a pool of threads for blocking libraries. Waiting overlaps; pure-Python CPU work does not (GIL)."""
from __future__ import annotations

import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx


def legacy_sdk_call(client: httpx.Client, i: int) -> int:
    return len(client.get("/v1/records", params={"n": 5, "offset": i}).json()["records"])


def save_memory(db_path: str, i: int) -> int:
    con = sqlite3.connect(db_path, timeout=10)      # one connection per thread: sqlite3 objects are not shared
    with con:
        con.execute("insert into memory(turn, text) values (?, ?)", (i, f"turn {i}"))
    con.close()
    return 1


def main(base_url: str, n: int = 4) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = f"{tmp}/memory.db"
        with sqlite3.connect(db) as con:
            con.execute("create table memory(turn integer, text text)")
        start = time.perf_counter()
        with httpx.Client(base_url=base_url) as client, ThreadPoolExecutor(max_workers=32) as pool:
            calls = [pool.submit(legacy_sdk_call, client, i) for i in range(n)]
            writes = [pool.submit(save_memory, db, i) for i in range(n)]
            records = sum(f.result() for f in calls)
            rows = sum(f.result() for f in writes)
        ok = sum(f.exception() is None for f in calls + writes)
        return {"calls": len(calls) + len(writes), "ok": ok, "records": records, "rows": rows,
                "wall_s": time.perf_counter() - start}


if __name__ == "__main__":
    from agent_core import ensure_backend
    print(main(ensure_backend().url))
