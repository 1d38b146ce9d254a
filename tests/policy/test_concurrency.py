"""Several threads deciding at once on one engine: each gets its own compiled bundle."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from appliance.policy import EmbeddedEngine

from .inputs import dataset, request

CASES: list[tuple[dict[str, Any], bool]] = [
    (request("carol", "compliance", "dataset.approve", dataset()), True),
    (request("olivia", "compliance", "dataset.approve", dataset()), False),
    (request("olivia", "operator", "dataset.read_for_training",
             dataset(state="APPROVED", approvals=["carol"]), "training"), True),
    (request("audra", "auditor", "dataset.read_sample", dataset(), "review"), False),
    (request("adam", "admin", "keys.rotate"), True),
    ({}, False),
]


def test_threads_decide_at_once(engine: EmbeddedEngine) -> None:
    expected = {i: engine.decide(doc) for i, (doc, _) in enumerate(CASES)}
    assert [d.allow for d in expected.values()] == [allowed for _, allowed in CASES]
    start = threading.Barrier(8)

    def work(worker: int) -> list[str]:
        start.wait()  # all threads compile and decide together
        wrong = []
        for n in range(150):
            i = (n + worker) % len(CASES)
            if engine.decide(CASES[i][0]) != expected[i]:
                wrong.append(f"worker {worker}, case {i}")
        return wrong

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    assert [w for r in results for w in r] == []


def test_each_thread_compiles_its_own_bundle(engine: EmbeddedEngine) -> None:
    seen: list[object] = []

    def grab() -> None:
        engine.decide(CASES[0][0])
        seen.append(engine._compiled().interpreter)

    threads = [threading.Thread(target=grab) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(i) for i in seen}) == 3
