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


CORPUS_SIZE = 2000      # documents (and pages) the embedded backend holds: ids 0..CORPUS_SIZE-1
REPEAT = 0.2            # the share of a page's paragraphs that repeat an earlier one (boilerplate, quoted text)


def prose(n: int, seed: int | str, repeat: float = REPEAT) -> str:
    """``n`` words of page-like text, a pure function of ``seed``: sentences of 6-18 words (capitalised, ending
    in "."), paragraphs of 3-7 sentences separated by a blank line. About ``repeat`` of the paragraphs copy an
    earlier one, half of those with one word changed, as navigation, footers and quotations repeat on real
    pages: what a chunker's near-duplicate removal is for. ``len(prose(n, s).split()) == n``."""
    rng = random.Random(f"prose:{seed}")
    fresh = rng.choices(VOCAB, cum_weights=_CUM_WEIGHTS, k=n)
    paragraphs: list[list[list[str]]] = []
    used = total = 0
    while total < n:
        if paragraphs and rng.random() < repeat:
            para = [list(s) for s in paragraphs[rng.randrange(len(paragraphs))]]
            if rng.random() < 0.5:
                sentence = para[rng.randrange(len(para))]
                sentence[rng.randrange(len(sentence))] = VOCAB[rng.randrange(len(VOCAB))]
        else:
            para = []
            for _ in range(rng.randint(3, 7)):
                size = rng.randint(6, 18)
                para.append(fresh[used:used + size])      # never empty: fresh words used <= words so far < n
                used += size
        kept = []
        for sentence in para:
            if total >= n:
                break
            kept.append(sentence[:n - total])
            total += len(kept[-1])
        paragraphs.append(kept)
    return "\n\n".join(" ".join(" ".join(s)[:1].upper() + " ".join(s)[1:] + "." for s in para)
                       for para in paragraphs)
