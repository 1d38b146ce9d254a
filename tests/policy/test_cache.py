"""The decision cache: a repeated request is answered without the engine, and nothing else is.

A cached decision is only correct if it is the decision the policy would make now; these tests
try to get a stale or foreign decision out of the cache (another state, another approver, another
policy, an engine failure, a policy reading the clock) and check the cache's bounds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.policy import EmbeddedEngine, load_engine
from appliance.policy.cache import DecisionCache
from appliance.policy.decision import Decision

from .inputs import dataset, request

APPROVE = request("carol", "compliance", "dataset.approve", dataset(), "review")


def counting(engine: EmbeddedEngine) -> list[dict[str, object]]:
    """Record every document that reaches the engine itself (past the cache)."""
    seen: list[dict[str, object]] = []
    evaluate = engine._decide_document

    def spy(document: dict[str, object]) -> Decision:
        seen.append(document)
        return evaluate(document)

    engine._decide_document = spy  # type: ignore[method-assign]
    return seen


def test_a_repeated_request_is_answered_from_the_cache(policy_dir: Path) -> None:
    engine = EmbeddedEngine(policy_dir)
    seen = counting(engine)
    first = engine.decide(APPROVE)
    again = engine.decide(json.loads(json.dumps(APPROVE)))
    assert first == again and first.allow
    assert len(seen) == 1
    assert engine.cache is not None and engine.cache.hits == 1


def test_key_order_does_not_matter(policy_dir: Path) -> None:
    engine = EmbeddedEngine(policy_dir)
    seen = counting(engine)
    engine.decide(APPROVE)
    reordered = {key: APPROVE[key] for key in reversed(list(APPROVE))}
    reordered["resource"] = {k: APPROVE["resource"][k] for k in reversed(list(APPROVE["resource"]))}
    assert engine.decide(reordered).allow
    assert len(seen) == 1


@pytest.mark.parametrize(("change", "reason"), [
    ({"resource": dataset(state="APPROVED")}, "state:"),
    ({"resource": dataset(uploaded_by="carol")}, "separation_of_duties:"),
    ({"user": {"name": "carol", "roles": ["auditor"]}}, "role:"),
    ({"resource": dataset(classification="restricted", approvals=["carol"])},
     "separation_of_duties:"),
])
def test_any_change_to_the_request_is_decided_again(policy_dir: Path, change: dict[str, object],
                                                   reason: str) -> None:
    engine = EmbeddedEngine(policy_dir)
    assert engine.decide(APPROVE).allow
    decision = engine.decide({**APPROVE, **change})
    assert not decision.allow and any(r.startswith(reason) for r in decision.reasons)
    assert engine.decide(APPROVE).allow


def test_a_caller_cannot_edit_the_cached_decision(policy_dir: Path) -> None:
    engine = EmbeddedEngine(policy_dir)
    denied = request("olivia", "operator", "dataset.approve", dataset(), "review")
    engine.decide(denied).reasons.append("tampered")
    engine.decide(denied).reasons.clear()
    assert engine.decide(denied).reasons == engine.decide(json.loads(json.dumps(denied))).reasons
    assert "tampered" not in engine.decide(denied).reasons
    assert engine.decide(denied).reasons


def test_engine_failures_are_not_kept(policy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = EmbeddedEngine(policy_dir)
    interpreter = engine._compiled().interpreter
    real = interpreter.query_bundle_entrypoint

    def explode(*_: object) -> object:
        raise RuntimeError("rego-cpp fell over")

    monkeypatch.setattr(interpreter, "query_bundle_entrypoint", explode)
    assert engine.decide(APPROVE).is_engine_error
    monkeypatch.setattr(interpreter, "query_bundle_entrypoint", real)
    assert engine.decide(APPROVE).allow  # asked again, not served the failure


def test_the_cache_is_bounded_and_keeps_the_recently_used() -> None:
    cache = DecisionCache(2)
    yes, no = Decision(True, ["r"], "h"), Decision(False, ["d"], "h")
    cache.put("a", yes)
    cache.put("b", no)
    assert cache.get("a") == yes  # "a" is now the most recent
    cache.put("c", no)
    assert cache.get("b") is None and cache.get("a") == yes and cache.get("c") == no
    assert len(cache) == 2
    with pytest.raises(ValueError):
        DecisionCache(0)


def test_a_policy_reading_the_clock_is_never_cached(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy(replace={
        "_verb := parts[count(parts) - 1] if {":
        '_violations contains "clock" if time.now_ns() < 0\n\n'
        "_verb := parts[count(parts) - 1] if {"})
    engine = EmbeddedEngine(root)
    assert engine.cache is None
    reason = engine.cache_disabled_reason
    assert reason is not None and "time.now_ns" in reason
    assert engine.decide(APPROVE).allow


def test_cache_size_zero_turns_it_off(policy_dir: Path, tmp_path: Path) -> None:
    assert EmbeddedEngine(policy_dir, cache_size=0).cache is None
    engine = load_engine(Settings(home=tmp_path, policy_cache_size=0))  # type: ignore[call-arg]
    assert engine.decide(APPROVE).allow and getattr(engine, "cache", "missing") is None


def test_an_edited_policy_starts_with_an_empty_cache(tmp_path: Path,
                                                     policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    settings = Settings(home=tmp_path, policy_dir=root)  # type: ignore[call-arg]
    assert load_engine(settings).decide(APPROVE).allow
    data_file = root / "appliance" / "data.json"
    data = json.loads(data_file.read_text("utf-8"))
    data["roles"]["compliance"].remove("dataset.approve")
    data_file.write_text(json.dumps(data), "utf-8")
    decision = load_engine(settings).decide(APPROVE)
    assert not decision.allow and decision.reasons[0].startswith("role:")


def test_threads_share_the_cache_and_agree(policy_dir: Path) -> None:
    engine = EmbeddedEngine(policy_dir, cache_size=8)
    requests = [request(f"user{i % 20}", "compliance", "dataset.approve",
                        dataset(id=f"ds_{i % 20}", uploaded_by=f"user{(i + 1) % 20}"), "review")
                for i in range(400)]
    expected = [EmbeddedEngine(policy_dir, cache_size=0).decide(r) for r in requests[:20]]
    with ThreadPoolExecutor(max_workers=4) as pool:
        decisions = list(pool.map(engine.decide, requests))
    assert all(d == expected[i % 20] for i, d in enumerate(decisions))
    assert engine.cache is not None and len(engine.cache) <= 8
