"""Count words and characters of a generated document, like a text-processing plugin would."""
from __future__ import annotations

from .. import textgen


def run(size: int, seed: str) -> dict:
    counts: dict[str, int] = {}
    chars = 0
    for word in textgen.words(size, seed):
        counts[word] = counts.get(word, 0) + 1
        chars += len(word)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return {"words": size, "distinct": len(counts), "chars": chars, "top": [w for w, _ in top]}
