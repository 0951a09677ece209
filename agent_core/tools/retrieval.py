"""``chunk_text`` and ``rerank`` (cpu): the retrieval work between fetching pages and asking the model.

Pure Python over dicts, sets and small integers, so both hold the GIL the whole time (like ``analysis``): a
C helper that finished in one call or released the GIL would hide what threads do to CPU work. Deterministic
for a seed. Cooperative timeout: each checks its deadline between paragraphs or passages.
"""
from __future__ import annotations

import math
import time
import zlib

from .. import textgen
from ..errors import BadInput, ToolTimeout
from . import ToolContext

# --- chunk_text ---------------------------------------------------------------------------------------------

MAX_TEXT_CHARS = 2_000_000      # text handed to chunk_text by the engine (engine-internal ``text``)
SHINGLE = 3                     # words per shingle
ROWS, BANDS = 4, 8              # MinHash signature of ROWS * BANDS values; a candidate shares one band
NEAR = 0.8                      # Jaccard similarity of two chunks' shingles at which the later one is dropped
_PRIME = (1 << 61) - 1          # a Mersenne prime: (a*h + b) mod p are independent permutations of the hashes
_SALTS = tuple(((2 * k + 1) * 0x9E3779B97F4A7C15 % _PRIME, (k + 1) * 0xBF58476D1CE4E5B9 % _PRIME)
               for k in range(ROWS * BANDS))
_ENDS = (".", "!", "?")         # a word ending with one of these ends its sentence


def _page(p: dict, tool: str) -> int | None:
    page = p.get("page")
    if page is not None and (isinstance(page, bool) or not isinstance(page, int)
                             or not 0 <= page < textgen.CORPUS_SIZE):
        raise BadInput(f"{tool}.page={page!r:.40} is not allowed: a page id 0..{textgen.CORPUS_SIZE - 1}")
    return page


def _text(p: dict, ctx: ToolContext) -> str:
    """The text the engine handed over (``text``), else the page ``page`` as the backend serves it with ``words``
    words (what ``fetch_page`` fetched), else ``words`` words of page-like text from the call's seed."""
    text = p.get("text")
    if text is not None:
        if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS:
            raise BadInput(f"chunk_text.text must be a string of at most {MAX_TEXT_CHARS} characters")
        return text
    page = _page(p, "chunk_text")
    return textgen.prose(p["words"], ctx.call_seed if page is None else f"page:{page}")


def _sentences(paragraph: str) -> list[list[str]]:
    """A paragraph's sentences, each a list of words (a word ending in ".", "!" or "?" ends one)."""
    sentences, sentence = [], []
    for word in paragraph.split():
        sentence.append(word)
        if word.endswith(_ENDS):
            sentences.append(sentence)
            sentence = []
    if sentence:
        sentences.append(sentence)
    return sentences


def _pack(sentences: list[list[str]], size: int, overlap: int) -> list[list[str]]:
    """A paragraph's sentences packed into chunks of at most ``size`` words, each chunk starting with the last
    ``overlap`` words of the one before; a sentence longer than ``size - overlap`` is cut into pieces. A chunk
    never spans two paragraphs, so a paragraph repeated on a page gives the same chunks again."""
    step = size - overlap
    pieces = [words[i:i + step] for words in sentences for i in range(0, len(words), step)]
    chunks, chunk, fresh = [], [], False
    for piece in pieces:
        if fresh and len(chunk) + len(piece) > size:
            chunks.append(chunk)
            chunk, fresh = chunk[len(chunk) - overlap:] if overlap else [], False
        chunk = chunk + piece
        fresh = True
    if fresh:
        chunks.append(chunk)
    return chunks


def _shingles(words: list[str]) -> set[int]:
    last = max(1, len(words) - SHINGLE + 1)
    return {zlib.crc32(" ".join(words[i:i + SHINGLE]).encode()) for i in range(last)}


def _signature(shingles: set[int]) -> tuple[int, ...]:
    """MinHash: for each salted permutation of the shingle hashes, the smallest (pure Python: the GIL is held)."""
    return tuple(min((a * h + b) % _PRIME for h in shingles) for a, b in _SALTS)


def chunk_text(p: dict, ctx: ToolContext) -> dict:
    deadline = time.monotonic() + ctx.timeout_s
    size, overlap = p["chunk_words"], p["overlap"]
    if not 0 <= overlap <= size // 2:
        raise BadInput(f"chunk_text.overlap={overlap} is not allowed with chunk_words={size}: 0..{size // 2}")
    text = _text(p, ctx)
    buckets: dict[tuple, list[set[int]]] = {}
    kept = duplicates = sentences = words = 0
    for paragraph in text.split("\n\n"):
        if time.monotonic() > deadline:
            raise ToolTimeout(f"chunk_text ran past its {ctx.timeout_s:g} s timeout after {words} words")
        split = _sentences(paragraph)
        sentences += len(split)
        words += sum(map(len, split))
        for chunk in _pack(split, size, overlap):
            shingles = _shingles(chunk)
            signature = _signature(shingles)
            keys = [(band, signature[band * ROWS:(band + 1) * ROWS]) for band in range(BANDS)]
            seen = {id(s): s for key in keys for s in buckets.get(key, ())}
            if any(len(shingles & s) >= NEAR * len(shingles | s) for s in seen.values()):
                duplicates += 1
                continue
            kept += 1
            for key in keys:
                buckets.setdefault(key, []).append(shingles)
    return {"words": words, "sentences": sentences, "chunks": kept, "duplicates": duplicates}


# --- rerank -------------------------------------------------------------------------------------------------

K1, B = 1.2, 0.75               # Okapi BM25's usual constants
QUERY_WORDS = 6                 # a query: a topic and this many words
TOP = 5


def bm25(query: list[str], passages: list[list[str]], deadline: float = math.inf) -> list[float]:
    """Okapi BM25 score of each passage (a list of words) for the query's distinct words."""
    terms = list(dict.fromkeys(query))
    df = dict.fromkeys(terms, 0)
    matches: list[dict[str, int]] = []
    for i, passage in enumerate(passages):
        if i % 50 == 0 and time.monotonic() > deadline:
            raise ToolTimeout(f"the deadline passed after {i} passages")
        tf: dict[str, int] = {}
        for word in passage:
            tf[word] = tf.get(word, 0) + 1
        found = {term: tf[term] for term in terms if term in tf}
        for term in found:
            df[term] += 1
        matches.append(found)
    n = len(passages)
    avg = sum(map(len, passages)) / n if n else 0.0
    idf = {term: math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5)) for term in terms}
    scores = []
    for found, passage in zip(matches, passages, strict=True):
        norm = K1 * (1 - B + B * len(passage) / (avg or 1.0))
        scores.append(sum(idf[t] * f * (K1 + 1) / (f + norm) for t, f in found.items()))
    return scores


def rerank(p: dict, ctx: ToolContext) -> dict:
    """BM25 scores of ``candidates`` passages (of ``words_per`` words on average, from half to one and a half
    times that) against a query, both generated from the call's seed; the best passages first."""
    deadline = time.monotonic() + ctx.timeout_s
    n, per = p["candidates"], p["words_per"]
    seed = ctx.call_seed
    lengths = [per // 2 + zlib.crc32(f"{seed}:{i}".encode()) % (per + 1) for i in range(n)]
    pool = textgen.words(sum(lengths), seed)
    passages, start = [], 0
    for length in lengths:
        passages.append(pool[start:start + length])
        start += length
    topic = textgen.TOPICS[zlib.crc32(seed.encode()) % len(textgen.TOPICS)]
    query = [topic, *textgen.words(QUERY_WORDS, f"{seed}:query")]
    try:
        scores = bm25(query, passages, deadline)
    except ToolTimeout as exc:
        raise ToolTimeout(f"rerank ran past its {ctx.timeout_s:g} s timeout: {exc}") from None
    order = sorted(range(n), key=lambda i: (-scores[i], i))
    return {"n": n, "words": len(pool), "query": " ".join(dict.fromkeys(query)),
            "top_score": round(scores[order[0]], 4), "top": order[:TOP]}
