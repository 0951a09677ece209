"""Build a JSON document of ``size`` records, parse it back and summarise it, like a data-cleaning step."""
from __future__ import annotations

import json
import random


def run(size: int, seed: str) -> dict:
    rng = random.Random(seed)
    doc = json.dumps([{"id": i, "score": rng.random(), "tag": rng.choice("abcde")} for i in range(size)])
    records = json.loads(doc)
    by_tag: dict[str, int] = {}
    for r in records:
        by_tag[r["tag"]] = by_tag.get(r["tag"], 0) + 1
    return {"records": len(records), "bytes": len(doc), "mean_score": round(sum(r["score"] for r in records) / size, 4),
            "by_tag": dict(sorted(by_tag.items()))}
