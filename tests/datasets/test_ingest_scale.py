"""Ingest at scale: bounded memory on a large file, the process pool, no PII left at rest."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from appliance import datasets as ds

PII_RECORDS = [
    {"text": f"Customer Margaret Thornbury-{i} wrote from margaret.t{i}@example.org, "
             f"phone +44 20 7946 {1000 + i}, card 4111 1111 1111 1111.", "label": "billing"}
    for i in range(24)
]


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


@pytest.mark.slow
def test_process_pool_gives_the_same_dataset_as_in_process(ctx: Any, people: dict) -> None:
    spec = ds.parse_spec({"task": "classification", "text_field": "text",
                          "label_field": "label"})
    results = []
    for workers in (1, 2):
        data = _jsonl(PII_RECORDS)
        results.append(ds.ingest_stream(
            ctx, people["olivia"], io.BytesIO(data), name=f"w{workers}", source_name="p.jsonl",
            fmt="jsonl", spec=spec, total_bytes=len(data), workers=workers,
            parallel_min_bytes=0))
    assert results[0].content_hash == results[1].content_hash
    assert results[0].report["entities_by_field"] == results[1].report["entities_by_field"]


@pytest.mark.slow
def test_no_original_pii_in_the_home_after_a_redacting_ingest(ctx: Any, people: dict,
                                                              home: Path) -> None:
    from appliance.demo import find_plaintext

    spec = ds.parse_spec({"task": "classification", "text_field": "text",
                          "label_field": "label"})
    result = ds.ingest_stream(ctx, people["olivia"], io.BytesIO(_jsonl(PII_RECORDS)), name="p",
                              source_name="p.jsonl", fmt="jsonl", spec=spec)
    ds.approve_dataset(ctx, people["carol"], result.dataset_id)
    stored = json.dumps(list(ds.read_records(ctx, people["olivia"], result.dataset_id)))
    values = [v for i in range(24) for v in (f"Thornbury-{i}", f"margaret.t{i}@example.org",
                                             f"7946 {1000 + i}")] + ["4111 1111 1111 1111"]
    assert not [v for v in values if v in stored]  # redacted in the stored records
    assert find_plaintext(home, values + [r["text"] for r in PII_RECORDS]) == []


SCRIPT = textwrap.dedent("""
    import io, json, resource, sys
    from appliance import datasets as ds
    from appliance.context import init_home, open_context
    from appliance.identity import add_user
    from appliance.gate import Principal

    home, size_mb = sys.argv[1], int(sys.argv[2])
    init_home(home)
    ctx = open_context(home)
    add_user(ctx, "olivia", "operator")
    line = json.dumps({"text": "x" * 900, "label": "a"}).encode() + b"\\n"

    class Generated(io.RawIOBase):
        # A file larger than what may be held: generated on the fly, never in memory at once.
        def __init__(self):
            self.left, self.n = size_mb * 1024 * 1024, 0
        def readable(self):
            return True
        def readinto(self, buffer):
            if self.left <= 0:
                return 0
            self.n += 1
            chunk = line.replace(b'"a"', b'"%d"' % (self.n % 7))
            chunk = chunk.replace(b"xxxx", b"%04d" % (self.n % 10000), 1)[: len(buffer)]
            buffer[: len(chunk)] = chunk
            self.left -= len(chunk)
            return len(chunk)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    spec = ds.parse_spec({"task": "classification", "text_field": "text", "label_field": "label",
                          "redact": False, "cleaning": {"dedupe": "exact"}})
    result = ds.ingest_stream(ctx, Principal("olivia", "operator"),
                              io.BufferedReader(Generated(), 1 << 16), name="big",
                              source_name="big.jsonl", fmt="jsonl", spec=spec)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": result.rows, "growth_kb": after - before}))
""")


@pytest.mark.slow
def test_large_streamed_ingest_in_bounded_memory(tmp_path: Path) -> None:
    size_mb = 200
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "home"), str(size_mb)],
                         capture_output=True, text=True, check=True, timeout=600)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["rows"] > 50_000  # distinct records after exact dedupe
    # 200 MB went through; the process grew by far less than the input (no buffering of it).
    assert figures["growth_kb"] < 60 * 1024, figures
