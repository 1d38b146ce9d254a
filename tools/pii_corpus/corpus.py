"""Seeded document generation and deterministic JSONL(.gz) output.

One ``random.Random`` seeded from the seed string drives everything, Faker included (each Faker
is reseeded from it before every use), so the same seed gives the same records. The gzip header
carries no file name and a zero timestamp, so the same records give the same bytes.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tools.pii_corpus.doc import Doc
from tools.pii_corpus.genres import GENRES, build_document
from tools.pii_corpus.names import NameSource


def generate(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """``n`` records, the same for the same seed; genres drawn by their weights."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"pii_corpus:{seed}")
    src = NameSource(rng, {})
    names = sorted(GENRES)
    weights = [GENRES[g][1] for g in names]
    for _ in range(n):
        genre = rng.choices(names, weights)[0]
        yield build_document(genre, Doc(rng), src, rng)


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object a line, gzip-compressed when ``path`` ends in ``.gz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "wb") as raw:
        stream: Any = (gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
                       if path.suffix == ".gz" else raw)
        with io.TextIOWrapper(stream, encoding="utf-8", newline="\n") as out:
            for rec in records:
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                count += 1
    return count
