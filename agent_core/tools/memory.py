"""``memory_write`` (blocking): persist conversation rows into a real SQLite file.

One connection and one durable commit per call (``synchronous=FULL``, rollback journal), as an agent
that saves its memory after each turn would do. ``sqlite3`` has no async API; ``aiosqlite`` is its
async twin for code that owns an event loop (it runs the same statements on a thread of its own).
"""
from __future__ import annotations

import sqlite3
import time

from .. import textgen
from . import ToolContext

SCHEMA = """
create table if not exists messages (
    id integer primary key, session text not null, turn integer not null,
    role text not null, content text not null, created real not null);
create index if not exists messages_by_session on messages(session, turn);
"""
INSERT = "insert into messages(session, turn, role, content, created) values (?, ?, ?, ?, ?)"


def prepare_db(path: str) -> None:
    """Create the schema (done by the runner before the clock starts)."""
    con = sqlite3.connect(path)
    try:
        con.executescript(SCHEMA)
    finally:
        con.close()


def _rows(p: dict, ctx: ToolContext) -> list[tuple]:
    body = textgen.text(24, ctx.call_seed)
    now = time.time()
    roles = ("user", "assistant", "tool")
    return [(ctx.call_id, turn, roles[turn % 3], body, now) for turn in range(p["rows"])]


def memory_write(p: dict, ctx: ToolContext) -> dict:
    rows = _rows(p, ctx)
    con = sqlite3.connect(ctx.db_path, timeout=ctx.timeout_s)
    try:
        con.execute("pragma synchronous=FULL")
        con.executemany(INSERT, rows)
        con.commit()
    finally:
        con.close()
    return {"rows": len(rows), "bytes": sum(len(r[3]) for r in rows), "driver": "sqlite3"}


async def amemory_write(p: dict, ctx: ToolContext) -> dict:
    import aiosqlite  # only code that owns a loop and asks for the async twin pays for this import

    rows = _rows(p, ctx)
    async with aiosqlite.connect(ctx.db_path, timeout=ctx.timeout_s) as con:
        await con.execute("pragma synchronous=FULL")
        await con.executemany(INSERT, rows)
        await con.commit()
    return {"rows": len(rows), "bytes": sum(len(r[3]) for r in rows), "driver": "aiosqlite"}
