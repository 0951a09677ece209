"""Runs that last: a store of every run and comparison (:mod:`.store`), and their exports (:mod:`.export`) and
comparisons (``from agent_core.history.diff import diff``: the module and its function share the name, so the package
does not re-export it). Names load on first use, so importing the package costs nothing."""
from __future__ import annotations

from .._lazy import exports

__all__ = ["HISTORY_ENV", "DEFAULT_MAX_RUNS", "DEFAULT_MAX_BYTES", "StoreError", "Entry", "RunStore", "store_path",
           "machine_info", "default_store", "check_label", "perfetto", "csv_text", "json_text"]

_WHERE = {**{name: "store" for name in __all__[:11]},
          "perfetto": "export", "csv_text": "export", "json_text": "export"}


__getattr__, __dir__ = exports(__name__, _WHERE)
