"""The engine: the policy of a run, above the lanes that only run calls.

- :mod:`.run` — :class:`Run`: one run's calls, clock, lanes, resources; it builds the report;
- :mod:`.ledger` — one record per call (the first word on a call counts), abandoned calls;
- :mod:`.cancel` — cancellation: on_error, and the run's bound;
- :mod:`.resources` — what a run prepares before its clock (backend, clients, database) and releases;
- :mod:`.dispatch` — sends each call to its lane and stamps what comes back on the run's one clock;
- :mod:`.drive` — drives a run: in this thread, or on an event loop with the heartbeat.
"""
