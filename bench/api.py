"""Benchmark: ingest over HTTP against the same ingest in-process, and API latency under load.

1. The same synthetic PII records (JSONL) are ingested twice: through ``ingest_stream`` in this
   process (what ``appliance dataset ingest`` runs), and uploaded to ``appliance serve`` running
   as a separate process on a loopback port (streamed body, parse -> clean -> redact -> encrypt
   on the server). Each path is timed end to end; the HTTP path should reach >= 0.9 of the
   in-process rate.
2. 16 concurrent clients then hit ``GET /v1/datasets`` and ``GET /v1/audit/events`` (each request
   is authenticated, policy-checked and audited) and we report p50/p99 latency per route.

Prints ``RESULT name=api_ingest value=<records/s> unit=records/s baseline=<cli> ratio=<v/b>``
and ``CONTEXT`` lines. A few minutes at most on two cores; ``--records`` scales it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import appliance  # noqa: E402,F401  (offline mode before anything else)

SPEC: dict[str, Any] = {"task": "classification", "text_field": "text", "label_field": "label",
        "keep_fields": ["id"]}
LABELS = ("billing", "privacy", "technical", "shipping", "account")


def records_file(path: Path, n: int, seed: int) -> int:
    """Synthetic tickets full of PII (names, e-mails, phones, IBANs...), one per line."""
    from appliance.redaction.synthetic import generate

    rng = random.Random(seed)
    with path.open("wb") as out:
        for i, item in enumerate(generate(n, seed, "heldout")):
            record = {"id": i, "text": item["text"], "label": rng.choice(LABELS)}
            out.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
    return path.stat().st_size


def make_home(root: Path) -> tuple[Path, dict[str, str]]:
    from appliance.context import init_home, open_context
    from appliance.identity import add_user

    home = root / "home"
    init_home(home)
    ctx = open_context(home)
    tokens = {name: add_user(ctx, name, role)[1] for name, role in
              (("olivia", "operator"), ("carol", "compliance"), ("audra", "auditor"))}
    ctx.close()
    return home, tokens


def ingest_in_process(home: Path, data: Path, token: str) -> tuple[int, float]:
    """What ``appliance dataset ingest FILE`` does, timed from open to stored."""
    from appliance import datasets as ds
    from appliance.context import open_context
    from appliance.identity import authenticate

    ctx = open_context(home)
    try:
        start = time.perf_counter()
        principal = authenticate(ctx, token, channel="cli")
        with data.open("rb") as stream:
            result = ds.ingest_stream(ctx, principal, stream, name=data.name,
                                      source_name=str(data), fmt="jsonl",
                                      spec=ds.parse_spec(SPEC), total_bytes=data.stat().st_size)
        return result.rows, time.perf_counter() - start
    finally:
        ctx.close()


def ingest_over_http(url: str, data: Path, token: str) -> tuple[int, float]:
    import httpx

    def chunks() -> Any:
        with data.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                yield chunk

    params: dict[str, Any] = {"name": data.name, "spec": json.dumps(SPEC)}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson",
               "Content-Length": str(data.stat().st_size)}
    with httpx.Client(base_url=url, timeout=3600, trust_env=False) as client:
        start = time.perf_counter()
        response = client.post("/v1/datasets", params=params, content=chunks(), headers=headers)
        elapsed = time.perf_counter() - start
    response.raise_for_status()
    return int(response.json()["rows"]), elapsed


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli.main", "--home", str(home), "serve",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}"
                               if process.stderr else "server exited")
        try:
            if httpx.get(f"{url}/readyz", timeout=1, trust_env=False).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not become ready")


async def hammer(url: str, token: str, path: str, params: dict[str, Any], clients: int,
                 per_client: int) -> list[float]:
    import httpx

    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}

    async def one_client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120,
                                     trust_env=False) as client:
            for _ in range(per_client):
                start = time.perf_counter()
                response = await client.get(path, params=params)
                latencies.append(time.perf_counter() - start)
                response.raise_for_status()

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=400, help="per ingest")
    parser.add_argument("--rounds", type=int, default=2, choices=(1, 2),
                        help="2: in-process, HTTP, HTTP, in-process; 1: one of each")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=25, help="per client and route")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-redact", action="store_true",
                        help="diagnostic: parse and encrypt only (not the benchmark's number)")
    args = parser.parse_args(argv)
    if args.no_redact:
        SPEC["redact"] = False

    with tempfile.TemporaryDirectory(prefix="appliance-bench-api-") as tmp:
        root = Path(tmp)
        data = root / "tickets.jsonl"
        size = records_file(data, args.records, args.seed)
        home, tokens = make_home(root)
        print(f"# {args.records} records, {size / 1e6:.1f} MB, {os.cpu_count()} CPUs", flush=True)

        # Warm both paths once (model loading, first connection) on a small slice.
        warm = root / "warm.jsonl"
        warm.write_bytes(b"".join(data.read_bytes().splitlines(keepends=True)[:64]))
        ingest_in_process(home, warm, tokens["olivia"])
        server, url = start_server(home)
        try:
            ingest_over_http(url, warm, tokens["olivia"])
            # ABBA order, so that drift in machine load (the box is shared) hits both paths alike.
            runs = {"cli": lambda: ingest_in_process(home, data, tokens["olivia"]),
                    "http": lambda: ingest_over_http(url, data, tokens["olivia"])}
            totals: dict[str, list[float]] = {"cli": [0, 0.0], "http": [0, 0.0]}
            for path in ("cli", "http", "http", "cli")[: 4 if args.rounds > 1 else 2]:
                rows, seconds = runs[path]()
                totals[path][0] += rows
                totals[path][1] += seconds
                print(f"# {path}: {rows} rows in {seconds:.2f}s ({rows / seconds:.1f}/s)",
                      flush=True)
            baseline = totals["cli"][0] / totals["cli"][1]
            value = totals["http"][0] / totals["http"][1]

            routes = {"list_datasets": ("/v1/datasets", {}, tokens["carol"]),
                      "audit_query": ("/v1/audit/events", {"limit": 50}, tokens["audra"])}
            latency: dict[str, list[float]] = {}
            for name, (path, params, token) in routes.items():
                # One unmeasured round first: each server worker thread compiles the policy
                # once, on its first decision; steady state is what we report.
                asyncio.run(hammer(url, token, path, params, args.clients, 2))
                latency[name] = asyncio.run(hammer(url, token, path, params, args.clients,
                                                   args.requests))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)

    print(f"RESULT name=api_ingest value={value:.1f} unit=records/s baseline={baseline:.1f} "
          f"ratio={value / baseline:.3f}")
    for name, values in latency.items():
        print(f"CONTEXT name={name} clients={args.clients} requests={len(values)} "
              f"p50_ms={1000 * percentile(values, 0.5):.1f} "
              f"p99_ms={1000 * percentile(values, 0.99):.1f} "
              f"mean_ms={1000 * statistics.fmean(values):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
