"""Minimal, runnable code for each mode, shown on the Playground and executed by tests/test_snippets.py.

Each module has ``main(base_url)``; run one against the embedded backend with ``python -m snippets.<name>``.
"""
