"""Pipelines: agent turns as graphs of calls, each call starting once the calls it needs are done.

One registry, :data:`PIPELINES`: each pipeline has a summary, bounded parameters (checked here, whatever a widget
or flag allows) and a builder that lays out its steps. Visitors pick a pipeline and its parameters; they never
type a graph. A built pipeline is a :class:`~agent_core.workload.Workload` whose calls carry ``deps`` (indices of
earlier calls) and a ``stage``; every mode runs it, starting each call as soon as its own dependencies are done
(or, with the run option ``barrier``, once the whole previous stage is done: a graph run in supersteps).

Some calls are filled in from their dependencies' results when those are done (``Call.resolve``):

- ``"tool_call"``: the call runs the tool the model asked for in its ``slot``-th OpenAI ``tool_call`` (the
  streamed answer of the llm_call it depends on), if that tool is one the turn offers;
- ``"history"``: an llm_call whose request carries the conversation so far (the model's earlier tool calls and
  their results), as an agent loop sends it.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import CATALOG, Param, WithParams, get_tool, resolve_params, shown
from .errors import BadInput
from .workload import Call, Workload, check_disk, check_fault

# the tool sets an agent loop's model may pick from (names of catalog tools); a visitor picks a set by name
TOOL_SETS: dict[str, tuple[str, ...]] = {
    "io": ("web_search", "vector_lookup", "fetch_page"),
    "mixed": ("web_search", "legacy_sdk", "chunk_text"),
}
MAX_RESULT_CHARS = 400          # a tool's result as the model is shown it in the next request


@dataclass(frozen=True)
class Step:
    """One call of a pipeline as its builder lays it out: ``deps`` name earlier steps."""
    id: str
    tool: str
    stage: str
    deps: tuple[str, ...] = ()
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    resolve: str = ""
    offer: tuple[str, ...] = ()
    slot: int = 0


@dataclass(frozen=True)
class PipelineSpec(WithParams):
    name: str
    summary: str
    params: tuple[Param, ...]
    build: Callable[[dict], list[Step]]

    def to_dict(self) -> dict:
        calls = pipeline(self.name).calls()
        return {"name": self.name, "summary": self.summary, "params": self.params_dict(),
                "calls": [{"id": c.id, "tool": c.tool, "stage": c.stage, "deps": [calls[d].id for d in c.deps]}
                          for c in calls]}


# --- the built-in pipelines ------------------------------------------------------------------------------------

def _spread(tool: str, i: int, k: int, rising: bool) -> dict:
    """Branch ``i`` of ``k``'s latency: from 0.6x to 1.4x the tool's default across the branches (falling instead
    of rising when not ``rising``), as real results come back at different speeds. The searches that come back
    last fetch the quickest pages, so every branch is about as long: a barrier, which waits for the slowest call of
    each stage, pays for both slow ends."""
    f = 1.0 if k == 1 else 0.6 + 0.8 * (i - 1) / (k - 1)
    return {"latency_ms": round(get_tool(tool).param("latency_ms").default * (f if rising else 2.0 - f))}


def _research_agent(p: dict) -> list[Step]:
    """plan → K searches → per result a page fetch → chunking → a vector lookup → streamed synthesis → memory."""
    k, fetch = p["k"], ("legacy_sdk" if p["fetch"] == "sdk" else "fetch_page")
    steps = [Step("plan", "llm_call", "plan", params={"tokens": 40})]
    for i in range(1, k + 1):
        steps += [Step(f"search#{i}", "web_search", "search", ("plan",), _spread("web_search", i, k, True)),
                  Step(f"fetch#{i}", fetch, "fetch", (f"search#{i}",), _spread(fetch, i, k, False)),
                  Step(f"chunk#{i}", "chunk_text", "chunk", (f"fetch#{i}",)),
                  Step(f"lookup#{i}", "vector_lookup", "lookup", (f"chunk#{i}",))]
    steps.append(Step("synthesis", "llm_call", "synthesis", tuple(f"lookup#{i}" for i in range(1, k + 1)),
                      {"tokens": 120}))
    steps.append(Step("memory", "memory_write", "memory", ("synthesis",), {"rows": 2000}))
    return steps


def _rag_answer(p: dict) -> list[Step]:
    """embed the question → vector lookups → rerank → streamed answer."""
    n = p["lookups"]
    steps = [Step("embed", "embed", "embed")]
    steps += [Step(f"lookup#{i}", "vector_lookup", "lookup", ("embed",), {"k": 20}) for i in range(1, n + 1)]
    steps.append(Step("rerank", "rerank", "rerank", tuple(f"lookup#{i}" for i in range(1, n + 1)),
                      {"candidates": 20 * n}))
    steps.append(Step("answer", "llm_call", "answer", ("rerank",), {"tokens": 96}))
    return steps


def _agent_loop(p: dict) -> list[Step]:
    """N turns: the model streams back tool_calls, the agent runs them, appends the results and asks again;
    a last call answers."""
    offer, n = TOOL_SETS[p["tools"]], p["calls_per_turn"]
    steps: list[Step] = []
    previous: tuple[str, ...] = ()
    for turn in range(1, p["turns"] + 1):
        ask = f"turn{turn}.llm"
        steps.append(Step(ask, "llm_call", f"turn {turn}", previous,
                          {"tokens": 16, "offer": offer, "tool_calls": n}, resolve="history" if previous else ""))
        slots = [Step(f"turn{turn}.tool#{k + 1}", offer[k % len(offer)], f"turn {turn}", (ask,),
                      resolve="tool_call", offer=offer, slot=k) for k in range(n)]
        steps += slots
        previous = tuple(s.id for s in slots)
    steps.append(Step("answer", "llm_call", "answer", previous, {"tokens": 96}, resolve="history"))
    return steps


PIPELINES: dict[str, PipelineSpec] = {s.name: s for s in (
    PipelineSpec("research_agent", "plan, K web searches, a page fetch, chunking and a vector lookup per result, "
                 "a streamed synthesis, a memory write",
                 (Param("k", 5, 1, 10, help="searches the plan asks for (each gets a fetch, chunking, a lookup)"),
                  Param("fetch", "sdk", choices=("sdk", "io"),
                        help="fetch pages with the blocking SDK (legacy_sdk) or an async request (fetch_page)")),
                 _research_agent),
    PipelineSpec("rag_answer", "embed the question, vector lookups, a CPU rerank, a streamed answer",
                 (Param("lookups", 3, 1, 10, help="vector lookups (shards) queried in parallel"),),
                 _rag_answer),
    PipelineSpec("agent_loop", "N turns: the model streams back tool_calls, the agent runs them and asks again",
                 (Param("turns", 3, 1, 6, help="turns of ask, tool calls, results"),
                  Param("calls_per_turn", 2, 1, 4, help="tool calls the model asks for each turn"),
                  Param("tools", "mixed", choices=tuple(TOOL_SETS),
                        help="the tools the model may pick: " + "; ".join(f"{k}: {', '.join(v)}"
                                                                         for k, v in TOOL_SETS.items()))),
                 _agent_loop),
)}


def get_pipeline(name: str) -> PipelineSpec:
    if isinstance(name, str) and name in PIPELINES:
        return PIPELINES[name]
    raise BadInput(f"unknown pipeline {shown(name, quote=True)}: allowed are {', '.join(PIPELINES)}")


def check_params(name: str, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The pipeline's defaults with ``given`` applied, each checked against its bounds."""
    return get_pipeline(name).checked(given)


def pipeline(name: str, params: Mapping[str, Any] | None = None, tool_params: Mapping[str, dict] | None = None,
             faults: Mapping[str, tuple[str, float]] | None = None, **kwargs: Any) -> Workload:
    """Build a pipeline as a workload: ``agent_core.pipeline("research_agent", k=5)``. ``tool_params``
    (``{tool: {param: value}}``) override every step of that tool; ``faults`` (``{tool: (kind, seconds)}``) go to
    the tool's first call. Bad names and values raise BadInput before anything runs."""
    checked = check_params(name, {**(params or {}), **kwargs})
    steps = get_pipeline(name).build(checked)
    if tool_params is not None and not isinstance(tool_params, Mapping):
        raise BadInput(f"params {shown(tool_params, quote=True)} is not {{tool: {{name: value}}}}")
    used = {s.tool for s in steps} | {t for s in steps for t in s.offer}
    for tool, values in (tool_params or {}).items():
        get_tool(tool)
        if not isinstance(values, Mapping):
            raise BadInput(f"the parameters of {tool} must be {{name: value}}, not {shown(values, quote=True)}")
        if tool not in used:
            raise BadInput(f"{name} makes no {tool} call: its tools are {', '.join(sorted(used))}")
    overrides = {tool: dict(values) for tool, values in (tool_params or {}).items()}
    index = {s.id: i for i, s in enumerate(steps)}
    calls: list[Call] = []
    for i, s in enumerate(steps):
        engine_only = {k: v for k, v in s.params.items() if k in ("offer", "tool_calls")}
        own = {k: v for k, v in s.params.items() if k not in engine_only}
        values = resolve_params(s.tool, {**own, **overrides.get(s.tool, {})})
        calls.append(Call(s.id, s.tool, CATALOG[s.tool].kind, {**values, **engine_only}, i,
                          deps=tuple(index[d] for d in s.deps), stage=s.stage, resolve=s.resolve, offer=s.offer,
                          slot=s.slot))
    # each tool's parameters where a step does not set its own (what a slot the model fills in runs with)
    per_tool = {tool: resolve_params(tool, overrides.get(tool)) for tool in sorted(used)}
    counts: dict[str, int] = {}
    for c in calls:
        counts[c.tool] = counts.get(c.tool, 0) + 1
    pairs: dict[str, tuple[str, float]] = {}
    if faults is not None and not isinstance(faults, Mapping):
        raise BadInput(f"faults {shown(faults, quote=True)} is not {{tool: (kind, seconds)}}")
    for tool, fault in (faults or {}).items():
        get_tool(tool)
        if isinstance(fault, str) or not isinstance(fault, (tuple, list)) or len(fault) != 2:
            raise BadInput(f"the fault for {tool}, {shown(fault, quote=True)}, is not (kind, seconds)")
        if tool not in counts:
            raise BadInput(f"the fault {tool}:{shown(fault[0])} names a tool {name} does not call: "
                           f"its tools are {', '.join(counts)}")
        check_fault(tool, *fault)
        pairs[tool] = (fault[0], float(fault[1]))
        first = next(c for c in calls if c.tool == tool)
        calls[first.index] = dataclasses.replace(first, fault=fault[0], fault_s=float(fault[1]))
    rows = sum(c.params["rows"] for c in calls if c.tool == "memory_write")
    if rows:
        check_disk({"memory_write": 1}, {"memory_write": {"rows": rows}})
    return Workload(counts, per_tool, pairs, pipeline=(name, checked, overrides), graph=tuple(calls))


def rebuilt(workload: Workload, tool_params: Mapping[str, dict] | None = None,
            faults: Mapping[str, tuple[str, float]] | None = None) -> Workload:
    """A pipeline workload again, with more tool parameters or other faults."""
    name, params, overrides = workload.pipeline
    if tool_params is not None and not isinstance(tool_params, Mapping):
        raise BadInput(f"params {shown(tool_params, quote=True)} is not {{tool: {{name: value}}}}")
    merged = {tool: dict(values) for tool, values in overrides.items()}
    for tool, values in (tool_params or {}).items():
        merged[tool] = {**merged.get(tool, {}), **values} if isinstance(values, Mapping) else values
    return pipeline(name, params, merged, faults if faults is not None else workload.faults)


# --- filling a call in from its dependencies' results -----------------------------------------------------------

class NotRun(Exception):
    """The call will not run: ``status`` and ``error`` go in its record."""

    def __init__(self, status: str, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


def resolve(call: Call, workload: Workload, records: list) -> Call:
    """The call as it will run, from its dependencies' records (all done and ok); NotRun if it will not."""
    if call.resolve == "tool_call":
        asked = records[call.deps[0]].detail.get("tool_calls") or []
        if call.slot >= len(asked):
            raise NotRun("cancelled", f"not asked: the model asked for {len(asked)} tool call"
                                      f"{'s' if len(asked) != 1 else ''}, not {call.slot + 1}")
        name = asked[call.slot].get("name")
        if name not in call.offer:
            raise NotRun("error", f"the model asked for {shown(name, quote=True)}, which this turn does not "
                                  f"offer ({', '.join(call.offer)})")
        return dataclasses.replace(call, tool=name, kind=CATALOG[name].kind, params=workload.params[name])
    if call.resolve == "history":
        return dataclasses.replace(call, params={**call.params, "messages": _history(call, workload.graph, records)})
    return call


def blocks(record) -> bool:
    """A dependency that ended this way keeps its dependents from running (a slot the model did not ask for
    does not: the turn goes on without it)."""
    return record is None or (record.status != "ok" and not (record.error or "").startswith("not asked:"))


def _history(call: Call, calls: tuple[Call, ...], records: list) -> list[dict]:
    """The conversation an agent loop sends: for each earlier turn, the model's tool calls and their results."""
    turns: list[tuple[Call, list[Call]]] = []
    slots = [calls[d] for d in call.deps if calls[d].resolve == "tool_call"]
    while slots:
        ask = calls[slots[0].deps[0]]
        turns.append((ask, slots))
        slots = [calls[d] for d in ask.deps if calls[d].resolve == "tool_call"]
    messages: list[dict] = []
    for ask, done in reversed(turns):
        asked = records[ask.index].detail.get("tool_calls") or []
        messages.append({"role": "assistant", "content": None,
                         "tool_calls": [{"id": t["id"], "type": "function",
                                         "function": {"name": t["name"], "arguments": t["arguments"]}}
                                        for t in asked]})
        for slot in done:
            if slot.slot < len(asked):
                record = records[slot.index]
                result = json.dumps(record.detail if record.status == "ok" else {"error": record.error})
                messages.append({"role": "tool", "tool_call_id": asked[slot.slot]["id"],
                                 "content": result[:MAX_RESULT_CHARS]})
    return messages
