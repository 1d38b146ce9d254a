"""``python -m tools.pii_corpus --n 40000 --seed 0 --out corpus.jsonl.gz``: write a corpus and
print its figures (records, spans per label, genres, hard-negative share, seconds)."""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tools.pii_corpus.corpus import generate, write_jsonl


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=40000, help="records to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="output .jsonl or .jsonl.gz")
    args = parser.parse_args(argv)
    labels: Counter[str] = Counter()
    genres: Counter[str] = Counter()
    stats = {"negatives": 0, "words": 0}

    def counted() -> Any:
        for rec in generate(args.n, args.seed):
            labels.update(s["label"] for s in rec["spans"])
            genres[rec["genre"]] += 1
            stats["negatives"] += rec["hard_negative"]
            stats["words"] += len(rec["text"].split())
            yield rec

    started = time.perf_counter()
    count = write_jsonl(args.out, counted())
    print(json.dumps({
        "records": count, "seed": args.seed, "out": str(args.out),
        "seconds": round(time.perf_counter() - started, 1),
        "hard_negative_share": round(stats["negatives"] / max(1, count), 3),
        "mean_words": round(stats["words"] / max(1, count), 1),
        "spans": dict(labels.most_common()), "genres": dict(sorted(genres.items())),
    }, indent=1))


if __name__ == "__main__":
    main()
