"""Policy decision throughput and latency: the embedded engine against naive regopy use.

Embedded: ``EmbeddedEngine.decide`` as shipped (bundle compiled once, ``query_bundle_entrypoint``
per request, decision cache on). Naive: the same policy and data loaded once into an
``Interpreter``, then per request the input is set and
``Interpreter.query("data.appliance.authz.decision")`` is called, which compiles the query and the
policy again each time. Both see the same mixed stream of requests (allowed and denied), one
request at a time in one thread.

Two streams. ``policy``: every request distinct (its own dataset id), so the cache never
answers: the cost of a decision rego-cpp has to make. ``policy_repeat``: the same number of
requests drawn from a tenth as many distinct ones, in random order, as a busy appliance sees them
(the console polling, reviewers paging, workers re-reading): the first of each goes to rego-cpp,
the rest to the cache. Latencies are given for both, and for cache hits alone.

    .venv/bin/python bench/policy.py [--decisions N] [--naive N]

Ends with ``RESULT name=policy ...`` and ``RESULT name=policy_repeat ...`` (value and baseline in
decisions/s, ratio = value/baseline); the lines before them give p50/p99 latency and the load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regopy import Interpreter  # noqa: E402

from appliance.policy import EmbeddedEngine, default_policy_dir, read_policy_dir  # noqa: E402
from appliance.policy.decision import loads_strict  # noqa: E402
from appliance.policy.embedded import rego_input  # noqa: E402

#: The cheapest policy that still reads its input: what any decision costs rego-cpp here.
FLOOR_POLICY = """package floor

default allow := false

allow if input.action == "dataset.read_for_training"
"""


def workload(n: int) -> list[dict[str, Any]]:
    """A mix like the gate's: mostly allowed reads and reviews, one in three denied."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        user, other, ds = f"user{i % 97}", f"user{(i + 1) % 97}", f"ds_{i}"
        dataset = {"type": "dataset", "id": ds, "state": "APPROVED", "classification": "internal",
                   "uploaded_by": other, "requested_by": None, "approvals": [f"rev{i % 7}"]}
        pending = {**dataset, "state": "PENDING_REVIEW", "approvals": []}
        kind = i % 20
        if kind < 6:  # 30%: training reads
            doc = _req(user, "operator", "dataset.read_for_training", dataset, "training")
        elif kind < 9:  # 15%: metadata
            doc = _req(user, "auditor" if kind == 8 else "operator",
                       "dataset.show" if kind == 7 else "dataset.list",
                       dataset if kind == 7 else {"type": "dataset", "id": "*"}, "metadata")
        elif kind < 11:  # 10%: review samples
            doc = _req(user, "compliance", "dataset.read_sample", pending, "review")
        elif kind < 13:  # 10%: approvals
            doc = _req(user, "compliance", "dataset.approve", pending, "review")
        elif kind == 13:  # 5%: audit reads
            doc = _req(user, "auditor", "audit.read", {"type": "audit", "id": "log"}, "audit")
        elif kind < 16:  # 10% denied: separation of duties
            doc = _req(other, "compliance", "dataset.approve", pending, "review")
        elif kind < 18:  # 10% denied: role
            doc = _req(user, "auditor", "dataset.read_sample", pending, "review")
        else:  # 10% denied: state
            doc = _req(user, "operator", "dataset.read_for_training", pending, "training")
        out.append(doc)
    return out


def _req(name: str, role: str, action: str, resource: dict[str, Any],
         purpose: str) -> dict[str, Any]:
    return {"user": {"name": name, "roles": [role]}, "action": action, "resource": resource,
            "purpose": purpose}


def naive_decider(policy_dir: Path) -> Callable[[dict[str, Any]], dict[str, Any]]:
    policy = read_policy_dir(policy_dir)
    interpreter = Interpreter()
    interpreter.add_data_json(json.dumps(policy.data(), ensure_ascii=False))
    for module in policy.modules:
        interpreter.add_module(module.path, module.source)

    def decide(document: dict[str, Any]) -> dict[str, Any]:
        interpreter.set_input_term(json.dumps(document, ensure_ascii=False))
        output = interpreter.query("data.appliance.authz.decision")
        value: dict[str, Any] = loads_strict(str(output))["expressions"][0]
        return value

    return decide


def floor_decider() -> Callable[[dict[str, Any]], str]:
    """The shipped engine's path (bundle built once, the same input builder, entrypoint query)
    on ``FLOOR_POLICY``: the latency no policy can go below with this engine."""
    interpreter = Interpreter()
    interpreter.add_module("floor.rego", FLOOR_POLICY)
    bundle = interpreter.build(None, ["floor/allow"])

    def decide(document: dict[str, Any]) -> str:
        interpreter.set_input(rego_input(document))
        return str(interpreter.query_bundle_entrypoint(bundle, "floor/allow"))

    return decide


def measure(decide: Callable[[dict[str, Any]], Any],
            documents: list[dict[str, Any]]) -> tuple[float, list[float], list[Any]]:
    """(decisions per second, per-decision latencies in µs, the decisions)."""
    latencies, results = [], []
    clock = time.perf_counter_ns
    start = clock()
    for document in documents:
        t0 = clock()
        results.append(decide(document))
        latencies.append((clock() - t0) / 1000)
    elapsed = (clock() - start) / 1e9
    return len(documents) / elapsed, latencies, results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=4000, help="embedded decisions")
    parser.add_argument("--naive", type=int, default=60, help="naive decisions")
    args = parser.parse_args()
    policy_dir = default_policy_dir()
    if policy_dir is None:
        print("no policies/ directory found", file=sys.stderr)
        return 1
    engine = EmbeddedEngine(policy_dir)
    naive = naive_decider(policy_dir)
    documents = workload(args.decisions)
    # The repeated stream: a tenth as many distinct requests, each asked ten times on average.
    distinct = workload(max(1, args.decisions // 10))
    for document in distinct:  # ids of its own, never decided in the first stream
        document["resource"]["id"] += "_r"
    shuffle = random.Random(7)
    repeated = [shuffle.choice(distinct) for _ in range(args.decisions)]

    warm = workload(300)
    for document in warm:  # warm-up with ids of its own: first-use costs are not latency
        document["resource"]["id"] += "_warm"
    measure(engine.decide, warm)
    measure(naive, documents[:3])
    cpu_start = time.thread_time()
    rate, latencies, decisions = measure(engine.decide, documents)
    cpu_per_decision = (time.thread_time() - cpu_start) / len(documents) * 1e6
    assert engine.cache is not None
    hits_before = engine.cache.hits
    repeat_rate, repeat_latencies, repeat_decisions = measure(engine.decide, repeated)
    hits = engine.cache.hits - hits_before
    naive_rate, naive_latencies, naive_decisions = measure(naive, documents[: args.naive])
    floor = floor_decider()
    measure(floor, warm)
    _, floor_latencies, _ = measure(floor, documents)
    first_seen: set[int] = set()
    hit_latencies = []
    for document, latency in zip(repeated, repeat_latencies, strict=True):
        if id(document) in first_seen:
            hit_latencies.append(latency)
        first_seen.add(id(document))
    repeat_mismatches = sum(
        1 for d, n in zip(repeat_decisions, map(naive, repeated[: args.naive]), strict=False)
        if d.allow != n["allow"] or d.reasons != n["reasons"])

    mismatches = sum(1 for d, n in zip(decisions, naive_decisions, strict=False)
                     if d.allow != n["allow"] or d.reasons != n["reasons"])
    allowed = [lat for lat, d in zip(latencies, decisions, strict=True) if d.allow]
    denied = [lat for lat, d in zip(latencies, decisions, strict=True) if not d.allow]
    print(f"machine: {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    print(f"policy: {engine.policy_hash}; {len(documents)} requests, "
          f"{len(denied) / len(documents):.0%} denied")
    print(f"embedded: {rate:,.0f} decisions/s, p50 {percentile(latencies, 0.5):.0f} µs, "
          f"p99 {percentile(latencies, 0.99):.0f} µs, mean {statistics.mean(latencies):.0f} µs")
    print(f"embedded CPU time: {cpu_per_decision:.0f} µs per decision (this thread only: what "
          "the decision costs, without the waits of a shared machine)")
    print(f"embedded allowed: p50 {percentile(allowed, 0.5):.0f} µs, "
          f"p99 {percentile(allowed, 0.99):.0f} µs; denied: p50 {percentile(denied, 0.5):.0f} µs,"
          f" p99 {percentile(denied, 0.99):.0f} µs")
    print(f"floor, a one-rule policy on the same path and inputs: "
          f"p50 {percentile(floor_latencies, 0.5):.0f} µs, "
          f"p99 {percentile(floor_latencies, 0.99):.0f} µs (rego-cpp's cost before any policy "
          "logic: building the input and running a query)")
    print(f"naive Interpreter.query: {naive_rate:,.1f} decisions/s, "
          f"p50 {percentile(naive_latencies, 0.5):.0f} µs, "
          f"p99 {percentile(naive_latencies, 0.99):.0f} µs ({len(naive_latencies)} requests)")
    print(f"same decisions and reasons from both: {mismatches + repeat_mismatches == 0} "
          f"({len(naive_decisions)} of each stream compared)")
    print(f"repeated stream: {len(repeated)} requests, {len(distinct)} distinct, "
          f"{hits / len(repeated):.0%} answered by the cache")
    print(f"embedded, repeated: {repeat_rate:,.0f} decisions/s, "
          f"p50 {percentile(repeat_latencies, 0.5):.0f} µs, "
          f"p99 {percentile(repeat_latencies, 0.99):.0f} µs; cache hits alone: "
          f"p50 {percentile(hit_latencies, 0.5):.1f} µs, "
          f"p99 {percentile(hit_latencies, 0.99):.1f} µs")
    print(f"RESULT name=policy value={rate:.0f} unit=decisions/s baseline={naive_rate:.1f} "
          f"ratio={rate / naive_rate:.1f}")
    print(f"RESULT name=policy_repeat value={repeat_rate:.0f} unit=decisions/s "
          f"baseline={naive_rate:.1f} ratio={repeat_rate / naive_rate:.1f}")
    return 0 if mismatches + repeat_mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
