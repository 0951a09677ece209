"""hybrid: each kind of work to its primitive, all orchestrated from one event loop.

io → await it;  blocking → a thread pool you size (asyncio's default has only min(32, cores + 4));
cpu → a process pool;  isolated → a child process. The loop stays free for the awaited calls.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import httpx

from snippets.process_pool import keyword_counts


def save_memory(db_path: str, text: str) -> int:           # blocking: sqlite3 has no async API
    con = sqlite3.connect(db_path, timeout=10)
    with con:
        rows = con.execute("insert into memory(text) values (?)", (text,)).rowcount
    con.close()
    return rows


async def agent_turn(base_url: str, db_path: str) -> dict:
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=32) as threads, ProcessPoolExecutor(
            max_workers=os.cpu_count(), mp_context=multiprocessing.get_context("forkserver")) as processes:
        async with httpx.AsyncClient(base_url=base_url) as client:
            search = client.get("/v1/search", params={"q": "agents"})                        # io
            memory = loop.run_in_executor(threads, save_memory, db_path, "user asked")       # blocking
            stats = loop.run_in_executor(processes, keyword_counts, 1)                       # cpu
            script = asyncio.create_subprocess_exec(sys.executable, "-I", "-c", "print(6 * 7)",  # isolated
                                                    stdout=asyncio.subprocess.PIPE, start_new_session=True)
            child = await script
            found, saved, top, (out, _) = await asyncio.gather(search, memory, stats,
                                                               asyncio.wait_for(child.communicate(), timeout=5))
            ok = sum([found.is_success, saved == 1, top > 0, child.returncode == 0])
            return {"calls": 4, "ok": ok, "results": len(found.json()["results"]), "top": top, "script": int(out)}


def main(base_url: str, n: int = 1) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = f"{tmp}/memory.db"
        with sqlite3.connect(db) as con:
            con.execute("create table memory(text text)")
        start = time.perf_counter()
        result = asyncio.run(agent_turn(base_url, db))
        return {**result, "wall_s": time.perf_counter() - start}


if __name__ == "__main__":
    from agent_core import ensure_backend
    print(main(ensure_backend().url))
