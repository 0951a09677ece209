"""Sieve of Eratosthenes up to ``size * 10``: a numeric job with a known answer."""
from __future__ import annotations


def run(size: int, seed: str) -> dict:
    limit = size * 10
    sieve = bytearray([1]) * (limit + 1)
    sieve[0:2] = b"\x00\x00"
    for n in range(2, int(limit ** 0.5) + 1):
        if sieve[n]:
            sieve[n * n::n] = bytes(len(range(n * n, limit + 1, n)))
    count = sum(sieve)
    last = max(i for i in range(limit, -1, -1) if sieve[i]) if count else None
    return {"limit": limit, "primes": count, "largest": last}
