"""Deterministic text and embeddings, shared by the tools and the embedded backend.

Pure standard library and cheap to import: sandbox children and pool workers load it.
Everything is a function of its seed, so a run is reproducible and a test can predict results.
"""
from __future__ import annotations

import math
import random
import zlib

_SYLLABLES = ("ka", "lo", "mi", "ren", "to", "sha", "vel", "qu", "dor", "an", "is", "pe", "tru", "gen",
              "ba", "xi", "mo", "ral", "cy", "nu", "fa", "zen", "ol", "ti")
TOPICS = ("agents", "latency", "asyncio", "threads", "sqlite", "vector", "gil", "subprocess",
          "timeout", "retrieval", "embedding", "streaming", "planner", "memory", "tooling", "sandbox")
EMBED_DIM = 64


def _make_vocab(size: int = 3000) -> list[str]:
    """``size`` distinct pseudo-words, in a fixed scrambled order (no RNG, no big temporaries: this runs
    at every import, including in every call's child process)."""
    n = len(_SYLLABLES)
    two, three = n * n, 12 * n * 12            # two-syllable words, then three-syllable ones
    words = list(TOPICS)
    for i in range(size - len(words)):
        j = (i * 7919) % (two + three)         # 7919 is prime: a fixed permutation of the pool
        if j < two:
            words.append(_SYLLABLES[j // n] + _SYLLABLES[j % n])
        else:
            j -= two
            words.append(_SYLLABLES[j // (n * 12)] + _SYLLABLES[(j // 12) % n] + _SYLLABLES[12 + j % 12])
    return words


VOCAB: list[str] = _make_vocab()
# Zipf-like weights: a few words are frequent, most are rare, as in real text.
_CUM_WEIGHTS: list[float] = []
_acc = 0.0
for _i in range(len(VOCAB)):
    _acc += 1.0 / (_i + 1)
    _CUM_WEIGHTS.append(_acc)


def words(n: int, seed: int | str) -> list[str]:
    """``n`` words of Zipf-distributed text, a pure function of ``seed``."""
    rng = random.Random(seed)
    return rng.choices(VOCAB, cum_weights=_CUM_WEIGHTS, k=n)


def text(n: int, seed: int | str) -> str:
    return " ".join(words(n, seed))


def embed(content: str, dim: int = EMBED_DIM) -> list[float]:
    """A hashing-trick embedding: each word adds ±1 to a bucket chosen by CRC32; L2-normalised."""
    vec = [0.0] * dim
    for word in content.lower().split():
        h = zlib.crc32(word.encode())
        vec[h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def jitter_factor(jitter: float, seed: int | str) -> float:
    """A multiplier in [1 - jitter, 1 + jitter], a pure function of ``seed``."""
    return 1.0 + jitter * (2.0 * random.Random(seed).random() - 1.0)
