"""A sacrificial host: a run whose crash or memory fault would take the caller down runs in a child.

:mod:`.parent` starts and follows the host and imports nothing of the engine; :mod:`.child` is the
host's side, which runs the engine. The decision to host a run is :mod:`agent_core.api`'s.
"""
