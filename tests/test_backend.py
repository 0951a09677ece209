"""The embedded backend: a real service in its own process, started once, gone when its parent goes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from agent_core.backend import ensure_backend

from .conftest import ROOT, process_table


def test_the_backend_is_started_once_per_process_and_serves_health():
    a, b = ensure_backend(), ensure_backend()
    assert a is b and a.alive()
    assert a.pid != os.getpid(), "it runs in a process of its own, off the measured interpreter's GIL"
    assert httpx.get(f"{a.url}/health").json()["ok"] is True
    assert a.url.startswith("http://127.0.0.1:")


def test_search_latency_is_set_per_request_and_jitter_follows_the_seed():
    url = ensure_backend().url

    def ask(seed: str) -> float:
        headers = {"x-sim-latency-ms": "150", "x-sim-jitter": "0.5", "x-sim-seed": seed}
        r = httpx.get(f"{url}/v1/search", params={"q": "asyncio latency", "k": 3}, headers=headers)
        return r.json()["server_wait_s"]

    assert ask("a") == ask("a"), "the same seed waits the same time"
    waits = {ask(str(i)) for i in range(6)}
    assert len(waits) > 1 and all(0.075 <= w <= 0.225 for w in waits)


def test_vector_search_returns_the_nearest_documents_first():
    url = ensure_backend().url
    from agent_core import textgen
    matches = httpx.post(f"{url}/v1/vectors/query", json={"embedding": textgen.embed("sqlite memory"), "k": 7},
                         headers={"x-sim-latency-ms": "0"}).json()["matches"]
    scores = [m["score"] for m in matches]
    assert len(matches) == 7 and scores == sorted(scores, reverse=True)


def test_the_chat_endpoint_streams_tokens_after_the_time_to_first_token():
    url = ensure_backend().url
    body = {"model": "m", "stream": True, "max_tokens": 12, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-sim-ttft-ms": "150", "x-sim-tokens-per-s": "100", "x-sim-jitter": "0"}
    arrivals = []
    t0 = time.perf_counter()
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=headers) as r:
        for line in r.iter_lines():
            if line.startswith("data:") and "content" in line:
                arrivals.append(time.perf_counter() - t0)
    assert len(arrivals) == 12
    assert arrivals[0] >= 0.14, "nothing before the time to first token"
    assert arrivals[-1] - arrivals[0] >= 0.09, "11 more tokens at 100 tok/s take ~0.11 s"


def test_a_page_is_one_text_for_its_id_and_size_and_other_ids_or_sizes_are_refused():
    url = ensure_backend().url
    get = lambda path, **params: httpx.get(f"{url}{path}", params=params, headers={"x-sim-latency-ms": "0"})
    page = get("/v1/pages/42", words=600).json()
    assert page["id"] == 42 and len(page["text"].split()) == 600 and "\n\n" in page["text"], "paragraphs"
    text = lambda page_id: get(f"/v1/pages/{page_id}", words=600).json()["text"]
    assert text(42) == page["text"] != text(43)
    for page_id in ("2000", "-1", "9" * 5000, "x"):
        missing = get(f"/v1/pages/{page_id}")
        assert missing.status_code == 404 and "pages are 0..1999" in missing.json()["error"]["message"]
    for words in ("0", "20001", "many", "٣", "9" * 5000):
        refused = get("/v1/pages/1", words=words)
        assert refused.status_code == 422 and "1..20000" in refused.json()["error"]["message"]


def test_request_bodies_over_their_bound_are_refused_before_they_are_read():
    url = ensure_backend().url
    big = httpx.post(f"{url}/v1/vectors/query", content=b"[" + b"0," * 40_000 + b"0]")
    assert big.status_code == 413 and "at most 64000" in big.json()["error"]["message"]
    assert httpx.post(f"{url}/v1/vectors/query", content=b"not json").status_code == 400
    nested = httpx.post(f"{url}/v1/chat/completions", content=b"[" * 200_000 + b"]" * 200_000)
    assert nested.status_code == 400 and "not valid JSON" in nested.json()["error"]["message"]
    assert httpx.post(f"{url}/v1/vectors/query", json={"embedding": "x", "k": "y"}).status_code == 422


def test_the_backend_carries_a_thousand_concurrent_slow_requests():
    import asyncio
    url = ensure_backend().url

    async def main() -> list[int]:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        clients = [httpx.AsyncClient(limits=limits, timeout=30) for _ in range(10)]
        try:
            rs = await asyncio.gather(*(clients[i % 10].get(f"{url}/v1/search", params={"q": "x"},
                                                            headers={"x-sim-latency-ms": "300"})
                                        for i in range(1000)))
            return [r.status_code for r in rs]
        finally:
            for c in clients:
                await c.aclose()

    started = time.perf_counter()
    codes = asyncio.run(main())
    assert codes == [200] * 1000
    assert time.perf_counter() - started < 30 * 0.3, "far faster than 1,000 requests one after another"


def _engine_with_a_backend(linger: bool) -> tuple[subprocess.Popen, int]:
    """A separate engine process that starts its backend, then exits at once or lingers to be killed."""
    code = ("import sys, time\nfrom agent_core.backend import ensure_backend\n"
            "print(ensure_backend().pid, flush=True)\nif sys.argv[1] == 'linger': time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, "linger" if linger else "exit"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    backend_pid = int(proc.stdout.readline())
    proc.stdout.close()
    return proc, backend_pid


def _gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if pid not in process_table():
            return True
        time.sleep(0.02)
    return False


def test_the_backend_stops_when_its_process_exits():
    proc, backend_pid = _engine_with_a_backend(linger=False)
    proc.wait(10)
    assert _gone(backend_pid)


def test_the_backend_goes_even_when_its_parent_is_killed():
    proc, backend_pid = _engine_with_a_backend(linger=True)
    assert backend_pid in process_table()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert _gone(backend_pid), "the backend noticed its parent died (stdin EOF) and exited"
