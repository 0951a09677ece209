"""The run store: every run and comparison saved with its records, workload, options, machine, app version and an
optional label, in one SQLite file (WAL, through aiosqlite), bounded to the newest runs and a size.

The API is synchronous and thread-safe. Its coroutines run on one event-loop thread the store owns, so a page's
script thread that calls :meth:`RunStore.save_in_background` only hands the reports over (microseconds). A corrupt
or foreign file at the path is set aside (``<path>.corrupt-<time>``), never overwritten, and :attr:`RunStore.warning`
says so once; a read-only location or a full disk makes ``save`` raise :class:`StoreError`.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import threading
import time
import uuid
import weakref
from collections import Counter

from ..catalog import shown
from ..errors import BadInput
from ..records import RunReport
from . import _db, _importing
from ._model import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_RUNS,
    HISTORY_ENV,
    Entry,
    StoreError,
    app_version,
    check_label,
    machine_info,
)

__all__ = ["HISTORY_ENV", "DEFAULT_MAX_RUNS", "DEFAULT_MAX_BYTES", "StoreError", "Entry", "RunStore", "store_path",
           "machine_info", "default_store", "check_label"]

FILE_NAME = "history.sqlite3"
MIN_MAX_BYTES = 64 * 2**10
FLUSH_AT_EXIT_S = 10.0


def store_path() -> str | None:
    """Where the history lives: ``AGENT_CORE_HISTORY`` (a file, or a directory to hold one; "off": None), by default
    ``$XDG_DATA_HOME`` (else ``~/.local/share``) ``/agent-core/history.sqlite3``."""
    value = os.environ.get(HISTORY_ENV, "").strip()
    if value.lower() == "off":
        return None
    if value:
        path = os.path.abspath(os.path.expanduser(value))
        return os.path.join(path, FILE_NAME) if os.path.isdir(path) else path
    base = os.environ.get("XDG_DATA_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(os.path.abspath(base), "agent-core", FILE_NAME)


def _spec(report: RunReport) -> str:
    spec = report.options.get("spec")
    if isinstance(spec, str) and spec:
        return spec
    return ",".join(f"{tool}:{n}" for tool, n in Counter(t.tool for t in report.tasks).items())


def _row(report: RunReport, label: str | None, group: str | None, source: str, machine: dict, version: str,
         now: float) -> dict:
    return {"saved_at": now, "label": label, "mode": report.mode, "spec": _spec(report), "wall_s": report.wall_s,
            "n_calls": len(report.tasks), "ok_calls": sum(t.status == "ok" for t in report.tasks),
            "host": machine.get("hostname"), "machine": json.dumps(machine), "version": version, "grp": group,
            "source": source, "report": json.dumps(report.to_dict(), separators=(",", ":"))}


def _rows(batch: list[tuple[RunReport, dict | None]], label: str | None, source: str) -> list[dict]:
    """The rows of one save: a comparison's runs share a group; an import keeps what its file says of each run's
    machine and version (else unknown)."""
    if not batch or not all(isinstance(r, RunReport) for r, _ in batch):
        raise BadInput("save takes a RunReport or a non-empty list of them")
    group = uuid.uuid4().hex if len(batch) > 1 else None
    now, here, version = time.time(), machine_info(), app_version()
    rows = []
    for report, saved in batch:
        machine, ver = here, version
        if saved is not None:
            machine = saved.get("machine") if isinstance(saved.get("machine"), dict) else {
                "cores": report.cores, "python": None, "gil": None, "platform": None, "hostname": None}
            ver = saved["version"] if isinstance(saved.get("version"), str) else "unknown"
        rows.append(_row(report, label, group, source, machine, ver, now))
    return rows


def _where(ref: int | str) -> tuple[str, tuple, str]:
    """The SQL condition for a reference (an id, or the newest run with a label), and what to say if none."""
    if isinstance(ref, int) and not isinstance(ref, bool) or isinstance(ref, str) and ref.strip().isdigit():
        return "id = ?", (int(ref),), f"no saved run has id {shown(ref)}"
    if isinstance(ref, str) and ref.strip():
        return ("id = (SELECT max(id) FROM runs WHERE label = ?)", (ref.strip(),),
                f"no saved run has id or label {shown(ref, quote=True)}")
    raise BadInput(f"{shown(ref, quote=True)} is not a run: give its id (a number) or its label")


class RunStore:
    """One history file. Each operation opens its own connection on the store's loop thread."""

    def __init__(self, path: str, max_runs: int = DEFAULT_MAX_RUNS, max_bytes: int = DEFAULT_MAX_BYTES):
        if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
            raise BadInput(f"max_runs={shown(max_runs)} is not allowed: a whole number ≥ 1")
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < MIN_MAX_BYTES:
            raise BadInput(f"max_bytes={shown(max_bytes)} is not allowed: a whole number ≥ {MIN_MAX_BYTES}")
        self.path = os.path.abspath(os.path.expanduser(path))
        self.max_runs, self.max_bytes = max_runs, max_bytes
        self.warning: str | None = None     # a corrupt or foreign file was set aside: the message, to show once
        self._pid = os.getpid()
        self._pending: set[concurrent.futures.Future] = set()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="agent-core-history", daemon=True)
        self._thread.start()
        _OPEN.add(self)
        try:                                # check the file now, so that a bad one is set aside and said at once
            self._call(self._op(_db.quick_check, "open"))
        except StoreError:
            pass                            # read-only, missing directory...: each operation says so

    def __repr__(self) -> str:
        return f"RunStore({self.path!r})"

    # -- the loop thread ---------------------------------------------------------------------------------------

    def _warn(self, message: str) -> None:
        self.warning = message

    def _op(self, fn, doing: str, read_only_ok: bool = False):
        return _db.run_op(self.path, fn, doing, self._warn, read_only_ok)

    def _submit(self, coro) -> concurrent.futures.Future:
        with self._lock:
            if self._loop.is_closed() or os.getpid() != self._pid:
                coro.close()
                raise StoreError(f"the history at {self.path} is closed" if os.getpid() == self._pid else
                                 "a history store cannot be used from a forked process: open one in it")
            fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
            self._pending.add(fut)
        fut.add_done_callback(self._pending.discard)
        return fut

    def _call(self, coro):
        return self._submit(coro).result()

    # -- saving ------------------------------------------------------------------------------------------------

    def save(self, reports: RunReport | list[RunReport], label: str | None = None) -> list[int]:
        """Save a run, or a comparison's runs as one group, in one transaction: their ids. StoreError if the
        location cannot take it (the caller still shows the run); BadInput for a bad label."""
        return self.save_in_background(reports, label).result()

    def save_in_background(self, reports: RunReport | list[RunReport], label: str | None = None
                           ) -> concurrent.futures.Future:
        """Hand the reports to the store's thread and return at once: a future of the ids (or of the error)."""
        batch = [reports] if isinstance(reports, RunReport) else list(reports)
        return self._submit(self._save([(r, None) for r in batch], label, "local"))

    async def _save(self, batch: list[tuple[RunReport, dict | None]], label: str | None, source: str) -> list[int]:
        rows = _rows(batch, check_label(label), source)
        return await self._op(lambda db: _db.insert(db, rows, self.max_runs, self.max_bytes), "save to")

    def import_json(self, text: str | bytes, label: str | None = None) -> list[int]:
        """Save the reports of a JSON file downloaded elsewhere (marked "imported"), in one transaction; a bad file
        is one BadInput line and nothing changes."""
        check_label(label)
        reports = _importing.parse(text)
        return self._call(self._save([(r, saved) for r, saved in reports], label, "imported"))

    # -- reading -----------------------------------------------------------------------------------------------

    def list(self, mode: str | None = None, spec: str | None = None, label: str | None = None,
             machine: str | None = None, limit: int = 200) -> list[Entry]:
        """Saved runs, newest first; ``machine`` matches the host name."""
        where, params = [], []
        for column, value in (("mode", mode), ("spec", spec), ("label", label), ("host", machine)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = (f"SELECT {_db.COLUMNS} FROM runs {'WHERE ' + ' AND '.join(where) if where else ''} "
               "ORDER BY id DESC LIMIT ?")
        rows = self._call(self._op(lambda db: _db.select(db, sql, (*params, max(0, int(limit)))), "read", True))
        return [_db.entry(r) for r in rows]

    def _fetch(self, where: str, params: tuple, order: str = "") -> list[tuple[Entry, RunReport]]:
        sql = f"SELECT {_db.COLUMNS}, report FROM runs WHERE {where} {order}"
        rows = self._call(self._op(lambda db: _db.select(db, sql, params), "read", True))
        return [(_db.entry(r[:-1]), RunReport.from_dict(json.loads(r[-1]))) for r in rows]

    def get(self, ref: int | str) -> tuple[Entry, RunReport]:
        """A run by id, or the newest run with a label: BadInput if there is none."""
        where, params, missing = _where(ref)
        found = self._fetch(where, params)
        if not found:
            raise BadInput(self._missing(missing))
        return found[0]

    def get_saved(self, ref: int | str) -> list[tuple[Entry, RunReport]]:
        """What a reference names: an id, that run; a label, everything saved with it (the newest run with the label
        and, if it was a comparison, all that comparison's runs in order)."""
        entry, report = self.get(ref)
        if isinstance(ref, int) or str(ref).strip().isdigit() or entry.group is None:
            return [(entry, report)]
        return self._fetch("grp = ?", (entry.group,), "ORDER BY id")

    def _missing(self, message: str) -> str:
        rows = self._call(self._op(lambda db: _db.select(db, "SELECT min(id), max(id), count(*) FROM runs"), "read",
                                   True))
        low, high, n = rows[0]
        return f"{message}: the history holds {n} runs" + (f" (ids {low}..{high})" if n else "")

    def delete(self, ids: list[int]) -> int:
        """Delete these runs (ids that are not there are skipped): how many went."""
        ids = [int(i) for i in ids]

        async def go(db):
            await db.execute("BEGIN IMMEDIATE")
            n = 0
            for i in ids:
                n += (await db.execute("DELETE FROM runs WHERE id = ?", (i,))).rowcount
            await db.execute("COMMIT")
            if n:
                await _db.vacuum(db)
            return n
        return self._call(self._op(go, "change"))

    # -- closing -----------------------------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Wait for the saves handed over so far."""
        concurrent.futures.wait(list(self._pending), timeout=timeout)

    def close(self) -> None:
        """Finish the saves handed over, then stop the store's thread."""
        if os.getpid() != self._pid:
            return
        self.flush(FLUSH_AT_EXIT_S)
        with self._lock:
            if self._loop.is_closed():
                return
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
        _OPEN.discard(self)


_OPEN: weakref.WeakSet[RunStore] = weakref.WeakSet()
_DEFAULT: dict[tuple[int, str], RunStore] = {}
_DEFAULT_LOCK = threading.Lock()


def default_store() -> RunStore | None:
    """This process's store at :func:`store_path` (one per path, made on first use), or None when history is off."""
    path = store_path()
    if path is None:
        return None
    key = (os.getpid(), path)
    with _DEFAULT_LOCK:
        if key not in _DEFAULT:
            _DEFAULT[key] = RunStore(path)
        return _DEFAULT[key]


def _flush_at_exit() -> None:
    """Before the interpreter waits for its threads: saves handed over but not yet written are written."""
    for store in list(_OPEN):
        if os.getpid() == store._pid:
            store.flush(FLUSH_AT_EXIT_S)


try:            # threading's own hook runs before non-daemon threads are joined (atexit would run after)
    threading._register_atexit(_flush_at_exit)
except (AttributeError, RuntimeError):
    import atexit
    atexit.register(_flush_at_exit)
