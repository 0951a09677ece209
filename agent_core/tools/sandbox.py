"""``sandboxed_script`` (isolated): one script from :mod:`agent_core.scripts`, inside a sandbox child.

The engine always runs an ``isolated`` tool in a child process of its own (:mod:`agent_core.childproc`)
that sets its CPU, memory and wall-clock limits before this function runs; this function is the part
that runs *inside* that child. It never runs text from outside: the script name is checked against
the allow-list in :mod:`agent_core.scripts`, and the module is looked up in the shipped package.

Only the modes that give the script a child of its own (``subprocess``, ``hybrid``) apply its ``mem_mb``;
elsewhere it runs under whatever limit its process has. The detail says which, read from the limit in force
where the script ran: ``mem_limit_applied`` (an address-space limit of at most ``mem_mb`` MiB held) and
``mem_limit_mb`` (the limit in force, None for none).
"""
from __future__ import annotations

import importlib
import resource

from ..scripts import SCRIPTS
from . import ToolContext


def sandboxed_script(p: dict, ctx: ToolContext) -> dict:
    if p["script"] not in SCRIPTS:          # the catalog already refused it; this is the last line of defence
        raise ValueError(f"script {p['script']!r} is not on the allow-list")
    module = importlib.import_module(f"agent_core.scripts.{p['script']}")
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    limit_mb = None if soft == resource.RLIM_INFINITY else soft >> 20
    return {"script": p["script"], **module.run(p["size"], ctx.call_seed),
            "mem_limit_applied": limit_mb is not None and limit_mb <= p["mem_mb"], "mem_limit_mb": limit_mb}
