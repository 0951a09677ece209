"""The embedded tool backend: a real HTTP service (Starlette on uvicorn) in its own process.

It stands for the remote services an agent calls: an OpenAI-compatible chat endpoint that streams
tokens, a search API, a vector store that runs a real top-k cosine search, and a legacy records API.
Awaiting a delay *here* is legitimate: it stands for remote work. Latency is set per request with
``x-sim-*`` headers (real servers ignore them), jitter comes from the request's seed.

Started by :mod:`agent_core.backend`; never imported by the measured process. Protocol: the parent
keeps our stdin open; we print ``{"port": N}`` once serving, and exit as soon as stdin reaches EOF
(the parent stopped us, or died).
"""
from __future__ import annotations

import asyncio
import heapq
import json
import math
import os
import resource
import socket
import sys
import threading

import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from agent_core import textgen

MAX_DELAY_S = 10.0     # the same bound the catalog enforces on the client side
MAX_STALL_S = 60.0     # an injected hang never lasts longer than this
CORPUS_SIZE = 2000
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
    body = await request.json()
    waited = await _delay(request, 150)
    emb = np.asarray(body.get("embedding", [])[: textgen.EMBED_DIM], dtype=np.float32)
    if emb.shape != (textgen.EMBED_DIM,):
        return JSONResponse({"error": f"embedding must have {textgen.EMBED_DIM} numbers"}, status_code=422)
    k = max(1, min(100, int(body.get("k", 5))))
    sims = VECTORS @ emb / (float(np.linalg.norm(emb)) or 1.0)
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.argsort(-sims[top], kind="stable")]
    return JSONResponse({"matches": [{"id": int(i), "title": DOCS[i]["title"], "score": round(float(sims[i]), 4)}
                                     for i in top], "server_wait_s": round(waited, 4)})


async def records(request: Request) -> JSONResponse:
    waited = await _delay(request, 350)
    n = max(1, min(200, int(request.query_params.get("n", 20) or 20)))
    start = int(request.query_params.get("offset", 0) or 0) % CORPUS_SIZE
    rows = [{"id": (start + j) % CORPUS_SIZE, "name": DOCS[(start + j) % CORPUS_SIZE]["title"],
             "status": ("open", "closed", "pending")[j % 3]} for j in range(n)]
    return JSONResponse({"records": rows, "server_wait_s": round(waited, 4)})


async def chat_completions(request: Request):
    body = await request.json()
    await _stall(request)
    jf = _jitter(request)
    ttft = min(MAX_DELAY_S, _header(request, "x-sim-ttft-ms", 250, 0, 1e9) / 1000 * jf)
    rate = _header(request, "x-sim-tokens-per-s", 160, 1, 5000)
    n_tokens = max(1, min(2000, int(body.get("max_tokens") or 48)))
    if ttft + n_tokens / rate > MAX_DELAY_S:
        n_tokens = max(1, int((MAX_DELAY_S - ttft) * rate))
    model = str(body.get("model", "embedded-sim"))[:64]
    tokens = textgen.words(n_tokens, request.headers.get("x-sim-seed", "0"))

    def chunk(content: str | None, finish: str | None = None) -> str:
        delta = {"content": content} if content is not None else {}
        return "data: " + json.dumps({"id": "chatcmpl-sim", "object": "chat.completion.chunk", "model": model,
                                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"

    if not body.get("stream"):
        await asyncio.sleep(ttft + n_tokens / rate)
        return JSONResponse({"id": "chatcmpl-sim", "object": "chat.completion", "model": model,
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": " ".join(tokens)}}],
                             "usage": {"completion_tokens": n_tokens}})

    async def stream():
        loop = asyncio.get_running_loop()
        first = loop.time() + ttft          # token i is due at first + i / rate
        sent = 0
        while sent < n_tokens:
            if (wait := first + sent / rate - loop.time()) > 0:
                await asyncio.sleep(wait)
            # every token already due goes out in one write: cheap at high rates and many streams
            due = max(sent + 1, min(n_tokens, int((loop.time() - first) * rate) + 1))
            yield "".join(chunk(tok + " ") for tok in tokens[sent:due])
            sent = due
        yield chunk(None, "stop") + "data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


def build_app() -> Starlette:
    return Starlette(routes=[
        Route("/health", health),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/search", search),
        Route("/v1/vectors/query", vector_query, methods=["POST"]),
        Route("/v1/records", records),
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
