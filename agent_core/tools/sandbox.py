"""``sandboxed_script`` (isolated): one script from :mod:`agent_core.scripts`, inside a sandbox child.

The engine always runs an ``isolated`` tool in a child process of its own (:mod:`agent_core.childproc`)
that sets its CPU, memory and wall-clock limits before this function runs; this function is the part
that runs *inside* that child. It never runs text from outside: the script name is checked against
the allow-list in :mod:`agent_core.scripts`, and the module is looked up in the shipped package.
"""
from __future__ import annotations

import importlib

from ..scripts import SCRIPTS
from . import ToolContext


def sandboxed_script(p: dict, ctx: ToolContext) -> dict:
    if p["script"] not in SCRIPTS:          # the catalog already refused it; this is the last line of defence
        raise ValueError(f"script {p['script']!r} is not on the allow-list")
    module = importlib.import_module(f"agent_core.scripts.{p['script']}")
    return {"script": p["script"], **module.run(p["size"], ctx.call_seed)}
