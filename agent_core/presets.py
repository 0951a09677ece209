"""Named workloads that demonstrate one point each. The app's presets and the Guide link to them."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    counts: dict[str, int]
    mode: str                    # the mode that shows the point best
    point: str                   # what it demonstrates, in one sentence
    kinds: tuple[str, ...]       # which tool kinds it is about
    params: dict[str, dict] = field(default_factory=dict)

    @property
    def spec(self) -> str:
        return ",".join(f"{tool}:{n}" for tool, n in self.counts.items())


PRESETS: dict[str, Preset] = {p.key: p for p in (
    Preset("agent_turn", "Agent turn", {"llm_call": 4, "web_search": 4, "memory_write": 2, "analysis": 2}, "hybrid",
           "A realistic turn mixes every kind of work; only a mix of primitives keeps each one off the others' way.",
           ("io", "blocking", "cpu")),
    Preset("rag_turn", "RAG turn", {"vector_lookup": 3, "web_search": 3, "llm_call": 2, "memory_write": 1}, "asyncio",
           "Retrieval then generation is mostly waiting: awaited together, the turn takes as long as its slowest call.",
           ("io", "blocking")),
    Preset("fan_out", "Research fan-out", {"web_search": 40, "llm_call": 8}, "asyncio",
           "Fifty network calls on one event loop finish in about the time of the slowest one, not their sum.",
           ("io",)),
    Preset("sdk_trap", "Blocking SDK trap", {"legacy_sdk": 3, "web_search": 3}, "asyncio",
           "A synchronous SDK called inside a coroutine freezes the loop; in a thread it does not.",
           ("blocking", "io")),
    Preset("sqlite_memory", "SQLite memory writes", {"memory_write": 8, "llm_call": 2}, "hybrid",
           "sqlite3 has no async API: run it in a thread, or every awaited call waits behind each commit.",
           ("blocking",), {"memory_write": {"rows": 20_000}}),
    Preset("cpu_analysis", "CPU analysis", {"analysis": 4}, "process-pool",
           "Pure-Python work holds the GIL: threads only look parallel, a process pool really is.",
           ("cpu",)),
    Preset("isolated_scripts", "Isolated scripts", {"sandboxed_script": 4, "web_search": 2}, "subprocess",
           "Untrusted or fragile code belongs in a child process: a hard timeout, limits, and a crash that "
           "takes only it.",
           ("isolated",)),
)}
DEFAULT_PRESET = "agent_turn"
