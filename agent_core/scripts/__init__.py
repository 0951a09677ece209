"""The allow-list of scripts ``sandboxed_script`` may run. Nothing outside this package is ever executed.

Each module has ``run(size: int, seed: str) -> dict`` (plain data). They run only inside a sandbox child
process that has already set its own CPU, memory and wall-clock limits.
"""

SCRIPTS = ("word_count", "primes", "json_summary")
