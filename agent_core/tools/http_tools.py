"""Network tools: ``llm_call``, ``web_search``, ``fetch_page``, ``vector_lookup`` (io) and ``legacy_sdk`` (blocking).

Each io tool has a sync twin (``httpx.Client``) and an async one (``httpx.AsyncClient``); both share
the request and the parsing, so they do the same work. Clients are expensive to build (~16 ms each,
mostly the SSL context), so: one SSL context per process; per run one sync client and a few async
clients with at most 100 connections each (httpcore's pool gets slow when it is large; see
encode/httpx#3215), calls spread round-robin across them.

A run's async clients are ``httpx.AsyncClient`` over one of two transports (the run option ``http``, a key of
``agent_core.workload.HTTP_CLIENTS``): httpx's own (httpcore, pure Python) or aiohttp's (``httpx_aiohttp``),
which spends less client CPU per request on the loop's one thread. The tools' code is the same either way.
"""
from __future__ import annotations

import asyncio
import json
import math
import ssl
import threading
import time
import zlib

import certifi
import httpx

from .. import textgen
from ..catalog import CATALOG, shown
from ..errors import BadInput, ToolTimeout
from . import MAX_CHAT_BODY_BYTES, MAX_CHAT_TOOLS, MAX_TOOL_CALLS, ToolContext

LEGACY_SDK_TIMEOUT_S = 60.0   # like many SDKs it sets no useful timeout of its own; 60 s is our hard bound
CALLS_PER_ASYNC_CLIENT = 100
_lock = threading.RLock()
_ssl: ssl.SSLContext | None = None
_sync: dict[bool, httpx.Client] = {}


def ssl_context() -> ssl.SSLContext:
    global _ssl
    with _lock:
        if _ssl is None:
            _ssl = ssl.create_default_context(cafile=certifi.where())
        return _ssl


def new_sync_client(tls: bool = True) -> httpx.Client:
    """A thread-safe ``httpx.Client`` sized for the largest thread pool (64 threads). ``tls=False`` skips
    loading the CA bundle (~20 ms): only for a client that never sees an https URL."""
    return httpx.Client(verify=ssl_context() if tls else False, timeout=None,
                        limits=httpx.Limits(max_connections=128, max_keepalive_connections=64))


def sync_client(tls: bool = False) -> httpx.Client:
    """This process's shared client for plain-http (or, with ``tls``, https) URLs: for pool workers and
    call children, which outlive a run or last one call. A child talking to the local backend never pays
    for certificates."""
    with _lock:
        if tls not in _sync:
            _sync[tls] = new_sync_client(tls)
        return _sync[tls]


_warmed: set[str] = set()


def warm_up(base_url: str, transport: str = "httpx") -> None:
    """Once per process (and async transport), one throwaway request with each client type: httpx and httpcore
    import parts of themselves on first use (~15 ms), aiohttp is imported at all (~160 ms): not work any call
    should be charged for."""
    if transport in _warmed:
        return
    if not _warmed:
        with new_sync_client() as client:
            client.get(f"{base_url}/health").raise_for_status()

    async def once() -> None:
        async with new_async_client(transport, httpx.Limits()) as client:
            (await client.get(f"{base_url}/health")).raise_for_status()

    errors: list[BaseException] = []
    worker = threading.Thread(target=lambda: _capture(errors, asyncio.run, once()), name="http-warm-up")
    worker.start()                      # its own thread: the caller may be on a running loop
    worker.join()
    if errors:
        raise errors[0]
    _warmed.add(transport)


def _capture(errors: list, fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
        errors.append(exc)


def _client(ctx: ToolContext, url: str) -> httpx.Client:
    """The run's client when the runner gave one (in-process calls), else this process's own for ``url``."""
    return ctx.http if isinstance(ctx.http, httpx.Client) else sync_client(tls=url.startswith("https:"))


def new_async_client(transport: str, limits: httpx.Limits) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` over ``transport`` (a key of ``workload.HTTP_CLIENTS``), bound to the loop that
    first uses it. aiohttp's pool (``TCPConnector(limit=max_connections)``) hands a freed connection to the next
    waiter in O(1), so the same shards keep both transports off httpcore's O(connections x queued) path."""
    if transport == "httpx":
        return httpx.AsyncClient(verify=ssl_context(), timeout=None, limits=limits)
    if transport == "aiohttp":
        from httpx_aiohttp import HttpxAiohttpClient
        return HttpxAiohttpClient(verify=ssl_context(), timeout=None, limits=limits)
    raise ValueError(f"no async HTTP client for transport {transport!r}")


class AsyncClients:
    """Loop-bound clients for one run: ceil(calls / 100) of them, each with <= 100 connections, over
    ``transport`` (httpx's own or aiohttp's)."""

    def __init__(self, n_calls: int, transport: str = "httpx") -> None:
        shards = max(1, math.ceil(n_calls / CALLS_PER_ASYNC_CLIENT))
        limits = httpx.Limits(max_connections=CALLS_PER_ASYNC_CLIENT, max_keepalive_connections=20)
        self.transport = transport
        self.clients = [new_async_client(transport, limits) for _ in range(shards)]

    def for_call(self, index: int) -> httpx.AsyncClient:
        return self.clients[index % len(self.clients)]

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


def _sim_headers(ctx: ToolContext, **values: float) -> dict[str, str]:
    headers = {"x-sim-seed": ctx.call_seed}
    headers.update({f"x-sim-{k.replace('_', '-')}": f"{v:g}" for k, v in values.items()})
    if ctx.fault == "hang":                 # the service stops answering: a real stuck request
        headers["x-sim-stall-s"] = f"{ctx.fault_s:g}"
    return headers


def _timeout(ctx: ToolContext) -> httpx.Timeout:
    return httpx.Timeout(ctx.timeout_s)


def _query(ctx: ToolContext) -> str:
    topic = textgen.TOPICS[zlib.crc32(ctx.call_id.encode()) % len(textgen.TOPICS)]
    return " ".join([topic, *textgen.words(3, ctx.call_seed)])


# --- web_search -------------------------------------------------------------------------------------------

def _search_request(p: dict, ctx: ToolContext) -> dict:
    return {"method": "GET", "url": f"{ctx.base_url}/v1/search", "params": {"q": _query(ctx), "k": p["k"]},
            "headers": _sim_headers(ctx, latency_ms=p["latency_ms"], jitter=p["jitter"]), "timeout": _timeout(ctx)}


def _search_detail(r: httpx.Response) -> dict:
    r.raise_for_status()
    results = r.json()["results"]
    return {"results": len(results), "top": results[0]["title"] if results else None, "bytes": len(r.content)}


def web_search(p: dict, ctx: ToolContext) -> dict:
    request = _search_request(p, ctx)
    return _search_detail(_client(ctx, request["url"]).request(**request))


async def aweb_search(p: dict, ctx: ToolContext) -> dict:
    return _search_detail(await ctx.http.request(**_search_request(p, ctx)))


# --- vector_lookup ----------------------------------------------------------------------------------------

def _vector_request(p: dict, ctx: ToolContext) -> dict:
    return {"method": "POST", "url": f"{ctx.base_url}/v1/vectors/query",
            "json": {"embedding": textgen.embed(_query(ctx)), "k": p["k"]},
            "headers": _sim_headers(ctx, latency_ms=p["latency_ms"], jitter=p["jitter"]), "timeout": _timeout(ctx)}


def _vector_detail(r: httpx.Response) -> dict:
    r.raise_for_status()
    matches = r.json()["matches"]
    return {"matches": len(matches), "best_score": matches[0]["score"] if matches else None, "bytes": len(r.content)}


def vector_lookup(p: dict, ctx: ToolContext) -> dict:
    request = _vector_request(p, ctx)
    return _vector_detail(_client(ctx, request["url"]).request(**request))


async def avector_lookup(p: dict, ctx: ToolContext) -> dict:
    return _vector_detail(await ctx.http.request(**_vector_request(p, ctx)))


# --- embed: OpenAI's /v1/embeddings ----------------------------------------------------------------------

def _embed_request(p: dict, ctx: ToolContext) -> dict:
    return {"method": "POST", "url": f"{ctx.base_url}/v1/embeddings",
            "json": {"model": "sim-embed", "input": [_query(ctx)] * p["texts"]},
            "headers": _sim_headers(ctx, latency_ms=p["latency_ms"], jitter=p["jitter"]), "timeout": _timeout(ctx)}


def _embed_detail(r: httpx.Response) -> dict:
    r.raise_for_status()
    data = r.json()["data"]
    return {"vectors": len(data), "dim": len(data[0]["embedding"]) if data else 0, "bytes": len(r.content)}


def embed(p: dict, ctx: ToolContext) -> dict:
    request = _embed_request(p, ctx)
    return _embed_detail(_client(ctx, request["url"]).request(**request))


async def aembed(p: dict, ctx: ToolContext) -> dict:
    return _embed_detail(await ctx.http.request(**_embed_request(p, ctx)))


# --- legacy_sdk (blocking: there is no async twin, that is the point) -------------------------------------

def legacy_sdk(p: dict, ctx: ToolContext) -> dict:
    r = _client(ctx, ctx.base_url).get(f"{ctx.base_url}/v1/records", params={"n": 20},
                          headers=_sim_headers(ctx, latency_ms=p["latency_ms"], jitter=p["jitter"]),
                          timeout=LEGACY_SDK_TIMEOUT_S)
    r.raise_for_status()
    return {"records": len(r.json()["records"]), "bytes": len(r.content)}


# --- fetch_page: a page of the backend's corpus ------------------------------------------------------------

def _page_id(p: dict, ctx: ToolContext) -> int:
    """The page the engine named (``page``, engine-internal), else one chosen by the call's seed."""
    page = p.get("page")
    if page is None:
        return zlib.crc32(ctx.call_seed.encode()) % textgen.CORPUS_SIZE
    if isinstance(page, bool) or not isinstance(page, int) or not 0 <= page < textgen.CORPUS_SIZE:
        raise BadInput(f"fetch_page.page={shown(page)} is not allowed: a page id 0..{textgen.CORPUS_SIZE - 1}")
    return page


def _page_request(p: dict, ctx: ToolContext) -> dict:
    return {"method": "GET", "url": f"{ctx.base_url}/v1/pages/{_page_id(p, ctx)}", "params": {"words": p["words"]},
            "headers": _sim_headers(ctx, latency_ms=p["latency_ms"], jitter=p["jitter"]), "timeout": _timeout(ctx)}


def _page_detail(r: httpx.Response) -> dict:
    r.raise_for_status()
    page = r.json()
    return {"page": page["id"], "words": len(page["text"].split()), "bytes": len(r.content)}


def fetch_page(p: dict, ctx: ToolContext) -> dict:
    request = _page_request(p, ctx)
    return _page_detail(_client(ctx, request["url"]).request(**request))


async def afetch_page(p: dict, ctx: ToolContext) -> dict:
    return _page_detail(await ctx.http.request(**_page_request(p, ctx)))


# --- llm_call: a streamed chat completion -----------------------------------------------------------------
#
# Engine-internal parameters (not in the catalog: the engine puts them in a call's params; absent, the call is a
# plain completion): ``offer``, catalog tool names the model may call (sent as OpenAI function tools);
# ``tool_calls``, how many calls the embedded model answers with (header x-sim-tool-calls, 1..MAX_TOOL_CALLS);
# ``messages``, the agent's history (its earlier tool calls and their results), sent after the user's prompt.

MAX_HISTORY = 64                 # earlier messages one llm_call may carry
HISTORY_ROLES = ("system", "user", "assistant", "tool")


def _offered_tools(p: dict) -> list[dict]:
    """The OpenAI ``tools`` for ``offer``: each a function taking ``{"query": str}``, described by its summary."""
    offer = p.get("offer")
    if offer is None:
        return []
    if not isinstance(offer, (list, tuple)):
        raise BadInput(f"llm_call.offer={shown(offer)} is not allowed: a list of tool names, some of "
                       f"{', '.join(CATALOG)}")
    tools = []
    for name in dict.fromkeys(offer):
        if not isinstance(name, str) or name not in CATALOG:
            raise BadInput(f"llm_call.offer names unknown tool {shown(name, quote=True)}: allowed are "
                           f"{', '.join(CATALOG)}")
        tools.append({"type": "function", "function": {
            "name": name, "description": CATALOG[name].summary,
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}})
    return tools[:MAX_CHAT_TOOLS]


def _tool_call_count(p: dict, offered: bool) -> int | None:
    n = p.get("tool_calls")
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TOOL_CALLS:
        raise BadInput(f"llm_call.tool_calls={shown(n)} is not allowed: 1..{MAX_TOOL_CALLS}")
    if not offered:
        raise BadInput("llm_call.tool_calls needs llm_call.offer: the tools the model may call")
    return n


def _history(p: dict) -> list[dict]:
    """The earlier messages, checked: the shape OpenAI's API takes (so a real server accepts them too)."""
    messages = p.get("messages")
    if messages is None:
        return []
    if not isinstance(messages, (list, tuple)) or len(messages) > MAX_HISTORY:
        raise BadInput(f"llm_call.messages must be a list of at most {MAX_HISTORY} messages, not {shown(messages)}")
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in HISTORY_ROLES:
            raise BadInput(f"llm_call.messages[{i}]={shown(m)} is not allowed: a message whose role is one of "
                           f"{', '.join(HISTORY_ROLES)}")
        if role == "tool" and not (isinstance(m.get("tool_call_id"), str) and isinstance(m.get("content"), str)):
            raise BadInput(f"llm_call.messages[{i}] is a tool result: it needs a tool_call_id and a string content")
        calls = m.get("tool_calls")
        if calls is not None and not (role == "assistant" and isinstance(calls, (list, tuple)) and all(
                isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("function"), dict)
                and isinstance(c["function"].get("name"), str) and isinstance(c["function"].get("arguments"), str)
                for c in calls)):
            raise BadInput(f"llm_call.messages[{i}].tool_calls must be an assistant's list of "
                           "{id, type: 'function', function: {name, arguments}}")
    return [dict(m) for m in messages]


def _llm_request(p: dict, ctx: ToolContext) -> dict:
    headers = _sim_headers(ctx, ttft_ms=p["ttft_ms"], tokens_per_s=p["tokens_per_s"], jitter=p["jitter"])
    if ctx.llm_api_key:
        headers["authorization"] = f"Bearer {ctx.llm_api_key}"
    tools = _offered_tools(p)
    n_calls = _tool_call_count(p, bool(tools))
    if n_calls is not None:
        headers["x-sim-tool-calls"] = str(n_calls)
    body = {"model": ctx.llm_model, "stream": True, "max_tokens": p["tokens"],
            "messages": [{"role": "user", "content": f"Summarise what we know about: {_query(ctx)}"}, *_history(p)]}
    if tools:
        body["tools"] = tools
    if len(body["messages"]) > 1 and len(json.dumps(body)) > MAX_CHAT_BODY_BYTES:
        raise BadInput(f"llm_call's request would be over {MAX_CHAT_BODY_BYTES} bytes: send fewer or shorter messages")
    return {"method": "POST", "url": f"{ctx.llm_base_url}/chat/completions", "json": body, "headers": headers,
            "timeout": _timeout(ctx)}


class _TokenStream:
    """Reads server-sent events of an OpenAI-style stream: the text, the tool calls the model asked for (their
    names, and arguments put together from their pieces), and the time from sending the request to the first
    chunk that carries either. Created just before the request is sent."""

    def __init__(self, timeout_s: float) -> None:
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + timeout_s
        self.ttft_s: float | None = None
        self.tokens = 0
        self.chars = 0
        self.calls: dict[int, dict] = {}
        self.finish: str | None = None
        self.done = False

    def feed(self, line: str) -> None:
        if time.perf_counter() > self.deadline:
            raise ToolTimeout(f"the token stream ran past the {self.deadline - self.t0:g} s timeout")
        if not line.startswith("data:"):
            return
        data = line[5:].strip()
        if data == "[DONE]":
            self.done = True
            return
        for choice in json.loads(data).get("choices") or ():
            delta = choice.get("delta") or {}
            content, calls = delta.get("content"), delta.get("tool_calls")
            if content or calls:
                if self.ttft_s is None:
                    self.ttft_s = time.perf_counter() - self.t0
                self.tokens += 1
            if content:
                self.chars += len(content)
            for piece in calls or ():
                call = self.calls.setdefault(piece.get("index", 0), {"id": None, "name": None, "arguments": ""})
                call["id"] = piece.get("id") or call["id"]
                fn = piece.get("function") or {}
                call["name"] = fn.get("name") or call["name"]
                call["arguments"] += fn.get("arguments") or ""
            self.finish = choice.get("finish_reason") or self.finish

    def detail(self, r: httpx.Response) -> dict:
        detail = {"tokens": self.tokens, "ttft_ms": None if self.ttft_s is None else round(self.ttft_s * 1000, 1),
                  "ttft_s": None if self.ttft_s is None else round(self.ttft_s, 4),
                  "chars": self.chars, "bytes": r.num_bytes_downloaded, "finish_reason": self.finish}
        if self.calls:
            detail["tool_calls"] = [self.calls[i] for i in sorted(self.calls)]
        return detail


def llm_call(p: dict, ctx: ToolContext) -> dict:
    request = _llm_request(p, ctx)
    client = _client(ctx, request["url"])
    stream = _TokenStream(ctx.timeout_s)
    with client.stream(**request) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            stream.feed(line)
    return stream.detail(r)


async def allm_call(p: dict, ctx: ToolContext) -> dict:
    request = _llm_request(p, ctx)
    stream = _TokenStream(ctx.timeout_s)
    async with ctx.http.stream(**request) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            stream.feed(line)
    return stream.detail(r)
