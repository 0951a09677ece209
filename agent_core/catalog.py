"""The tool catalog: every tool's name, kind, parameters, defaults and bounds.

This module imports nothing heavy: the command line's ``tools`` listing, the pages and the child
processes read it without loading httpx or sqlite. Implementations are found by name, lazily.
Bounds live here and are enforced here (:func:`resolve_params`), whatever a widget or a flag says.
"""
from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import BadInput
from .scripts import SCRIPTS

KINDS: dict[str, str] = {
    "io": "waits on the network: await it on an event loop (asyncio)",
    "blocking": "a library with no async API: run it in a thread so it cannot freeze the loop",
    "cpu": "pure-Python computation that holds the GIL: run it in a process pool",
    "isolated": "code that may hang, crash or eat memory: run it in its own child process",
}

# the primitive each kind calls for (what the hybrid mode does with it)
PRIMITIVES: dict[str, str] = {
    "io": "await it on an event loop (asyncio)",
    "blocking": "a thread pool sized for the work (asyncio.to_thread / run_in_executor)",
    "cpu": "a process pool (one worker per core)",
    "isolated": "a child process with a hard timeout and limits (subprocess)",
}

MAX_LATENCY_MS = 10_000
SHOWN_CHARS = 80                 # a value echoed in an error message is cut to this many characters
_INT_TEXT = re.compile(r"[+-]?[0-9]+")      # ASCII digits only: int() would also take '٣' (and '²' passes isdigit)
_MAX_INT_DIGITS = 20             # longer integer text is out of every bound here (and int() refuses > 4,300 digits)


def shown(value: Any, limit: int = SHOWN_CHARS, quote: bool = False) -> str:
    """``value`` as an error message may echo it: one line (control characters escaped), at most ``limit``
    characters, the cut marked with "…". A message naming a 65 KB spec stays one short line; a huge integer
    (which ``str()`` refuses past 4,300 digits) is described, not printed."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        text = f"{'-' if value < 0 else ''}<an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits>"
    else:
        try:
            text = str(value)
        except Exception:  # noqa: BLE001 - any object may be echoed; a broken __str__ must not hide the real error
            text = f"<{type(value).__name__}>"
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return f"'{text}'" if quote else text


def to_number(raw: Any, integer: bool = False) -> int | float:
    """A number from a value or command-line text, or ValueError. Text must use ASCII digits (Python's own
    ``int``/``float`` accept any Unicode digit, and ``str.isdigit`` passes '²', which ``int`` refuses).
    Booleans are refused; NaN comes back as NaN and a value too large for a float as ±inf, so that the caller's
    range check refuses them ("out of range") instead of OverflowError escaping; with ``integer``, a finite value
    must be whole."""
    if isinstance(raw, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if not text.isascii():
            raise ValueError("only ASCII digits are accepted")
        if _INT_TEXT.fullmatch(text):
            if len(text.lstrip("+-")) > _MAX_INT_DIGITS:
                return -math.inf if text.startswith("-") else math.inf
            return int(text)
        value = float(text)
    else:
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf
        except TypeError:
            raise ValueError(f"a {type(raw).__name__} is not a number") from None
    if integer and math.isfinite(value):
        if not value.is_integer():
            raise ValueError("not a whole number")
        return int(value)
    return value


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    help: str = ""

    @property
    def type(self) -> type:
        return type(self.default)

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        return f"{self.lo:g}..{self.hi:g}"

    def check(self, tool: str, raw: Any) -> Any:
        """Coerce ``raw`` (a value or command-line text) to this parameter's type and check its bounds."""
        label = f"{tool}.{self.name}={shown(raw)}"
        if self.choices:
            value = raw if isinstance(raw, str) else shown(raw)
            if value not in self.choices:
                raise BadInput(f"{label} is not allowed: {self.allowed()}")
            return value
        try:
            value = to_number(raw, integer=self.type is int)
        except ValueError:
            raise BadInput(f"{label} is not a{'n integer' if self.type is int else ' number'}: "
                           f"allowed {self.allowed()}") from None
        if not self.lo <= value <= self.hi:          # NaN fails too
            raise BadInput(f"{label} is out of range: allowed {self.allowed()}{' ' + self.unit if self.unit else ''}")
        return value if self.type is int else float(value)


class WithParams:
    """What has bounded parameters (a tool, a pipeline): ``name`` and ``params``, looked up by name."""

    name: str
    params: tuple[Param, ...]

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise BadInput(f"{self.name} has no parameter {shown(name, quote=True)}: allowed are "
                       + ", ".join(p.name for p in self.params))

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def checked(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The defaults with ``given`` applied, each value coerced and checked against its bounds."""
        if given is not None and not isinstance(given, Mapping):
            raise BadInput(f"the parameters of {self.name} must be {{name: value}}, not {shown(given, quote=True)}; "
                           f"{self.name}'s parameters are {', '.join(p.name for p in self.params)}")
        params = self.defaults()
        for name, raw in (given or {}).items():
            params[name] = self.param(name).check(self.name, raw)
        return params

    def params_dict(self) -> list[dict]:
        return [{"name": p.name, "default": p.default, "min": p.lo, "max": p.hi, "choices": list(p.choices) or None,
                 "unit": p.unit, "help": p.help} for p in self.params]


@dataclass(frozen=True)
class ToolSpec(WithParams):
    name: str
    kind: str
    summary: str
    params: tuple[Param, ...]
    module: str                     # where the implementation lives (imported lazily)
    sync: str                       # name of the blocking implementation: fn(params, ctx) -> detail dict
    aio: str | None = None          # name of the async implementation, if the tool has one
    max_calls: int = 200            # calls of this tool in one workload (cheap waiting scales further than work)
    cross_check: Callable[[dict], str | None] | None = field(default=None, compare=False)
    uses_llm: bool = False          # its calls get the LLM's address and key; no other call ever sees the key
    origin: str = ""                # a user's tool: where another process finds it ("SOURCE::NAME"); "" built in
    preload: Callable[[dict], tuple[str, ...]] | None = field(default=None, compare=False)   # modules a call's
    # child imports before its memory cap (the script a sandboxed_script call runs)

    def impl(self, which: str = "sync") -> Callable:
        name = self.sync if which == "sync" else self.aio
        if name is None:
            raise AttributeError(f"{self.name} has no {which} implementation")
        return getattr(importlib.import_module(self.module), name)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "summary": self.summary, "async": self.aio is not None,
                "max_calls": self.max_calls, "yours": bool(self.origin), "params": self.params_dict()}


# Where sandboxed_script's mem_mb applies: only where the script gets a child process of its own (childproc).
MEM_MB_HELP = ("address-space limit (RLIMIT_AS) that the script's own child process sets itself: applies in the "
               "subprocess, hybrid and distributed modes only. Elsewhere the script gets no child of its own "
               "(sequential, asyncio, threads: it runs in the calling process; process-pool: in a pool worker, under "
               "that worker's own limit), so this one is not applied. Each record's detail says what held where the "
               "script ran: mem_limit_applied (a limit of at most mem_mb) and mem_limit_mb (the limit in force)")


def _jitter() -> Param:
    return Param("jitter", 0.1, 0.0, 1.0, help="latency varies by up to this fraction, from the seed")


def _llm_duration(p: dict) -> str | None:
    ms = p["ttft_ms"] + 1000.0 * p["tokens"] / p["tokens_per_s"]
    if ms > MAX_LATENCY_MS:
        return (f"llm_call takes ttft_ms + tokens/tokens_per_s = {ms:.0f} ms: "
                f"allowed at most {MAX_LATENCY_MS} ms; lower tokens or raise tokens_per_s")
    return None


def _chunk_overlap(p: dict) -> str | None:
    if p["overlap"] > p["chunk_words"] // 2:
        return (f"chunk_text.overlap={p['overlap']} is more than half of chunk_words={p['chunk_words']}: "
                f"allowed 0..{p['chunk_words'] // 2}")
    return None


MAX_RERANK_WORDS = 2_000_000


def _rerank_size(p: dict) -> str | None:
    if p["candidates"] * p["words_per"] > MAX_RERANK_WORDS:
        return (f"rerank scores candidates x words_per = {p['candidates'] * p['words_per']} words: allowed at most "
                f"{MAX_RERANK_WORDS}; lower candidates or words_per")
    return None


CATALOG: dict[str, ToolSpec] = {t.name: t for t in (
    ToolSpec("llm_call", "io",
             "POST an OpenAI-compatible /v1/chat/completions with stream=true and read the token stream",
             (Param("ttft_ms", 250, 0, MAX_LATENCY_MS, unit="ms", help="time to first token"),
              Param("tokens", 48, 1, 2000, help="tokens to stream back"),
              Param("tokens_per_s", 160.0, 1.0, 5000.0, unit="tok/s", help="token rate after the first"),
              _jitter()),
             "agent_core.tools.http_tools", "llm_call", "allm_call", max_calls=1000, cross_check=_llm_duration,
             uses_llm=True),
    ToolSpec("web_search", "io", "GET a search endpoint; JSON results with text snippets",
             (Param("latency_ms", 300, 0, MAX_LATENCY_MS, unit="ms", help="server-side latency"),
              Param("k", 5, 1, 50, help="results to return"), _jitter()),
             "agent_core.tools.http_tools", "web_search", "aweb_search", max_calls=1000),
    ToolSpec("vector_lookup", "io",
             "POST a query embedding; the backend runs a top-k cosine search over the corpus it holds",
             (Param("latency_ms", 150, 0, MAX_LATENCY_MS, unit="ms", help="server-side latency"),
              Param("k", 5, 1, 100, help="neighbours to return"), _jitter()),
             "agent_core.tools.http_tools", "vector_lookup", "avector_lookup", max_calls=1000),
    ToolSpec("embed", "io", "POST an OpenAI-compatible /v1/embeddings: the backend embeds each text it is sent",
             (Param("latency_ms", 80, 0, MAX_LATENCY_MS, unit="ms", help="server-side latency"),
              Param("texts", 1, 1, 64, help="texts embedded in one request"), _jitter()),
             "agent_core.tools.http_tools", "embed", "aembed", max_calls=1000),
    ToolSpec("memory_write", "blocking",
             "persist conversation rows into a real SQLite file with sqlite3, one durable commit per call",
             (Param("rows", 5000, 1, 100_000, help="rows inserted (the call's cost scales with it)"),),
             "agent_core.tools.memory", "memory_write", "amemory_write"),
    ToolSpec("legacy_sdk", "blocking",
             "a synchronous httpx.Client call, as made by an SDK that has no async API",
             (Param("latency_ms", 350, 0, MAX_LATENCY_MS, unit="ms", help="server-side latency"), _jitter()),
             "agent_core.tools.http_tools", "legacy_sdk"),
    ToolSpec("analysis", "cpu", "pure-Python keyword and n-gram statistics over generated text (holds the GIL)",
             (Param("work", 200_000, 1_000, 1_000_000, unit="words", help="words analysed (~0.85 µs each here)"),),
             "agent_core.tools.analysis", "analysis"),
    ToolSpec("sandboxed_script", "isolated",
             "run one allow-listed script in a child process with a hard timeout and CPU/memory limits",
             (Param("script", "word_count", choices=SCRIPTS, help="which shipped script to run"),
              Param("size", 20_000, 100, 200_000, help="input size for the script"),
              Param("mem_mb", 256, 64, 1024, unit="MiB", help=MEM_MB_HELP)),
             "agent_core.tools.sandbox", "sandboxed_script", max_calls=100,
             preload=lambda p: (f"agent_core.scripts.{p['script']}",)),
    ToolSpec("fetch_page", "io", "GET one page of the backend's corpus (a search result's page): its text as JSON",
             (Param("latency_ms", 200, 0, MAX_LATENCY_MS, unit="ms", help="server-side latency"),
              Param("words", 4000, 1, 20_000, unit="words", help="length of the page"), _jitter()),
             "agent_core.tools.http_tools", "fetch_page", "afetch_page", max_calls=1000),
    ToolSpec("chunk_text", "cpu",
             "split a page into sentences, pack overlapping chunks, drop near-duplicates by MinHash (holds the GIL)",
             (Param("words", 4000, 100, 200_000, unit="words", help="words of page text chunked"),
              Param("chunk_words", 80, 16, 1000, unit="words", help="words per chunk at most"),
              Param("overlap", 16, 0, 500, unit="words", help="words a chunk repeats from the one before")),
             "agent_core.tools.retrieval", "chunk_text", cross_check=_chunk_overlap),
    ToolSpec("rerank", "cpu", "BM25-score generated candidate passages against a query, in pure Python (holds the GIL)",
             (Param("candidates", 400, 1, 5000, help="passages scored"),
              Param("words_per", 200, 10, 2000, unit="words", help="average words per passage")),
             "agent_core.tools.retrieval", "rerank", cross_check=_rerank_size),
)}


def get_tool(name: str) -> ToolSpec:
    if isinstance(name, str) and name in CATALOG:
        return CATALOG[name]
    raise BadInput(f"unknown tool {shown(name, quote=True)}: allowed are {', '.join(CATALOG)}")


def resolve_params(tool: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The tool's defaults with ``overrides`` applied, each coerced and checked against its bounds."""
    spec = get_tool(tool)
    params = spec.checked(overrides)
    if spec.cross_check and (problem := spec.cross_check(params)):
        raise BadInput(problem)
    return params
