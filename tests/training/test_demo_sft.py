"""The demo's SFT step (appliance/demo/sft_step.py): ticket -> reply pairs from the demo's own
tickets, redacted at ingest, approved, tuned, scored against the base, one audited generation.

The end-to-end test runs the real step on the tiny Llama (registered by the demo's admin through
``run_demo(sft_base=...)``), without the feedback step that follows it (test_demo_feedback.py);
the bundled SmolLM2 run is what ``appliance demo`` does.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from appliance.demo import run_demo
from appliance.demo.sample_data import SAMPLE_FILE
from appliance.demo.sft_step import CUSTOM_BASE, DEMO_SFT_RECORDS, REPLIES, reply_pairs
from tests.training.tiny_models import make_tiny_llama


def _tickets() -> list[dict[str, str]]:
    return [json.loads(line) for line in SAMPLE_FILE.read_text("utf-8").splitlines()]


def test_reply_pairs_interleave_the_categories_with_one_reply_each() -> None:
    tickets = _tickets()
    pairs = reply_pairs(tickets)
    assert len(pairs) == DEMO_SFT_RECORDS
    by_id = {t["ticket_id"]: t for t in tickets}
    assert len({p["ticket_id"] for p in pairs}) == len(pairs)
    for pair in pairs:
        ticket = by_id[pair["ticket_id"]]
        assert pair["prompt"] == ticket["text"]
        assert pair["response"] == REPLIES[ticket["category"]]
    counts = Counter(by_id[p["ticket_id"]]["category"] for p in pairs)
    assert set(counts) == set(REPLIES) and max(counts.values()) - min(counts.values()) <= 1
    # the first five are one of each category, so any prefix is balanced
    assert {by_id[p["ticket_id"]]["category"] for p in pairs[:5]} == set(REPLIES)


def test_reply_pairs_stop_when_the_tickets_run_out() -> None:
    tickets = _tickets()[:7]
    assert len(reply_pairs(tickets, count=50)) == 7


@pytest.mark.slow
def test_demo_sft_step_on_a_caller_chosen_base(tmp_path: Path) -> None:
    base = make_tiny_llama(tmp_path / "tiny-llama")
    lines: list[str] = []
    summary = run_demo(tmp_path / "home", say=lines.append, train=False, sft=True,
                       sft_base=base, feedback=False)  # test_demo_feedback.py runs it after SFT
    text = "\n".join(lines)
    assert "== 7. fine-tune a small chat model" in text
    assert f"registered {base.resolve()} as base {CUSTOM_BASE}" in text
    assert summary["sft_base"] == CUSTOM_BASE
    assert summary["sft_model_id"].startswith("mdl_")
    generation = summary["sft_generation"]
    for key in ("n", "exact_match", "rouge_l", "chrf"):
        assert isinstance(generation[key], int | float), key
        assert isinstance(generation["base"][key], int | float), key
    assert 0 < generation["n"] <= DEMO_SFT_RECORDS // 5  # a held-out split, not the train one
    assert "exact_match" in text and "rouge_l" in text and "chrf" in text
    assert isinstance(summary["sft_answer"], str)
    assert f"the SFT step took {summary['sft_seconds']:.0f} s" in text
    if summary["sft_memorization"] is not None:
        assert "memorization scan:" in text
    assert summary["audit"]["tamper_detected"]
    events = _audit_events(tmp_path / "home")
    by_action = Counter((e["action"], e["actor"], e["decision"]) for e in events)
    assert by_action[("model.base.register", "adam", "allow")] == 1
    assert by_action[("dataset.approve", "carol", "allow")] == 2  # the tickets, the replies
    assert by_action[("job.create", "olivia", "allow")] == 1
    generate = [e for e in events if e["actor"] == "olivia"
                and e["action"] in ("model.generate", "model.predict")]
    assert generate, "the demo's generation left no audit event"
    for event in generate:
        assert "My parcel was marked" not in json.dumps(event)  # hashes, never the text
    # invariant 2 with a second dataset and a generative model in the home: no ticket text
    # (redacted or not) in any file, the model card in appliance.db included
    assert summary["plaintext_hits"] == []


def _audit_events(home: Path) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for segment in sorted((home / "audit").glob("segment-*.jsonl")):
        events.extend(json.loads(line) for line in segment.read_text("utf-8").splitlines())
    return events
