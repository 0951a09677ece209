"""The embedded backend speaks OpenAI's chat API well enough for the official ``openai`` SDK, and ``llm_call``
reads what it says: text, time to first chunk, and the tool calls an agent runs."""
from __future__ import annotations

import asyncio
import json
import time

import httpx
import openai
import pytest

from agent_core._execute import run_tool, run_tool_async
from agent_core.backend import ensure_backend
from agent_core.catalog import CATALOG, resolve_params
from agent_core.tools import MAX_CHAT_BODY_BYTES, MAX_CHAT_MESSAGES, ToolContext

OFFERED = ("web_search", "fetch_page", "vector_lookup")
USER = [{"role": "user", "content": "What slows an agent down?"}]


def function_tools(names=OFFERED) -> list[dict]:
    return [{"type": "function", "function": {"name": n, "description": CATALOG[n].summary,
                                              "parameters": {"type": "object",
                                                             "properties": {"query": {"type": "string"}}}}}
            for n in names]


def sim(**values) -> dict[str, str]:
    """The embedded model's x-sim-* headers (a real server ignores them)."""
    return {f"x-sim-{k.replace('_', '-')}": str(v) for k, v in {"jitter": 0, **values}.items()}


@pytest.fixture(scope="module")
def client():
    with openai.OpenAI(base_url=f"{ensure_backend().url}/v1", api_key="sk-test", max_retries=0, timeout=30) as c:
        c.chat.completions.create(model="sim", messages=USER, max_tokens=1, extra_headers=sim(ttft_ms=0))  # connect
        yield c


def test_a_plain_completion_is_a_chat_completion_object(client):
    r = client.chat.completions.create(model="sim", messages=USER, max_tokens=12,
                                       extra_headers=sim(ttft_ms=10, tokens_per_s=2000, seed="a"))
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-") and r.model == "sim"
    assert abs(r.created - time.time()) < 60
    (choice,) = r.choices
    assert (choice.index, choice.finish_reason, choice.message.role) == (0, "stop", "assistant")
    assert len(choice.message.content.split()) == 12 and choice.message.tool_calls is None
    assert r.usage.completion_tokens == 12 and r.usage.prompt_tokens >= 1
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def _first_chunk_s(client, ttft_ms: int) -> tuple[float, list]:
    t0 = time.perf_counter()
    first, chunks = None, []
    for chunk in client.chat.completions.create(model="sim", messages=USER, max_tokens=8, stream=True,
                                                stream_options={"include_usage": True},
                                                extra_headers=sim(ttft_ms=ttft_ms, tokens_per_s=2000)):
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - t0
        chunks.append(chunk)
    return first, chunks


def test_a_streamed_completion_sends_its_content_in_chunks_after_the_time_to_first_token(client):
    slow, chunks = _first_chunk_s(client, 400)
    fast, _ = _first_chunk_s(client, 20)
    content = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 8 and all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[-2].choices[0].finish_reason == "stop", "the last choice chunk says why it ended"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 8, "include_usage: a usage chunk"
    assert slow >= 0.38, "nothing before the time to first token"
    assert slow > 2 * fast, (slow, fast)


def test_streamed_tool_calls_are_put_together_by_the_sdk(client):
    kwargs = {"model": "sim", "messages": USER, "tools": function_tools(),
              "extra_headers": sim(ttft_ms=10, tokens_per_s=2000, tool_calls=3, seed="b")}
    with client.chat.completions.stream(**kwargs) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_completion()
    (choice,) = final.choices
    calls = choice.message.tool_calls
    assert choice.finish_reason == "tool_calls" and len(calls) == 3
    assert {c.function.name for c in calls} <= set(OFFERED)
    assert all(c.type == "function" and c.id.startswith("call_") for c in calls)
    assert len({c.id for c in calls}) == 3
    assert all(json.loads(c.function.arguments)["query"].strip() for c in calls)
    assert events.count("tool_calls.function.arguments.delta") > 3, "arguments arrive in pieces"
    with client.chat.completions.stream(**kwargs) as again:
        assert again.get_final_completion().choices[0].message.tool_calls == calls, "the seed decides"
    plain = client.chat.completions.create(**{**kwargs, "extra_headers": sim(ttft_ms=0, seed="b")})
    assert len(plain.choices[0].message.tool_calls) == 1, "one call when the header is absent"
    assert plain.choices[0].finish_reason == "tool_calls"


def test_the_tool_results_go_back_as_tool_messages_and_the_model_answers(client):
    headers = sim(ttft_ms=0, tokens_per_s=5000, tool_calls=2, seed="c")
    first = client.chat.completions.create(model="sim", messages=USER, tools=function_tools(), extra_headers=headers)
    asked = first.choices[0].message
    history = [*USER, asked.model_dump(exclude_none=True),
               *({"role": "tool", "tool_call_id": call.id, "content": f"results for {call.function.arguments}"}
                 for call in asked.tool_calls)]
    answer = client.chat.completions.create(model="sim", messages=history, max_tokens=6, extra_headers=headers)
    assert answer.choices[0].finish_reason == "stop" and len(answer.choices[0].message.content.split()) == 6
    alone = client.chat.completions.create(model="sim", messages=USER, max_tokens=6, extra_headers=headers)
    assert answer.usage.prompt_tokens > alone.usage.prompt_tokens + 10, "the history counts as prompt"
    again = client.chat.completions.create(model="sim", messages=history, tools=function_tools(), extra_headers=headers)
    assert {c.id for c in again.choices[0].message.tool_calls}.isdisjoint({c.id for c in asked.tool_calls})
    refused = client.chat.completions.create(model="sim", messages=history, tools=function_tools(), tool_choice="none",
                                             max_tokens=3, extra_headers=headers)
    assert refused.choices[0].message.content and refused.choices[0].message.tool_calls is None


@pytest.mark.parametrize("request_kwargs, status, fragment", [
    ({"messages": USER * (MAX_CHAT_MESSAGES + 1)}, 400, f"at most {MAX_CHAT_MESSAGES} are accepted"),
    ({"messages": [{"role": "robot", "content": "x"}]}, 400, "messages[0].role must be one of"),
    ({"messages": USER, "tools": [{"type": "function", "function": {"name": "no spaces allowed"}}]}, 400, "tools[0]"),
    ({"messages": [*USER, {"role": "tool", "content": "orphan"}]}, 400, "needs its tool_call_id"),
    ({"messages": [{"role": "user", "content": "x" * MAX_CHAT_BODY_BYTES}]}, 413, f"at most {MAX_CHAT_BODY_BYTES}"),
])
def test_requests_over_the_bounds_are_refused_with_a_4xx_the_sdk_understands(client, request_kwargs, status, fragment):
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="sim", **request_kwargs)
    assert err.value.status_code == status and fragment in err.value.message


# -- llm_call, the tool, reading the same stream ------------------------------------------------------------------

@pytest.fixture(scope="module")
def ctx_args() -> dict:
    url = ensure_backend().url
    return {"seed": 11, "timeout_s": 10, "base_url": url, "llm_base_url": f"{url}/v1"}


def _llm(params: dict, ctx_args: dict, **extra):
    p = {**resolve_params("llm_call", {"tokens_per_s": 2000, "jitter": 0, **params}), **extra}
    sync = run_tool(CATALOG["llm_call"].impl("sync"), p, ToolContext("llm_call#1", **ctx_args))

    async def main():
        async with httpx.AsyncClient() as http:
            return await run_tool_async(CATALOG["llm_call"].impl("aio"), p,
                                        ToolContext("llm_call#1", http=http, **ctx_args))

    return sync, asyncio.run(main())


def test_llm_call_reports_its_time_to_first_chunk_and_the_tool_calls_it_was_offered(ctx_args):
    sync, aio = _llm({"ttft_ms": 300}, ctx_args, offer=list(OFFERED), tool_calls=4)
    assert sync.status == aio.status == "ok", (sync.error, aio.error)
    detail = sync.detail
    assert 0.29 <= detail["ttft_s"] < 3.0
    assert detail["finish_reason"] == "tool_calls" and len(detail["tool_calls"]) == 4
    assert all(set(call) == {"id", "name", "arguments"} for call in detail["tool_calls"])
    assert {call["name"] for call in detail["tool_calls"]} <= set(OFFERED)
    assert all(json.loads(call["arguments"])["query"] for call in detail["tool_calls"])
    assert aio.detail["tool_calls"] == detail["tool_calls"], "the twins read the same answer"
    plain, _ = _llm({"ttft_ms": 0, "tokens": 5}, ctx_args)
    assert plain.detail["finish_reason"] == "stop" and "tool_calls" not in plain.detail
    assert plain.detail["tokens"] == 5 and plain.detail["ttft_s"] < detail["ttft_s"]


def test_llm_call_sends_the_agents_history_after_its_prompt(ctx_args):
    asked, _ = _llm({"ttft_ms": 0}, ctx_args, offer=("web_search",), tool_calls=2)
    calls = asked.detail["tool_calls"]
    history = [{"role": "assistant", "content": None,
                "tool_calls": [{"id": c["id"], "type": "function",
                                "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]},
               *({"role": "tool", "tool_call_id": c["id"], "content": "three results"} for c in calls)]
    answered, _ = _llm({"ttft_ms": 0, "tokens": 7}, ctx_args, messages=history)
    assert answered.status == "ok", answered.error
    assert answered.detail["finish_reason"] == "stop" and answered.detail["tokens"] == 7


@pytest.mark.parametrize("extra, fragment", [
    ({"offer": ["web_search", "rm_rf"]}, "llm_call.offer names unknown tool 'rm_rf': allowed are llm_call"),
    ({"offer": "web_search"}, "llm_call.offer=web_search is not allowed: a list of tool names"),
    ({"offer": ["web_search"], "tool_calls": 9}, "llm_call.tool_calls=9 is not allowed: 1..8"),
    ({"tool_calls": 2}, "llm_call.tool_calls needs llm_call.offer"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "llm_call.messages[0] is a tool result: it needs a tool_call"),
    ({"messages": [{"role": "user", "content": "x"}] * 65}, "llm_call.messages must be a list of at most 64"),
])
def test_llm_call_refuses_engine_parameters_it_cannot_send(extra, fragment, ctx_args):
    out = run_tool(CATALOG["llm_call"].impl("sync"), {**resolve_params("llm_call"), **extra},
                   ToolContext("llm_call#1", **ctx_args))
    assert out.status == "error" and fragment in out.error


def test_embeddings_are_what_the_sdk_expects_and_the_embed_tool_reads_them(client, ctx_args):
    from agent_core import textgen
    r = client.embeddings.create(model="sim-embed", input=["agents wait", "threads block"],
                                 extra_headers=sim(latency_ms=0))
    assert [d.index for d in r.data] == [0, 1] and r.data[0].embedding == pytest.approx(textgen.embed("agents wait"))
    assert r.usage.prompt_tokens == 4
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="sim-embed", input=["x"] * 65)
    outcome = run_tool(CATALOG["embed"].impl("sync"), resolve_params("embed", {"latency_ms": 0, "texts": 3}),
                       ToolContext("embed#1", **ctx_args))
    assert outcome.status == "ok" and outcome.detail["vectors"] == 3 and outcome.detail["dim"] == textgen.EMBED_DIM
