"""The engine's one error tree.

    AgentCoreError
     ├── BadInput        (also a ValueError) a tool, mode, spec or value the engine does not accept
     ├── BackendError    the embedded tool server could not be started or reached
     └── ClusterError    (agent_core._dask_cluster) the Dask cluster could not be started or reached, or has no worker

Tool failures during a run are *not* raised: they become a record's ``status``/``error``.
"""
from __future__ import annotations


class AgentCoreError(Exception):
    """Base class of every error the engine raises on purpose."""


class BadInput(AgentCoreError, ValueError):
    """Input outside what the engine accepts; the message is one line naming the value and what is allowed."""


class BackendError(AgentCoreError):
    """The embedded tool backend failed to start, or stopped answering."""


class ToolTimeout(AgentCoreError):
    """Raised inside a tool that noticed its own deadline pass (cooperative timeout)."""
