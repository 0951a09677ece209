"""What a run prepares before its clock starts, and releases after: the backend's address and the LLM's,
the run's SQLite database, the HTTP client in-process blocking calls share (and, warmed, the async transport
the run's loop lane builds its clients over). Each call's context is built here, with only what its tool may
see (the LLM's key goes to LLM calls alone)."""
from __future__ import annotations

import os

from .._tmp import remove
from ..catalog import CATALOG
from ..tools import ToolContext, llm_target
from ..workload import Call, Options, Workload


class Resources:
    def __init__(self, workload: Workload, options: Options) -> None:
        self.workload, self.options = workload, options
        self.sync_http = None           # httpx.Client for in-process blocking calls
        self._fields: dict = {"seed": options.seed, "timeout_s": options.timeout_s}
        self._tmp: str | None = None

    def prepare(self) -> None:
        if self.workload.network:
            from ..backend import ensure_backend
            from ..tools import http_tools
            backend = ensure_backend()
            llm_url, llm_model, llm_key = llm_target(backend.url)
            self._fields.update(base_url=backend.url, llm_base_url=llm_url, llm_model=llm_model,
                                llm_api_key=llm_key)
            http_tools.warm_up(backend.url, self.options.http)
            self.sync_http = http_tools.new_sync_client()
        if "memory_write" in self.workload.counts:
            from .._tmp import run_dir
            from ..tools.memory import prepare_db
            self._tmp = run_dir()                       # under this process's temp root
            self._fields["db_path"] = os.path.join(self._tmp, "memory.db")
            prepare_db(self._fields["db_path"])

    def fields(self, call: Call) -> dict:
        """The run's context fields this call may see: the LLM's address and key only if its tool calls it."""
        if CATALOG[call.tool].uses_llm:
            return self._fields
        return {k: v for k, v in self._fields.items() if not k.startswith("llm_")}

    def ctx(self, call: Call, remote: bool) -> ToolContext:
        """The call's context: a call in this process shares the run's HTTP client; one in another process
        uses that process's own."""
        return ToolContext(call.id, http=None if remote else self.sync_http, fault=call.fault, fault_s=call.fault_s,
                           origin=CATALOG[call.tool].origin, **self.fields(call))

    def release(self) -> None:
        if self.sync_http is not None:
            self.sync_http.close()
            self.sync_http = None
        if self._tmp is not None:
            remove(self._tmp)
            self._tmp = None
