"""The embedded tool backend: a real HTTP service (Starlette on uvicorn) in its own process.

It stands for the remote services an agent calls: an OpenAI-compatible chat endpoint (plain or streamed
completions, function tool calls, as the official ``openai`` SDK expects them), a search API, pages to fetch,
a vector store that runs a real top-k cosine search, and a legacy records API. Every request is bounded: a
body over its limit, too many messages or tools get a 4xx with OpenAI's error shape.
Awaiting a delay *here* is legitimate: it stands for remote work. Latency is set per request with
``x-sim-*`` headers (real servers ignore them), jitter comes from the request's seed.

Started by :mod:`agent_core.backend`; never imported by the measured process. Protocol: the parent
keeps our stdin open; we print ``{"port": N}`` once serving, and exit as soon as stdin reaches EOF
(the parent stopped us, or died).
"""
from __future__ import annotations

import asyncio
import functools
import heapq
import json
import math
import os
import random
import re
import resource
import socket
import sys
import threading
import time
import zlib

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from agent_core import textgen
from agent_core.tools import MAX_CHAT_BODY_BYTES, MAX_CHAT_MESSAGES, MAX_CHAT_TOOLS, MAX_TOOL_CALLS

MAX_DELAY_S = 10.0     # the same bound the catalog enforces on the client side
MAX_STALL_S = 60.0     # an injected hang never lasts longer than this
CORPUS_SIZE = textgen.CORPUS_SIZE
MAX_VECTOR_BODY_BYTES = 64_000   # a query embedding and k
POSTINGS = 100         # impact-ordered index: each word keeps its 100 highest-weighted documents


def _build_corpus() -> tuple[list[dict], dict[str, list[tuple[int, float]]], np.ndarray]:
    """Documents, an impact-ordered inverted index (word -> [(doc, tf·idf)], best first), and embeddings."""
    docs, tf = [], {}
    for i in range(CORPUS_SIZE):
        body = textgen.text(40, f"doc:{i}")
        topic = textgen.TOPICS[i % len(textgen.TOPICS)]
        docs.append({"id": i, "title": f"{topic} note {i}", "url": f"https://docs.example/{topic}/{i}",
                     "text": f"{topic} {body}"})
        for word in docs[-1]["text"].split():
            tf.setdefault(word, {})[i] = tf.get(word, {}).get(i, 0) + 1
    index = {}
    for word, counts in tf.items():
        idf = math.log(1 + CORPUS_SIZE / len(counts))
        index[word] = sorted(((d, n * idf) for d, n in counts.items()), key=lambda p: (-p[1], p[0]))[:POSTINGS]
    vectors = np.array([textgen.embed(d["text"]) for d in docs], dtype=np.float32)
    return docs, index, vectors


DOCS, INDEX, VECTORS = _build_corpus()


def _header(request: Request, name: str, default: float, lo: float, hi: float) -> float:
    try:
        value = float(request.headers.get(name, default))
    except ValueError:
        value = default
    return min(hi, max(lo, value)) if value == value else default


def _jitter(request: Request) -> float:
    return textgen.jitter_factor(_header(request, "x-sim-jitter", 0.0, 0.0, 1.0),
                                 request.headers.get("x-sim-seed", "0"))


async def _stall(request: Request) -> None:
    """An injected hang: the service stops answering (bounded)."""
    stall = _header(request, "x-sim-stall-s", 0.0, 0.0, MAX_STALL_S)
    if stall:
        await asyncio.sleep(stall)


async def _delay(request: Request, default_ms: float) -> float:
    await _stall(request)
    seconds = min(MAX_DELAY_S, _header(request, "x-sim-latency-ms", default_ms, 0, 1e9) / 1000 * _jitter(request))
    await asyncio.sleep(seconds)
    return seconds


class Refused(Exception):
    """A request the server does not accept: answered with OpenAI's error shape and a 4xx status."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param

    def response(self) -> JSONResponse:
        return JSONResponse({"error": {"message": self.message, "type": "invalid_request_error",
                                       "param": self.param, "code": None}}, status_code=self.status)


async def _json_body(request: Request, limit: int = MAX_CHAT_BODY_BYTES) -> dict:
    """The request's JSON object, read up to ``limit`` bytes (413 beyond, 400 if it is not a JSON object)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 15 or int(declared) > limit):
        raise Refused(413, f"the request body is {declared} bytes: at most {limit} are accepted")
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise Refused(413, f"the request body is over {limit} bytes: at most {limit} are accepted")
        parts.append(part)
    try:
        body = json.loads(b"".join(parts))
    except (ValueError, RecursionError):        # RecursionError: nested deeper than the parser goes
        raise Refused(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "the request body must be a JSON object")
    return body


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "pid": os.getpid(), "corpus": len(DOCS)})


async def search(request: Request) -> JSONResponse:
    waited = await _delay(request, 300)
    query = request.query_params.get("q", "")[:500].lower().split()
    k = int(_header(request, "x-sim-k", float(request.query_params.get("k", 5) or 5), 1, 50))
    scores: dict[int, float] = {}
    for word in set(query):
        for doc_id, weight in INDEX.get(word, ()):
            scores[doc_id] = scores.get(doc_id, 0.0) + weight
    top = heapq.nsmallest(k, scores.items(), key=lambda kv: (-kv[1], kv[0]))
    results = [{"title": DOCS[i]["title"], "url": DOCS[i]["url"], "snippet": DOCS[i]["text"][:160],
                "score": round(s, 4)} for i, s in top]
    return JSONResponse({"query": " ".join(query), "results": results, "server_wait_s": round(waited, 4)})


async def vector_query(request: Request) -> JSONResponse:
    try:
        body = await _json_body(request, MAX_VECTOR_BODY_BYTES)
    except Refused as refused:
        return refused.response()
    waited = await _delay(request, 150)
    try:
        emb = np.asarray(body.get("embedding", [])[: textgen.EMBED_DIM], dtype=np.float32)
        k = max(1, min(100, int(body.get("k", 5))))
    except (TypeError, ValueError, OverflowError):
        emb, k = None, 0
    if emb is None or emb.shape != (textgen.EMBED_DIM,):
        return JSONResponse({"error": f"embedding must have {textgen.EMBED_DIM} numbers, k an integer"},
                            status_code=422)
    sims = VECTORS @ emb / (float(np.linalg.norm(emb)) or 1.0)
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top], kind="stable")]
    return JSONResponse({"matches": [{"id": int(i), "title": DOCS[i]["title"], "score": round(float(sims[i]), 4)}
                                     for i in top], "server_wait_s": round(waited, 4)})


MAX_EMBED_INPUTS = 64          # texts in one /v1/embeddings request
MAX_EMBED_CHARS = 8_000        # characters of one text


async def embeddings(request: Request) -> JSONResponse:
    """OpenAI's ``/v1/embeddings``: ``input`` a string or a list of strings; the hashing-trick embedding of each."""
    try:
        body = await _json_body(request, MAX_VECTOR_BODY_BYTES)
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if (not isinstance(texts, list) or not 1 <= len(texts) <= MAX_EMBED_INPUTS
                or not all(isinstance(t, str) and len(t) <= MAX_EMBED_CHARS for t in texts)):
            raise Refused(400, f"input must be a string or a list of 1..{MAX_EMBED_INPUTS} strings of at most "
                               f"{MAX_EMBED_CHARS} characters", "input")
    except Refused as refused:
        return refused.response()
    waited = await _delay(request, 80)
    data = [{"object": "embedding", "index": i, "embedding": textgen.embed(t)} for i, t in enumerate(texts)]
    tokens = sum(len(t.split()) for t in texts)
    return JSONResponse({"object": "list", "data": data, "model": str(body.get("model") or "sim-embed"),
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                         "server_wait_s": round(waited, 4)})


async def records(request: Request) -> JSONResponse:
    waited = await _delay(request, 350)
    n = max(1, min(200, int(request.query_params.get("n", 20) or 20)))
    start = int(request.query_params.get("offset", 0) or 0) % CORPUS_SIZE
    rows = [{"id": (start + j) % CORPUS_SIZE, "name": DOCS[(start + j) % CORPUS_SIZE]["title"],
             "status": ("open", "closed", "pending")[j % 3]} for j in range(n)]
    return JSONResponse({"records": rows, "server_wait_s": round(waited, 4)})


# --- /v1/chat/completions: OpenAI-compatible enough for the official SDK --------------------------------------

ROLES = ("system", "developer", "user", "assistant", "tool")
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")      # OpenAI's rule for a function's name


def _text_of(content) -> str:
    """A message's content as text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _check_tool_call(call, where: str) -> str:
    fn = call.get("function") if isinstance(call, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not isinstance(fn.get("arguments"), str):
        raise Refused(400, f"{where} must be {{id, type: 'function', function: {{name, arguments (a JSON string)}}}}",
                      where)
    return fn["name"] + fn["arguments"]


def _messages(body: dict) -> int:
    """Check the messages (roles, contents, earlier tool calls and results); their rough token count."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Refused(400, "messages must be a non-empty list", "messages")
    if len(messages) > MAX_CHAT_MESSAGES:
        raise Refused(400, f"messages has {len(messages)} entries: at most {MAX_CHAT_MESSAGES} are accepted",
                      "messages")
    chars = 0
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise Refused(400, f"{where}.role must be one of {', '.join(ROLES)}", f"{where}.role")
        content = m.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise Refused(400, f"{where}.content must be a string, a list of parts or null", f"{where}.content")
        chars += len(_text_of(content)) + 16             # and the role and framing of the message
        if m["role"] == "tool" and not isinstance(m.get("tool_call_id"), str):
            raise Refused(400, f"{where} (a tool result) needs its tool_call_id", f"{where}.tool_call_id")
        calls = m.get("tool_calls")
        if calls is not None:
            if m["role"] != "assistant" or not isinstance(calls, list) or len(calls) > MAX_CHAT_TOOLS:
                raise Refused(400, f"{where}.tool_calls: only an assistant message has them, a list of at most "
                                   f"{MAX_CHAT_TOOLS}", f"{where}.tool_calls")
            chars += sum(len(_check_tool_call(c, f"{where}.tool_calls[{j}]")) for j, c in enumerate(calls))
    return chars


def _tool_names(body: dict) -> list[str]:
    """The names of the function tools offered (none: the model answers with text)."""
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list) or len(tools) > MAX_CHAT_TOOLS:
        raise Refused(400, f"tools must be a list of at most {MAX_CHAT_TOOLS} function tools", "tools")
    names = []
    for i, tool in enumerate(tools):
        fn = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            raise Refused(400, f"tools[{i}] must be {{type: 'function', function: {{name: 1-64 letters, digits, "
                               f"_ or -, ...}}}}", f"tools[{i}]")
        names.append(name)
    choice = body.get("tool_choice")
    if choice == "none" or not names:
        return []
    if isinstance(choice, dict):
        forced = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), dict) else None
        if forced not in names:
            raise Refused(400, "tool_choice names a function that is not among the tools", "tool_choice")
        return [forced]
    return names


def _tool_calls(names: list[str], n: int, seed: str, turn: int) -> list[dict]:
    """``n`` tool calls, each to one of ``names`` with arguments ``{"query": "<2-5 words>"}``: from the seed."""
    rng = random.Random(f"{seed}:tool-calls:{turn}")
    calls = []
    for i in range(n):
        query = " ".join(textgen.words(rng.randint(2, 5), f"{seed}:tool-call:{turn}:{i}"))
        name = names[rng.randrange(len(names))]
        calls.append({"id": f"call_{zlib.crc32(f'{seed}:{turn}:{i}'.encode()):08x}{i}", "type": "function",
                      "function": {"name": name, "arguments": json.dumps({"query": query})}})
    return calls


def _pieces(arguments: str) -> list[str]:
    """Arguments as a model streams them: a piece per word (the pieces add up to the JSON string)."""
    return re.findall(r"\S+\s*", arguments)


def _int_field(body: dict, name: str, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(400, f"{name} must be an integer", name)
    return value


async def chat_completions(request: Request):
    try:
        body = await _json_body(request)
        prompt_chars = _messages(body)
        names = _tool_names(body)
        prompt_chars += len(json.dumps(body.get("tools"))) if names else 0
        max_tokens = _int_field(body, "max_completion_tokens", _int_field(body, "max_tokens", 48))
        if not isinstance(body.get("stream", False), bool):
            raise Refused(400, "stream must be true or false", "stream")
    except Refused as refused:
        return refused.response()
    await _stall(request)
    seed = request.headers.get("x-sim-seed", "0")
    jf = _jitter(request)
    ttft = min(MAX_DELAY_S, _header(request, "x-sim-ttft-ms", 250, 0, 1e9) / 1000 * jf)
    rate = _header(request, "x-sim-tokens-per-s", 160, 1, 5000)
    model = str(body.get("model", "embedded-sim"))[:64]
    created = int(time.time())
    turn = len(body["messages"])                 # a later turn of the same conversation gets other ids and calls
    completion_id = f"chatcmpl-{zlib.crc32(f'{seed}:{turn}'.encode()):08x}"
    usage = {"prompt_tokens": max(1, prompt_chars // 4)}

    if names:
        n_calls = int(_header(request, "x-sim-tool-calls", 1, 1, MAX_TOOL_CALLS))
        calls = _tool_calls(names, n_calls, seed, turn)
        deltas = []                              # the stream: per call its name, then its arguments in pieces
        for i, call in enumerate(calls):
            head = {"index": i, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}
            deltas.append({"role": "assistant", "content": None, "tool_calls": [head]} if i == 0 else
                          {"tool_calls": [head]})
            deltas += [{"tool_calls": [{"index": i, "function": {"arguments": piece}}]}
                       for piece in _pieces(call["function"]["arguments"])]
        finish, message = "tool_calls", {"role": "assistant", "content": None, "tool_calls": calls}
        rate = max(rate, len(deltas) / max(MAX_DELAY_S - ttft, 0.1))    # a tool call is never cut short
    else:
        n_tokens = max(1, min(2000, max_tokens))
        if ttft + n_tokens / rate > MAX_DELAY_S:
            n_tokens = max(1, int((MAX_DELAY_S - ttft) * rate))
        tokens = textgen.words(n_tokens, seed)
        deltas = [{"content": tok + " "} for tok in tokens]
        deltas[0] = {"role": "assistant", **deltas[0]}
        finish, message = "stop", {"role": "assistant", "content": " ".join(tokens)}
    usage["completion_tokens"] = len(deltas)
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]

    if not body.get("stream"):
        await asyncio.sleep(ttft + len(deltas) / rate)
        return JSONResponse({"id": completion_id, "object": "chat.completion", "created": created, "model": model,
                             "choices": [{"index": 0, "message": message, "finish_reason": finish,
                                          "logprobs": None}],
                             "usage": usage})

    def chunk(delta: dict, finish_reason: str | None = None) -> str:
        return "data: " + json.dumps({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                                      "model": model, "choices": [{"index": 0, "delta": delta,
                                                                   "finish_reason": finish_reason}]}) + "\n\n"

    with_usage = isinstance(body.get("stream_options"), dict) and body["stream_options"].get("include_usage") is True

    async def stream():
        loop = asyncio.get_running_loop()
        first = loop.time() + ttft          # chunk i is due at first + i / rate
        sent = 0
        while sent < len(deltas):
            if (wait := first + sent / rate - loop.time()) > 0:
                await asyncio.sleep(wait)
            # every chunk already due goes out in one write: cheap at high rates and many streams
            due = max(sent + 1, min(len(deltas), int((loop.time() - first) * rate) + 1))
            yield "".join(chunk(delta) for delta in deltas[sent:due])
            sent = due
        tail = chunk({}, finish)
        if with_usage:
            tail += "data: " + json.dumps({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                                           "model": model, "choices": [], "usage": usage}) + "\n\n"
        yield tail + "data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


# --- /v1/pages/{id}: a page of the corpus, as a fetch of a search result would get it ----------------------------

MAX_PAGE_WORDS = 20_000


@functools.lru_cache(maxsize=64)
def _page_text(page_id: int, words: int) -> str:
    return textgen.prose(words, f"page:{page_id}")


def _small_int(text: str) -> int:
    """ASCII digits (at most six) as a number, anything else as -1."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else -1


async def page(request: Request) -> JSONResponse:
    page_id, raw = request.path_params["page_id"], request.query_params.get("words", "800")
    if not 1 <= _small_int(raw) <= MAX_PAGE_WORDS:
        return Refused(422, f"words={raw[:20]!r} is not allowed: 1..{MAX_PAGE_WORDS}", "words").response()
    if not 0 <= _small_int(page_id) < textgen.CORPUS_SIZE:
        return Refused(404, f"no page {page_id[:20]!r}: pages are 0..{textgen.CORPUS_SIZE - 1}").response()
    page_id = int(page_id)
    waited = await _delay(request, 200)
    doc = DOCS[page_id]
    return JSONResponse({"id": page_id, "title": doc["title"], "url": doc["url"], "words": int(raw),
                         "text": _page_text(page_id, int(raw)), "server_wait_s": round(waited, 4)})


def build_app() -> Starlette:
    return Starlette(routes=[
        Route("/health", health),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/search", search),
        Route("/v1/vectors/query", vector_query, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/records", records),
        Route("/v1/pages/{page_id}", page),
    ])


def _exit_when_parent_goes() -> None:
    """Our stdin is a pipe from the parent: EOF means it stopped us or died. Either way, go."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))     # >= 1,000 concurrent connections
    threading.Thread(target=_exit_when_parent_goes, name="parent-watch", daemon=True).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(build_app(), lifespan="off", log_level="warning", access_log=False,
                            backlog=4096, timeout_keep_alive=60, ws="none")
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:   # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.005)
        print(json.dumps({"port": sock.getsockname()[1], "pid": os.getpid()}), flush=True)

    async def serve() -> None:
        announcer = asyncio.create_task(announce())
        await server.serve(sockets=[sock])
        announcer.cancel()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
