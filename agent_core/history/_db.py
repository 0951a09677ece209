"""The store's SQLite side, through aiosqlite: the schema and its migrations, a connection that checks what file it
opened, one transaction per save with the bounds applied inside it, and setting a corrupt or foreign file aside.

Every function here is a coroutine run on the store's own event-loop thread (:mod:`agent_core.history.store`); each
operation opens its own connection, so a fork, another process or a file set aside never leaves one stale.
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

from ..catalog import shown
from ._model import Entry, StoreError

APP_ID = 0x41434831          # "ACH1" in the file's header: this file is an agent_core history
BUSY_S = 10.0                # how long a save waits for another process's transaction

# The schema, one list of statements per version: PRAGMA user_version is how many have run. Append, never edit.
MIGRATIONS: list[list[str]] = [
    [   # 1: the runs; a comparison's runs share grp; the records are the report's JSON
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused: a link to run 7 never shows another run
            saved_at REAL NOT NULL, label TEXT, mode TEXT NOT NULL, spec TEXT NOT NULL, wall_s REAL NOT NULL,
            n_calls INTEGER NOT NULL, ok_calls INTEGER NOT NULL, host TEXT, machine TEXT NOT NULL,
            version TEXT NOT NULL, grp TEXT, source TEXT NOT NULL, report TEXT NOT NULL)""",
        "CREATE INDEX runs_label ON runs(label) WHERE label IS NOT NULL",
        "CREATE INDEX runs_grp ON runs(grp) WHERE grp IS NOT NULL",
    ],
]
LATEST = len(MIGRATIONS)
COLUMNS = "id, saved_at, label, mode, spec, wall_s, n_calls, ok_calls, machine, version, grp, source"

_CORRUPT, _NOTADB = 11, 26
_REASONS = {3: "permission denied", 5: f"another process kept it locked for more than {BUSY_S:g} s",
            8: "its location is read-only", 10: "the disk refused a write or a read (a full disk? disk I/O error)",
            13: "the disk is full", 14: "the file cannot be opened or created there (a read-only or missing place?)"}


class Foreign(Exception):
    """The file at the path is not a history of ours, or is corrupt: ``why`` says which, in a few words."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def _code(exc: BaseException) -> int:
    """SQLite's primary result code of an sqlite3 error (0 when it has none)."""
    return (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def is_corrupt(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and _code(exc) in (_CORRUPT, _NOTADB)


def reason(exc: BaseException) -> str:
    """What went wrong, in a few words, for the one line the caller prints."""
    if isinstance(exc, sqlite3.Error):
        return _REASONS.get(_code(exc), shown(exc))
    if isinstance(exc, OSError):
        return shown(exc.strerror or exc)
    return shown(exc)


async def _facts(db: aiosqlite.Connection) -> tuple[int, int, int]:
    """(application_id, user_version, schema objects): read-only, so a foreign file is never touched."""
    out = []
    for sql in ("PRAGMA application_id", "PRAGMA user_version", "SELECT count(*) FROM sqlite_master"):
        async with db.execute(sql) as cur:
            out.append((await cur.fetchone())[0])
    return out[0], out[1], out[2]


def _foreign(app: int, version: int, objects: int) -> str | None:
    if app == APP_ID or (app == 0 and version == 0 and objects == 0):
        return None
    return f"another program's SQLite file (application_id {app}, {objects} tables and indexes)"


async def _migrate(db: aiosqlite.Connection, version: int) -> None:
    if version == 0:        # before the first table: these only take effect on an empty file
        await db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("BEGIN IMMEDIATE")
    try:
        app, version, objects = await _facts(db)        # again, inside the lock: another process may have migrated
        if why := _foreign(app, version, objects):
            raise Foreign(why)
        for statements in MIGRATIONS[version:]:
            for sql in statements:
                await db.execute(sql)
        await db.execute(f"PRAGMA application_id={APP_ID}")
        await db.execute(f"PRAGMA user_version={LATEST}")
        await db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            await db.execute("ROLLBACK")
        raise


async def connect(path: str, read_only: bool = False) -> aiosqlite.Connection:
    """A connection to a history of ours at the latest schema (an empty file becomes one), or Foreign, or an
    sqlite3/OS error. ``read_only`` opens an existing file without locks (a read-only location)."""
    if read_only:
        from urllib.parse import quote
        db = await aiosqlite.connect(f"file:{quote(path)}?mode=ro&immutable=1", uri=True, isolation_level=None)
    else:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        db = await aiosqlite.connect(path, timeout=BUSY_S, isolation_level=None)
    try:
        try:
            app, version, objects = await _facts(db)
        except sqlite3.DatabaseError as exc:
            if is_corrupt(exc):
                raise Foreign(f"not an SQLite file ({shown(exc)})") from None
            raise
        if why := _foreign(app, version, objects):
            raise Foreign(why)
        if version > LATEST:
            raise StoreError(f"the history at {path} has schema version {version}, written by a newer agent_core "
                             f"(this one reads up to {LATEST}): upgrade, or point AGENT_CORE_HISTORY elsewhere")
        if version < LATEST and not read_only:
            await _migrate(db, version)
        await db.execute("PRAGMA synchronous=FULL")     # a saved run survives a power cut, not only a kill -9
        return db
    except BaseException:
        await db.close()
        raise


async def quick_check(db: aiosqlite.Connection) -> None:
    async with db.execute("PRAGMA quick_check(1)") as cur:
        verdict = (await cur.fetchone())[0]
    if verdict != "ok":
        raise Foreign(f"corrupt ({shown(verdict)})")


@contextlib.contextmanager
def _file_lock(path: str):
    """One process at a time decides a file is bad and moves it (else two could move the fresh one)."""
    try:
        import fcntl
        handle = open(path + ".lock", "a+b")        # noqa: SIM115 - held for the with block
    except (ImportError, OSError):                   # no flock (Windows) or a read-only place: the rename will say
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()


async def set_aside(path: str) -> str | None:
    """Move a corrupt or foreign file (and its -wal, -shm) to ``<path>.corrupt-<time>``: the message to show once;
    None if, checked again under the lock, the file is fine (another process set it aside first)."""
    with _file_lock(path):
        try:
            db = await connect(path)
            try:
                await quick_check(db)
            finally:
                await db.close()
            return None
        except Foreign as exc:
            why = exc.why
        except sqlite3.Error as exc:
            if not is_corrupt(exc):
                raise StoreError(f"could not check the history at {path}: {reason(exc)}") from None
            why = f"corrupt ({shown(exc)})"
        except OSError as exc:
            raise StoreError(f"could not check the history at {path}: {reason(exc)}") from None
        dest = _move_aside(path, why)
        try:        # the fresh store is made before the lock is let go: no other process sees the path half made
            db = await connect(path)
            await db.close()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"the file at {path} was set aside as {dest}, but a fresh history could not be made "
                             f"there: {reason(exc)}") from None
    return f"the file at {path} was {why}: it is set aside as {dest}, and a fresh history starts"


def _move_aside(path: str, why: str) -> str:
    """Rename the file and its -wal and -shm (they belong to it: a fresh file must not replay that WAL)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest, n = f"{path}.corrupt-{stamp}", 1
    while os.path.lexists(dest):
        n += 1
        dest = f"{path}.corrupt-{stamp}-{n}"
    try:
        os.rename(path, dest)
        for suffix in ("-wal", "-shm"):
            if os.path.lexists(path + suffix):
                os.rename(path + suffix, dest + suffix)
    except OSError as exc:
        raise StoreError(f"the file at {path} is {why}, and it could not be set aside ({reason(exc)}): "
                         "move it, or point AGENT_CORE_HISTORY elsewhere") from None
    return dest


async def run_op(path: str, fn: Callable[[aiosqlite.Connection], Awaitable[Any]], doing: str,
                 on_warning: Callable[[str], None], read_only_ok: bool = False) -> Any:
    """``fn`` on a fresh connection; a corrupt or foreign file is set aside once and ``fn`` runs on a fresh store.
    Anything else the disk or SQLite refuses becomes one StoreError line."""
    for attempt in (1, 2):
        try:
            db = await connect(path)
        except Foreign:
            if attempt == 2:
                raise StoreError(f"could not {doing} the history at {path}: the file is bad again") from None
            if message := await set_aside(path):
                on_warning(message)
            continue
        except sqlite3.Error as exc:
            if read_only_ok and _code(exc) in (8, 14):        # a read-only place: read what is there
                db = await _read_only(path, doing, exc)
            else:
                raise StoreError(f"could not {doing} the history at {path}: {reason(exc)}") from None
        except OSError as exc:
            raise StoreError(f"could not {doing} the history at {path}: {reason(exc)}") from None
        try:
            return await fn(db)
        except Foreign as exc:
            if attempt == 2:
                raise StoreError(f"could not {doing} the history at {path}: the file is {exc.why}") from None
        except sqlite3.Error as exc:
            if not is_corrupt(exc) or attempt == 2:
                raise StoreError(f"could not {doing} the history at {path}: {reason(exc)}") from None
        finally:
            await db.close()
        if message := await set_aside(path):        # corrupt in the middle of a table: checked, then moved
            on_warning(message)
    raise AssertionError("unreachable")


async def _read_only(path: str, doing: str, first: sqlite3.Error) -> aiosqlite.Connection:
    try:
        return await connect(path, read_only=True)
    except (sqlite3.Error, Foreign, StoreError):
        raise StoreError(f"could not {doing} the history at {path}: {reason(first)}") from None


# -- the operations -------------------------------------------------------------------------------------------

def entry(row: tuple) -> Entry:
    return Entry(id=row[0], saved_at=row[1], label=row[2], mode=row[3], spec=row[4], wall_s=row[5], n_calls=row[6],
                 ok_calls=row[7], machine=json.loads(row[8]), version=row[9], group=row[10], source=row[11])


async def insert(db: aiosqlite.Connection, rows: list[dict], max_runs: int, max_bytes: int) -> list[int]:
    """One transaction: the rows, then the oldest runs out until the newest ``max_runs`` remain and the pages in use
    fit ``max_bytes`` (the rows just saved always stay)."""
    await db.execute("BEGIN IMMEDIATE")
    try:
        ids = []
        for r in rows:
            cur = await db.execute(f"INSERT INTO runs ({', '.join(r)}) VALUES ({', '.join('?' * len(r))})",
                                   tuple(r.values()))
            ids.append(cur.lastrowid)
        keep = max(max_runs, len(ids))
        cur = await db.execute("DELETE FROM runs WHERE id NOT IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?)",
                               (keep,))
        evicted = cur.rowcount
        while await _used_bytes(db) > max_bytes:
            cur = await db.execute("DELETE FROM runs WHERE id = (SELECT min(id) FROM runs WHERE id < ?)", (ids[0],))
            if cur.rowcount == 0:
                break
            evicted += 1
        await db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            await db.execute("ROLLBACK")
        raise
    if evicted:
        await vacuum(db)
    return ids


async def _used_bytes(db: aiosqlite.Connection) -> int:
    values = []
    for sql in ("PRAGMA page_count", "PRAGMA freelist_count", "PRAGMA page_size"):
        async with db.execute(sql) as cur:
            values.append((await cur.fetchone())[0])
    return (values[0] - values[1]) * values[2]


async def vacuum(db: aiosqlite.Connection) -> None:
    """Give freed pages back to the file system (the store was created with auto_vacuum=INCREMENTAL)."""
    await db.executescript("PRAGMA incremental_vacuum")     # run to the end (execute() would free one page)


async def select(db: aiosqlite.Connection, sql: str, params: tuple = ()) -> list[tuple]:
    async with db.execute(sql, params) as cur:
        return list(await cur.fetchall())
