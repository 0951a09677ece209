"""Fault injection: make one call of a tool raise, hang, crash, eat memory or spin on the CPU.

A fault is injected *where the call runs* (this thread, the event loop, a pool worker, a child), so
what it does to the rest of the run is the mode's real behaviour, not a simulation of it:

- ``raise``  — the tool raises an exception;
- ``hang``   — the tool stops responding: a network tool's server stalls (a real stuck socket), any
  other tool blocks on a lock nobody will release; bounded by ``seconds`` (at most 60);
- ``crash``  — the process running the tool dies of a real segmentation fault;
- ``memory`` — the tool allocates (and touches) memory until the process's limit stops it;
- ``spin``   — the tool loops on the CPU without yielding, for ``seconds`` (at most 60).

Every process a fault can run in has a memory limit it set itself (call children, pool workers, the
sacrificial child that hosts in-process modes), so ``memory`` always meets a limit. Light on purpose:
child processes import it.
"""
from __future__ import annotations

import time

FAULT_KINDS = ("raise", "hang", "crash", "memory", "spin")
MAX_FAULT_S = 60.0
DEFAULT_FAULT_S = 60.0
MEMORY_CAP = 3 << 30        # a backstop only: every process that can run a fault has a lower limit
_CHUNK = 32 << 20


class InjectedFault(RuntimeError):
    """The exception a ``raise`` fault throws."""


def inject(kind: str | None, seconds: float, network: bool) -> None:
    """Run the fault ``kind`` here, now. After a ``hang`` or ``spin`` the tool goes on with its work (a
    very late answer); ``hang`` in a network tool is left to its request: the server stalls."""
    if kind is None:
        return
    if kind == "raise":
        raise InjectedFault("injected fault: the tool raised an exception")
    if kind == "crash":
        import ctypes
        ctypes.string_at(0)                 # a real SIGSEGV: read address 0
    if kind == "memory":
        blocks, total = [], 0
        while total < MEMORY_CAP:           # MemoryError at the process's limit (RLIMIT_AS)
            blocks.append(bytearray(_CHUNK))  # zero-filled: the pages are really touched
            total += _CHUNK
        raise InjectedFault(f"injected fault: allocated {total >> 20} MiB and met no limit")
    if kind == "spin":
        end = time.monotonic() + seconds
        spins = 0
        while time.monotonic() < end:       # pure Python: holds the GIL, never awaits
            spins += 1
        return
    if kind == "hang" and not network:
        import threading  # here, not at the top: a call's child should not pay ~4 ms for it
        stuck = threading.Lock()
        stuck.acquire()
        stuck.acquire(timeout=seconds)      # a deadlock, bounded: nobody releases it; then the tool goes on
