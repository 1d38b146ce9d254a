"""The demo's feedback step (appliance/demo/feedback_step.py): new tickets as prompts, a campaign
on the tuned model and its base, a scripted annotator ranking blind by one rule, the preference
dataset approved, a reward job, a DPO job, scores on new tickets.

The end-to-end test runs the real step after the SFT step on the tiny Llama (registered by the
demo's admin through ``run_demo(sft_base=...)``); the reward model is the bundled MiniLM, as in
``appliance demo``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from appliance.demo import run_demo
from appliance.demo.feedback_step import (
    CANDIDATES,
    DEMO_CAMPAIGN_PROMPTS,
    SCORE_EXAMPLES,
    campaign_prompts,
    rank_positions,
    reviewer_key,
)
from appliance.demo.sample_data import SAMPLE_FILE
from appliance.demo.sft_step import reply_pairs
from tests.training.tiny_models import make_tiny_llama


def _tickets() -> list[dict[str, str]]:
    return [json.loads(line) for line in SAMPLE_FILE.read_text("utf-8").splitlines()]


@pytest.mark.parametrize(("better", "worse"), [
    ("Thank you, we will reply today.", "We will reply today."),  # polite beats curt
    ("Sorry, we will reply.", "We reply."),  # polite beats shorter
    ("We apologise.", "Check the page yourself, please, now."),
    ("Reply today.", "We will reply to you today."),  # alike: the shorter
    ("THANKS a lot", "thanks a lot, really"),  # case does not matter
])
def test_reviewer_rule_prefers_polite_then_short(better: str, worse: str) -> None:
    assert reviewer_key(better) < reviewer_key(worse)


def test_rank_positions_is_a_full_ranking_with_ties_in_the_order_shown() -> None:
    shown = [{"label": "A", "text": "long answer without manners at all"},
             {"label": "B", "text": "thank you"}, {"label": "C", "text": "same words here"},
             {"label": "D", "text": "same words here"}]
    assert rank_positions(shown) == [1, 2, 3, 0]


def test_campaign_prompts_are_new_tickets_with_the_categories_in_turn() -> None:
    tickets = _tickets()
    used = {p["ticket_id"] for p in reply_pairs(tickets)}
    prompts = campaign_prompts(tickets, used)
    assert len(prompts) == DEMO_CAMPAIGN_PROMPTS
    assert not used & {p["ticket_id"] for p in prompts}  # not what the SFT step trained on
    by_id = {t["ticket_id"]: t for t in tickets}
    assert all(p["prompt"] == by_id[p["ticket_id"]]["text"] for p in prompts)
    categories = {t["category"] for t in tickets}
    assert {by_id[p["ticket_id"]]["category"] for p in prompts[:len(categories)]} == categories


def test_score_examples_are_listed_best_first_by_the_rule() -> None:
    for _, answers in SCORE_EXAMPLES:
        assert [reviewer_key(a) for a in answers] == sorted(reviewer_key(a) for a in answers)


@pytest.mark.slow
def test_demo_feedback_loop_after_sft(tmp_path: Path) -> None:
    base = make_tiny_llama(tmp_path / "tiny-llama")
    lines: list[str] = []
    summary = run_demo(tmp_path / "home", say=lines.append, train=False, sft=True,
                       sft_base=base)
    text = "\n".join(lines)
    assert "== 8. learn from feedback" in text
    assert summary["judged"] == DEMO_CAMPAIGN_PROMPTS
    assert "DENIED (role: annotator may not dataset.read_sample)" in text
    # the base's one answer against each of the tuned model's two, on every ticket
    assert CANDIDATES == 3
    assert [r["comparisons"] for r in summary["win_rates"]] == [2 * DEMO_CAMPAIGN_PROMPTS] * 2
    assert sum(r["wins"] for r in summary["win_rates"]) == 2 * DEMO_CAMPAIGN_PROMPTS
    assert summary["preference_dataset_id"].startswith("ds_")
    for key in ("reward_preference", "dpo_preference"):
        preference = summary[key]
        assert preference["pairs"] > 0 and 0 <= preference["pairwise_accuracy"] <= 1, key
        assert len(preference["wilson_95"]) == 2, key
    assert summary["dpo_preference"]["scored_by"].startswith("implicit reward")
    assert len(summary["reward_scores"]) == sum(len(a) for _, a in SCORE_EXAMPLES)
    assert "held-out pairwise accuracy" in text and "held-out reward accuracy" in text
    assert f"the feedback step took {summary['feedback_seconds']:.0f} s" in text

    events = _audit_events(tmp_path / "home")
    by_action = Counter((e["action"], e["actor"], e["decision"]) for e in events)
    assert by_action[("campaign.create", "olivia", "allow")] == 1
    assert by_action[("campaign.item.read", "nadia", "allow")] == DEMO_CAMPAIGN_PROMPTS
    assert by_action[("campaign.item.judge", "nadia", "allow")] == DEMO_CAMPAIGN_PROMPTS
    assert by_action[("campaign.closed", "olivia", "allow")] == 1
    # the close decision, then each judged item read once under it
    assert by_action[("campaign.close", "olivia", "allow")] == 1 + DEMO_CAMPAIGN_PROMPTS
    assert by_action[("dataset.read_sample", "nadia", "deny")] == 1
    # the tickets, the replies, the campaign's prompts, the preference pairs
    assert by_action[("dataset.approve", "carol", "allow")] == 4
    assert by_action[("job.create", "olivia", "allow")] == 3  # SFT, reward, DPO
    assert by_action[("model.score", "olivia", "allow")] == 1
    for event in events:  # hashes and counts, never a ticket's or an answer's text
        dumped = json.dumps(event)
        assert all(t not in dumped for t, _ in SCORE_EXAMPLES)
    assert summary["audit"]["tamper_detected"]
    # invariant 2 with the campaign's items, the preference data and two more models in the home
    assert summary["plaintext_hits"] == []


def _audit_events(home: Path) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    for segment in sorted((home / "audit").glob("segment-*.jsonl")):
        events.extend(json.loads(line) for line in segment.read_text("utf-8").splitlines())
    return events
