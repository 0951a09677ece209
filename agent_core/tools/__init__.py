"""Tool implementations. Each takes ``(params, ctx)`` and returns a small dict of details for the record.

Imports here stay light (no dataclasses, typing, json, even os: together they would cost a child ~15 ms);
a child process loads only this and the module of the tool it runs.
"""
from __future__ import annotations

DEFAULT_LLM_MODEL = "embedded-sim"


class ToolContext:
    """What a call needs besides its parameters. Picklable and marshal-able, except ``http``."""

    FIELDS = ("call_id", "seed", "timeout_s", "base_url", "llm_base_url", "llm_model", "llm_api_key",
              "db_path", "fault", "fault_s", "origin")
    __slots__ = FIELDS + ("http",)

    def __init__(self, call_id: str, seed: int, timeout_s: float, base_url: str = "", llm_base_url: str = "",
                 llm_model: str = DEFAULT_LLM_MODEL, llm_api_key: str = "", db_path: str = "",
                 fault: str | None = None, fault_s: float = 60.0, origin: str = "", http: object = None) -> None:
        self.call_id = call_id
        self.seed = seed
        self.timeout_s = timeout_s
        self.base_url = base_url                # the embedded backend
        self.llm_base_url = llm_base_url        # OpenAI-compatible base, ".../v1"
        self.llm_model = llm_model
        self.llm_api_key = llm_api_key
        self.db_path = db_path
        self.fault = fault                      # an injected fault (agent_core.faults), or None
        self.fault_s = fault_s
        self.origin = origin                    # a user's tool: where to find it (agent_core.usertools); "" built in
        self.http = http                        # this call's AsyncClient: in-process only, never sent

    @property
    def call_seed(self) -> str:
        return f"{self.seed}:{self.call_id}"

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}

    def __getstate__(self) -> dict:
        return self.to_dict()

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def __repr__(self) -> str:
        return f"ToolContext({self.call_id!r}, seed={self.seed}, timeout_s={self.timeout_s})"


# The LLM's settings handed over by a parent process (a sacrificial host's parent): they never travel by environment
_handed_over: dict[str, str] | None = None
LLM_ENV = ("AGENT_LLM_BASE_URL", "AGENT_LLM_MODEL", "AGENT_LLM_API_KEY")


def llm_settings() -> dict[str, str]:
    """The ``AGENT_LLM_*`` settings of this process (or those its parent handed over): what a host must be given."""
    if _handed_over is not None:
        return dict(_handed_over)
    from .._spawn import read_env  # here, not at the top: a call's child process imports this package
    return {name: read_env(name) for name in LLM_ENV}


def hand_over_llm_settings(settings: dict[str, str]) -> None:
    """Use these ``AGENT_LLM_*`` settings instead of the environment (which a host's parent scrubbed of secrets)."""
    global _handed_over
    _handed_over = {name: str(settings.get(name, "")) for name in LLM_ENV}


def llm_target(backend_url: str) -> tuple[str, str, str]:
    """(base_url, model, api_key) for ``llm_call``: a real server from the environment, else the embedded one."""
    env = llm_settings()
    base = env["AGENT_LLM_BASE_URL"].strip().rstrip("/")
    return (base or f"{backend_url}/v1", env["AGENT_LLM_MODEL"].strip() or DEFAULT_LLM_MODEL,
            env["AGENT_LLM_API_KEY"].strip())


# What the embedded backend's /v1/chat/completions accepts (and what llm_call checks before sending)
MAX_CHAT_BODY_BYTES = 1_000_000     # a request body larger than this is refused (413)
MAX_CHAT_MESSAGES = 256             # messages in one request (400 beyond)
MAX_CHAT_TOOLS = 128                # function tools offered in one request (OpenAI's own limit)
MAX_TOOL_CALLS = 8                  # tool calls in one answer (header x-sim-tool-calls, 1..8)
TOOL_CALL_CHUNKS = 7                # streamed chunks per tool call at most: its name, then its arguments in pieces
