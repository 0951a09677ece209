"""Lanes: the places a call can run, each with the same small interface (prepare, submit, call, cancel, close)."""
