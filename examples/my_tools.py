"""A support agent's tools, shaped like real ones, to measure with the engine:

    python -m agent_core classify --tools-from examples/my_tools.py
    python -m agent_core run --tools-from examples/my_tools.py --mode hybrid \
        --tools fetch_ticket:6,crm_lookup:4,score_reply:2,flaky_search:4

Each tool may take ``ctx`` (the call's context): ``ctx.base_url`` is the embedded backend, standing in for your
real services here, and ``ctx.timeout_s`` the call's timeout. Copy this file and put your own calls inside.
"""
from __future__ import annotations

import hashlib
import ssl

import httpx

import agent_core

WORDS = ("refund", "invoice", "delayed", "order", "broken", "thanks", "account", "password", "shipping", "urgent",
         "cancel", "upgrade", "billing", "login", "error", "missing", "charge", "support", "reply", "policy")

# One TLS context for every client: building one loads the CA bundle (tens of ms of CPU), which a client made
# per call would otherwise do on the event loop each time (classify shows it as loop lag).
TLS = ssl.create_default_context()


@agent_core.tool(kind="io", bounds={"latency_ms": (0, 5000)})
async def fetch_ticket(latency_ms: int = 250, ctx=None) -> dict:
    """GET a ticket-search API with httpx.AsyncClient: the call awaits the network."""
    async with httpx.AsyncClient(timeout=ctx.timeout_s, verify=TLS) as client:
        r = await client.get(f"{ctx.base_url}/v1/search", params={"q": "refund delayed order", "k": 5},
                             headers={"x-sim-latency-ms": str(latency_ms), "x-sim-seed": ctx.call_seed})
        r.raise_for_status()
    return {"results": len(r.json()["results"])}


@agent_core.tool(kind="blocking", bounds={"latency_ms": (0, 5000)})
def crm_lookup(latency_ms: int = 300, ctx=None) -> dict:
    """A CRM vendor's synchronous SDK call (httpx.Client): no async API, so it blocks its thread."""
    with httpx.Client(timeout=ctx.timeout_s, verify=TLS) as client:
        r = client.get(f"{ctx.base_url}/v1/records", params={"n": 20},
                       headers={"x-sim-latency-ms": str(latency_ms), "x-sim-seed": ctx.call_seed})
        r.raise_for_status()
    return {"records": len(r.json()["records"])}


@agent_core.tool(kind="cpu", bounds={"words": (1_000, 1_000_000)})
def score_reply(words: int = 150_000) -> dict:
    """Score a drafted reply against the ticket: word counts and bigrams in pure Python (holds the GIL)."""
    counts: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    previous = ""
    for i in range(words):
        word = WORDS[(i * 7919 + i // 13) % len(WORDS)]
        counts[word] = counts.get(word, 0) + 1
        pairs[(previous, word)] = pairs.get((previous, word), 0) + 1
        previous = word
    top = max(counts, key=counts.get)
    return {"distinct": len(counts), "pairs": len(pairs), "top": top}


@agent_core.tool(kind="io", bounds={"latency_ms": (0, 5000), "slow_share": (0.0, 1.0),
                                    "attempt_timeout_ms": (50, 5000)})
async def flaky_search(latency_ms: int = 150, slow_share: float = 0.3, attempt_timeout_ms: int = 400,
                       ctx=None) -> dict:
    """A search API that sometimes stalls: the first attempt of some calls (``slow_share`` of them, chosen by
    the seed) gets no answer within ``attempt_timeout_ms`` and is retried once, as an agent's client would."""
    stalls = int(hashlib.sha256(ctx.call_seed.encode()).hexdigest()[:8], 16) / 16**8 < slow_share
    async with httpx.AsyncClient(verify=TLS) as client:
        for attempt in (1, 2):
            slow = stalls and attempt == 1
            try:
                r = await client.get(f"{ctx.base_url}/v1/search", params={"q": "password reset", "k": 3},
                                     headers={"x-sim-latency-ms": str(attempt_timeout_ms * 3 if slow else latency_ms),
                                              "x-sim-seed": ctx.call_seed},
                                     timeout=attempt_timeout_ms / 1000)
                r.raise_for_status()
                return {"attempts": attempt, "results": len(r.json()["results"])}
            except httpx.TimeoutException:
                if attempt == 2:
                    raise
    return {}
