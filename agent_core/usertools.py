"""Your own tools: register sync or async callables and measure them under every mode like the built-in ones.

Two ways in, one registry (:data:`agent_core.catalog.CATALOG`)::

    # my_tools.py
    import agent_core

    @agent_core.tool(kind="io", bounds={"latency_ms": (0, 5000)})
    async def fetch(latency_ms: int = 200, ctx=None):      # ctx (optional): the call's ToolContext
        ...

    def summarise(words: int = 20_000):                     # a plain function: kind "blocking" until measured
        ...

    agent_core.load_tools("my_tools.py")                    # or: python -m agent_core run --tools-from my_tools.py

A file given to :func:`load_tools` (``--tools-from``, ``AGENT_CORE_TOOLS_FROM``) registers its decorated
functions, or, if it decorates none, every public function defined in it. Each keyword parameter with a default
becomes a bounded parameter (int and float: ``bounds``, or 0..10 × the default; str: ``choices``, or the default
alone), so a value from the command line or a page is checked like any other tool's.

Where a call runs in another process (a process pool, a child, a Dask worker, a sacrificial host), that process
finds the tool again by its *origin*, which travels in the call's context: the file it came from, or the module
(with the directory it is importable from). A function that has no such address (a lambda, a closure, one
defined in ``__main__``) runs in the modes that keep its kind in this process, and every other mode refuses it
with a message saying what to do. Processes the engine starts get an environment without secrets: a tool that
reads an API key from the environment finds it only where it runs in this process.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import threading
from collections.abc import Callable

from .catalog import CATALOG, KINDS, Param, ToolSpec, shown
from .errors import BadInput

DEFAULT_KIND = "blocking"       # a plain function nobody declared: safe in every mode (a thread, not the loop)
MAX_CALLS = 200
MAX_FILE_BYTES = 1 << 20
_ORIGIN_ATTR = "__agent_core_origin__"

_lock = threading.RLock()
_functions: dict[str, Callable] = {}         # tool name -> the user's callable
_declared: dict[str, str | None] = {}        # tool name -> the kind its author declared (None: not declared)
_loaded: dict[str, list[str]] = {}           # origin source -> the tools it registered
_measured: dict[str, tuple[float, float]] = {}   # tool name -> (wall, CPU) of one call, as classify measured it


# -- registering ------------------------------------------------------------------------------------------
def tool(fn: Callable | None = None, *, kind: str | None = None, name: str | None = None,
         bounds: dict[str, tuple[float, float]] | None = None, choices: dict[str, tuple[str, ...]] | None = None,
         summary: str | None = None, max_calls: int = MAX_CALLS):
    """Register ``fn`` as a tool (usable bare, ``@tool``, or with options, ``@tool(kind="io")``).

    ``kind``: io, blocking, cpu or isolated (None: measure it with ``classify``; until then coroutine functions
    run as io and the rest as blocking). ``bounds``/``choices`` bound its parameters. Returns ``fn`` unchanged."""
    def register(f: Callable) -> Callable:
        _register(f, kind=kind, name=name, bounds=bounds or {}, choices=choices or {}, summary=summary,
                  max_calls=max_calls)
        return f
    return register(fn) if fn is not None else register


def _register(fn: Callable, *, kind, name, bounds, choices, summary, max_calls) -> ToolSpec:
    if not callable(fn):
        raise BadInput(f"{shown(fn, quote=True)} is not a function: a tool is a sync or async callable")
    tool_name = name or getattr(fn, "__name__", "")
    if not isinstance(tool_name, str) or not tool_name.isidentifier():
        raise BadInput(f"tool name {shown(tool_name, quote=True)} is not allowed: use a Python identifier")
    if kind is not None and kind not in KINDS:
        raise BadInput(f"{tool_name}: kind {shown(kind, quote=True)} is not allowed: one of {', '.join(KINDS)}")
    if not isinstance(max_calls, int) or not 1 <= max_calls <= 1000:
        raise BadInput(f"{tool_name}: max_calls={shown(max_calls)} is out of range: allowed 1..1000")
    is_async = inspect.iscoroutinefunction(fn)
    spec = ToolSpec(tool_name, kind or ("io" if is_async else DEFAULT_KIND),
                    summary or _summary(fn), _params(tool_name, fn, bounds, choices),
                    __name__, "run_sync", "run_async" if is_async else None, max_calls=max_calls,
                    origin=f"{_source_of(fn)}::{tool_name}")
    with _lock:
        existing = CATALOG.get(tool_name)
        if existing is not None and not existing.origin and existing.module != __name__:
            raise BadInput(f"tool name {tool_name!r} is a built-in tool's: give yours another name")
        if existing is not None and existing.origin != spec.origin:
            raise BadInput(f"tool {tool_name!r} is registered twice (from {where(existing.origin)} and "
                           f"{where(spec.origin)}): give one of them another name")
        CATALOG[tool_name] = spec
        _functions[tool_name] = fn
        _declared[tool_name] = kind
    return spec


def _summary(fn: Callable) -> str:
    paragraph = " ".join((inspect.getdoc(fn) or "").strip().split("\n\n")[0].split())
    first = paragraph.split(". ")[0].rstrip(".")
    return (first[:197] + "…" if len(first) > 200 else first) or f"your tool {fn.__name__}"


def _params(tool_name: str, fn: Callable, bounds: dict, choices: dict) -> tuple[Param, ...]:
    out = []
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        raise BadInput(f"{tool_name}: its signature cannot be read; define it with def or async def") from None
    for p in signature.parameters.values():
        if p.name == "ctx":
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise BadInput(f"{tool_name}: *{p.name} is not allowed: give every parameter a name and a default")
        if p.default is p.empty:
            raise BadInput(f"{tool_name}: parameter {p.name!r} has no default: every parameter needs one")
        d = p.default
        if isinstance(d, bool) or not isinstance(d, (int, float, str)):
            raise BadInput(f"{tool_name}: parameter {p.name!r} defaults to {shown(d, quote=True)}: "
                           "a default must be an int, a float or a str")
        if isinstance(d, str):
            allowed = tuple(choices.get(p.name, (d,)))
            if d not in allowed:
                raise BadInput(f"{tool_name}: the default of {p.name!r} ({d!r}) is not one of its choices")
            out.append(Param(p.name, d, choices=allowed))
            continue
        lo, hi = bounds.get(p.name, (min(0, 10 * d), max(10 * d, 1)))
        if not lo <= d <= hi:
            raise BadInput(f"{tool_name}: the default of {p.name!r} ({d}) is outside its bounds {lo}..{hi}")
        out.append(Param(p.name, d, lo, hi))
    unknown = (set(bounds) | set(choices)) - {p.name for p in out}
    if unknown:
        raise BadInput(f"{tool_name}: bounds or choices for {', '.join(sorted(unknown))}, which it does not take")
    return tuple(out)


def _source_of(fn: Callable) -> str:
    """Where another process finds ``fn`` again: ``file:PATH`` or ``module:NAME@ROOT``; "" if nowhere."""
    qualname = getattr(fn, "__qualname__", "")
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    if module is None or "<" in qualname or "." in qualname:
        return ""                                     # a lambda, a closure, a method
    origin = getattr(module, _ORIGIN_ATTR, None)
    if origin:
        return origin
    if module.__name__ in ("__main__", "__mp_main__") or not getattr(module, "__file__", None):
        return ""
    path = os.path.abspath(module.__file__)
    parts = module.__name__.split(".")
    root = os.path.dirname(path)
    if os.path.basename(path) == "__init__.py":
        root = os.path.dirname(root)
    for _ in parts[1:]:
        root = os.path.dirname(root)
    return f"module:{module.__name__}@{root}"


def where(origin: str, relative_to: str | None = None) -> str:
    """Where a tool came from, in words: its file (relative to ``relative_to`` when inside it), its module, or
    "this process only"."""
    source = origin.split("::")[0]
    if source.startswith("file:"):
        path = source[5:]
        if relative_to and os.path.commonpath([relative_to, path]) == relative_to:
            return os.path.relpath(path, relative_to)
        return path
    if source.startswith("module:"):
        return "module " + source[7:].split("@")[0]
    return "this process only (a lambda, a closure or a function of __main__)"


# -- loading ----------------------------------------------------------------------------------------------
def load_tools(path: str, flag: str = "--tools-from") -> list[str]:
    """Import a file of tools and register them (see the module docstring); the names registered. A file
    already loaded is not run again. Any problem is one :class:`BadInput` naming the file (after ``flag``, the
    name of the setting the path came from)."""
    if not isinstance(path, str) or not path.strip():
        raise BadInput(f"{flag} {shown(path, quote=True)} is not a file path: give one such as my_tools.py")
    full = os.path.abspath(os.path.expanduser(path.strip()))
    source = f"file:{full}"
    with _lock:
        if source in _loaded:
            return list(_loaded[source])
        if not full.endswith(".py") or not os.path.isfile(full):
            raise BadInput(f"{flag} {shown(path, quote=True)} is not a Python file (.py) that exists")
        if os.path.getsize(full) > MAX_FILE_BYTES:
            raise BadInput(f"{flag} {shown(path, quote=True)} is over {MAX_FILE_BYTES >> 20} MiB: "
                           "not a file of tools")
        before = set(_functions)
        module_name = _module_name(full)
        spec = importlib.util.spec_from_file_location(module_name, full)
        module = importlib.util.module_from_spec(spec)
        setattr(module, _ORIGIN_ATTR, source)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BadInput as exc:
            _forget(module_name, before)
            raise BadInput(f"{flag} {shown(path, quote=True)}: {exc}") from None
        except KeyboardInterrupt:
            _forget(module_name, before)
            raise
        except BaseException as exc:  # noqa: BLE001 - the user's file: any error (even SystemExit) is one line
            _forget(module_name, before)
            raise BadInput(f"{flag} {shown(path, quote=True)} failed to import: {type(exc).__name__}: "
                           f"{shown(exc)}") from None
        names = [n for n in _functions if n not in before]
        if not names:                       # nothing decorated: every public function defined in the file
            try:
                for fn in _plain_functions(module):
                    _register(fn, kind=None, name=None, bounds={}, choices={}, summary=None, max_calls=MAX_CALLS)
            except BadInput as exc:
                _forget(module_name, before)
                raise BadInput(f"{flag} {shown(path, quote=True)}: {exc}") from None
            names = [n for n in _functions if n not in before]
        if not names:
            _forget(module_name, before)
            raise BadInput(f"{flag} {shown(path, quote=True)} defines no tool: decorate functions with "
                           "@agent_core.tool, or define public functions in it")
        _loaded[source] = names
        return list(names)


def _plain_functions(module) -> list[Callable]:
    return [v for k, v in vars(module).items()
            if not k.startswith("_") and inspect.isfunction(v) and v.__module__ == module.__name__]


def _forget(module_name: str, before: set[str]) -> None:
    sys.modules.pop(module_name, None)
    for n in set(_functions) - before:
        _functions.pop(n, None)
        _declared.pop(n, None)
        CATALOG.pop(n, None)


def unregister(names=None) -> None:
    """Forget these user tools (default: all of them) in this process: the catalog holds the built-in ones
    again, and their files load afresh next time."""
    with _lock:
        gone = set(_functions if names is None else names) & set(_functions)
        for n in gone:
            _functions.pop(n, None)
            _declared.pop(n, None)
            _measured.pop(n, None)
            CATALOG.pop(n, None)
        for source, registered in list(_loaded.items()):
            if set(registered) & gone:
                del _loaded[source]
                if source.startswith("file:"):
                    sys.modules.pop(_module_name(source[5:]), None)


def _module_name(full: str) -> str:
    return "agent_core_tools_" + hashlib.sha1(full.encode()).hexdigest()[:12]


def ensure(origin: str) -> Callable:
    """The callable behind ``origin`` (``SOURCE::NAME``), loading its file or module in this process first if
    needed: how a pool worker, a child, a Dask worker or a host finds a user's tool."""
    source, _, name = origin.partition("::")
    with _lock:
        fn = _functions.get(name)
        if fn is not None:
            return fn
        if source.startswith("file:"):
            load_tools(source[5:])
        elif source.startswith("module:"):
            module, _, root = source[7:].partition("@")
            if root and root not in sys.path:
                sys.path.append(root)
            importlib.import_module(module)
        fn = _functions.get(name)
    if fn is None:
        raise LookupError(f"tool {name!r} was not found in {where(origin)}")
    return fn


def ensure_all(origins: list[str]) -> None:
    for origin in origins:
        ensure(origin)


def user_tools() -> list[str]:
    """The names of the tools registered here, in registration order."""
    with _lock:
        return list(_functions)


def declared_kind(name: str) -> str | None:
    return _declared.get(name)


def measured(name: str) -> tuple[float, float] | None:
    """One call's (wall, CPU) in seconds as the latest :func:`agent_core.classify` measured it here."""
    return _measured.get(name)


def remember(name: str, wall_s: float, cpu_s: float) -> None:
    _measured[name] = (wall_s, cpu_s)


def is_user_tool(name: str) -> bool:
    return name in _functions


def portable(origin: str) -> bool:
    """Another process can find this tool again (it has a file or module, not only a name here)."""
    return not origin.startswith("::")


def origins_of(tools) -> list[str]:
    """The origins of the user's tools among ``tools`` (what another process must load to run them)."""
    return [CATALOG[t].origin for t in tools if t in _functions and portable(CATALOG[t].origin)]


def check_portable(tools, mode: str, out_of_process_kinds: set[str], hosted: bool = False) -> None:
    """BadInput if a tool that cannot be found from another process (no origin) would run in one in ``mode``."""
    for t in tools:
        spec = CATALOG.get(t)
        if spec is None or t not in _functions or portable(spec.origin):
            continue
        if hosted or spec.kind in out_of_process_kinds:
            where = "a sacrificial process (the run has a crash or memory fault)" if hosted else \
                f"another process in the {mode} mode (its kind is {spec.kind})"
            raise BadInput(f"tool {t!r} runs in {where}, which must import it, but it is a lambda, a closure or "
                           "defined in __main__: define it at the top level of a module or of a file given to "
                           "--tools-from / agent_core.load_tools")


# -- running ---------------------------------------------------------------------------------------------
def impl_of(tool: str, which: str, ctx) -> Callable:
    """The implementation a call of ``tool`` runs (``which``: "sync" or "aio"), in whatever process it runs: a
    user's tool is found again by the origin its context carries, which may load its file here first."""
    if getattr(ctx, "origin", ""):
        return run_async if which == "aio" else run_sync
    return CATALOG[tool].impl(which)


def _call_args(fn: Callable, params: dict, ctx) -> dict:
    return {**params, "ctx": ctx} if _takes_ctx(fn) else dict(params)


@functools.cache
def _takes_ctx(fn: Callable) -> bool:
    try:
        return "ctx" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _detail(value) -> dict:
    if isinstance(value, dict):
        return {str(k): v for k, v in list(value.items())[:20]}
    return {} if value is None else {"result": shown(value, 200)}


def run_sync(params: dict, ctx) -> dict:
    """A user's tool, called from a thread (an async one gets an event loop of its own for the call)."""
    fn = ensure(ctx.origin)
    if inspect.iscoroutinefunction(fn):
        return _detail(asyncio.run(fn(**_call_args(fn, params, ctx))))
    return _detail(fn(**_call_args(fn, params, ctx)))


async def run_async(params: dict, ctx) -> dict:
    """A user's async tool, awaited on the running loop."""
    fn = ensure(ctx.origin)
    return _detail(await fn(**_call_args(fn, params, ctx)))


def load_from_environment() -> list[str]:
    """Load ``AGENT_CORE_TOOLS_FROM`` (paths joined by ``os.pathsep``), set by whoever runs the server: the
    only way a page ever gets code to run. Returns the names registered ([] when unset)."""
    value = os.environ.get("AGENT_CORE_TOOLS_FROM", "").strip()
    names: list[str] = []
    for path in filter(None, (p.strip() for p in value.split(os.pathsep))):
        names.extend(load_tools(path, "AGENT_CORE_TOOLS_FROM"))
    return names
