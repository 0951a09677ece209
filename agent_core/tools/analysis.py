"""``analysis`` (cpu): keyword and n-gram statistics over text, in pure Python so it holds the GIL.

Deliberately written as plain loops over dicts: C helpers such as ``collections.Counter`` or hashing a
big buffer would finish in one long C call (or release the GIL) and hide what the GIL does to threads.
Deterministic for a seed. Cooperative timeout: it checks its deadline between chunks.
"""
from __future__ import annotations

import math
import time

from .. import textgen
from ..errors import ToolTimeout
from . import ToolContext

CHUNK = 2_000      # words per "document" for document frequencies, and between deadline checks


def analysis(p: dict, ctx: ToolContext) -> dict:
    deadline = time.monotonic() + ctx.timeout_s
    words = textgen.words(p["work"], ctx.call_seed)
    unigrams: dict[str, int] = {}
    bigrams: dict[tuple[str, str], int] = {}
    trigrams: dict[tuple[str, str, str], int] = {}
    doc_freq: dict[str, int] = {}
    docs = 0
    for start in range(0, len(words), CHUNK):
        if time.monotonic() > deadline:
            raise ToolTimeout(f"analysis ran past its {ctx.timeout_s:g} s timeout after {start} words")
        chunk = words[start:start + CHUNK]
        docs += 1
        seen = set()
        a = b = None
        for w in chunk:
            unigrams[w] = unigrams.get(w, 0) + 1
            if w not in seen:
                seen.add(w)
                doc_freq[w] = doc_freq.get(w, 0) + 1
            if b is not None:
                key2 = (b, w)
                bigrams[key2] = bigrams.get(key2, 0) + 1
                if a is not None:
                    key3 = (a, b, w)
                    trigrams[key3] = trigrams.get(key3, 0) + 1
            a, b = b, w
    total = len(words)
    scores = {w: (n / total) * math.log((1 + docs) / (1 + doc_freq[w])) for w, n in unigrams.items()}
    keywords = sorted(scores, key=lambda w: (-scores[w], w))[:5]
    top_bigram = max(bigrams.items(), key=lambda kv: (kv[1], kv[0]))[0] if bigrams else ()
    return {"words": total, "distinct": len(unigrams), "bigrams": len(bigrams), "trigrams": len(trigrams),
            "keywords": keywords, "top_bigram": " ".join(top_bigram)}
