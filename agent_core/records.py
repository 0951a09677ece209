"""Records of a run: raw timestamps, with every derived figure a property (so nothing can disagree).

Times are seconds from the run's start on the runner's clock. ``speedup`` is the *apparent* one,
Σ task wall / wall: under the GIL, threads make each CPU call look longer, so it can claim ×3.6 where
the true speedup (sequential wall / this wall) is ×1.0. CPU time per call tells the truth.

``physics`` lists the figures no machine could produce (a true speedup above the cores the CPU calls had,
a wall shorter than one of its own calls, more CPU than the cores could give in the wall), each with the
cause the report's own numbers show when they show one: a report never presents an impossible figure
without saying so.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .machine import usable_cores
from .physics import checks, critical_chain


@dataclass
class TaskRecord:
    id: str
    tool: str
    kind: str
    worker: str            # lane: "event-loop", a thread's name, or "pid N"
    start_s: float
    end_s: float
    cpu_s: float
    status: str            # ok error timeout crashed cancelled
    error: str | None = None
    detail: dict = field(default_factory=dict)
    deps: list[str] = field(default_factory=list)   # a pipeline's call: the ids of the calls it needed done first
    stage: str = ""                                 # a pipeline's call: its step ("search", "fetch", ...)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("start_s", "end_s", "cpu_s"):
            data[key] = round(data[key], 6)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TaskRecord:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def _peak(tasks: list[TaskRecord]) -> int:
    edges = sorted([(t.start_s, 1) for t in tasks] + [(t.end_s, -1) for t in tasks])  # ends sort first
    peak = active = 0
    for _, step in edges:
        active += step
        peak = max(peak, active)
    return peak


@dataclass
class RunReport:
    mode: str
    wall_s: float
    tasks: list[TaskRecord]
    workers: int | None = None
    options: dict = field(default_factory=dict)
    loop_lag: list[tuple[float, float]] | None = None   # (s since start, lag ms); None: no loop in this process
    baseline_wall_s: float | None = None                # the sequential run's wall, when one was measured
    setup_s: float = 0.0                                # preparation before the clock started (not in wall)
    started_at: float = 0.0                             # time.time() when the clock started: when it was measured
    faults: list[dict] = field(default_factory=list)    # injected faults: [{"call", "kind", "seconds"}]
    abandoned: list[str] = field(default_factory=list)  # calls whose threads were still running at the end
    pool_replaced: bool = False                         # the process pool broke or was killed, and is replaced
    host: dict | None = None                            # the sacrificial child that hosted the run, if any
    cores: int = field(default_factory=usable_cores)
    baseline_cpu_s: float | None = None                 # the sequential run's Σ CPU, when one was measured

    @property
    def sum_task_s(self) -> float:
        return sum(t.duration_s for t in self.tasks)

    @property
    def sum_cpu_s(self) -> float:
        return sum(t.cpu_s for t in self.tasks)

    @property
    def critical_path(self) -> list[str]:
        """The ids of the longest dependency chain of measured durations: no schedule can finish sooner than it
        takes. For independent calls, the longest single call."""
        return critical_chain(self.tasks)[1]

    @property
    def critical_path_s(self) -> float:
        """The duration of :attr:`critical_path` (for independent calls: the longest single call)."""
        return critical_chain(self.tasks)[0]

    @property
    def pipeline(self) -> dict | None:
        """The pipeline this run measured (``{"name", "params"}``), or None for a flat workload."""
        return self.options.get("pipeline")

    @property
    def speedup(self) -> float:
        """Apparent speedup: Σ task wall / wall."""
        return self.sum_task_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def true_speedup(self) -> float | None:
        if self.baseline_wall_s is None or self.wall_s <= 0:
            return None
        return self.baseline_wall_s / self.wall_s

    @property
    def physics(self) -> list[dict]:
        """Figures above what this machine allows (:func:`agent_core.physics.checks`): ``{"check", "value",
        "limit", "cause"}`` each. Empty: nothing impossible."""
        return checks(self)

    @property
    def loop_lag_max_ms(self) -> float | None:
        if self.loop_lag is None:
            return None
        return max((lag for _, lag in self.loop_lag), default=0.0)

    @property
    def peak_concurrency(self) -> int:
        return _peak(self.tasks)

    @property
    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.tasks:
            counts[t.status] = counts.get(t.status, 0) + 1
        return counts

    @property
    def faulty_ids(self) -> set[str]:
        return {f["call"] for f in self.faults}

    @property
    def ok(self) -> bool:
        return all(t.status == "ok" for t in self.tasks)

    def lanes(self) -> list[str]:
        """Worker lanes in order of first use."""
        return list(dict.fromkeys(t.worker for t in sorted(self.tasks, key=lambda t: t.start_s)))

    def to_dict(self) -> dict:
        def r(x: float | None, nd: int = 6) -> float | None:
            return None if x is None else round(x, nd)
        return {"mode": self.mode, "wall_s": r(self.wall_s), "sum_task_s": r(self.sum_task_s),
                "sum_cpu_s": r(self.sum_cpu_s), "critical_path_s": r(self.critical_path_s),
                "critical_path": self.critical_path,
                "speedup": r(self.speedup, 3), "true_speedup": r(self.true_speedup, 3),
                "loop_lag_max_ms": r(self.loop_lag_max_ms, 3), "peak_concurrency": self.peak_concurrency,
                "statuses": self.statuses, "n_calls": len(self.tasks), "workers": self.workers,
                "cores": self.cores, "baseline_wall_s": r(self.baseline_wall_s), "setup_s": r(self.setup_s),
                "started_at": self.started_at, "faults": self.faults, "abandoned": self.abandoned,
                "pool_replaced": self.pool_replaced, "host": self.host,
                "options": self.options, "tasks": [t.to_dict() for t in self.tasks],
                "loop_lag_samples": self.loop_lag, "baseline_cpu_s": r(self.baseline_cpu_s), "physics": self.physics}

    @classmethod
    def of(cls, mode: str, wall_s: float, tasks: list[TaskRecord], workload, options, **fields) -> RunReport:
        """The one way a report is built, for a live run and for a host that died: the workload's spec,
        parameters and faults, and the options, written the same way every time."""
        shape = {} if workload.pipeline is None else {
            "pipeline": {"name": workload.pipeline[0], "params": workload.pipeline[1],
                         "tool_params": workload.pipeline[2], "barrier": options.barrier}}
        return cls(mode=mode, wall_s=wall_s, tasks=tasks,
                   options={**options.to_dict(), "spec": workload.spec, "params": workload.params, **shape},
                   faults=[{"call": c.id, "kind": c.fault, "seconds": c.fault_s} for c in workload.calls() if c.fault],
                   **fields)

    @classmethod
    def from_dict(cls, data: dict) -> RunReport:
        lag = data.get("loop_lag_samples")
        return cls(mode=data["mode"], wall_s=data["wall_s"], tasks=[TaskRecord.from_dict(t) for t in data["tasks"]],
                   workers=data.get("workers"), options=data.get("options") or {},
                   loop_lag=None if lag is None else [tuple(s) for s in lag],
                   baseline_wall_s=data.get("baseline_wall_s"), setup_s=data.get("setup_s") or 0.0,
                   started_at=data.get("started_at") or 0.0, faults=data.get("faults") or [],
                   abandoned=data.get("abandoned") or [], pool_replaced=bool(data.get("pool_replaced")),
                   host=data.get("host"),
                   cores=data.get("cores") or usable_cores(), baseline_cpu_s=data.get("baseline_cpu_s"))
