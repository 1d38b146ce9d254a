"""A model card shows its preference figures: a reward model's pairwise accuracy, and a tuned
model's win rate against its reference (with the bar a reader looks at) and its KL."""

from __future__ import annotations

from typing import Any

from appliance.api.web.console import templates


def render(metrics: dict[str, Any]) -> str:
    card = {"metrics": metrics, "job_id": "job_x", "datasets": [], "hyperparameters": {},
            "base_model": {"name": "tiny", "sha256": "0" * 64},
            "weights": {"format": "safetensors", "bytes": 1, "sha256": "1" * 64}}
    module = templates.env.get_template("_model_card.html").module
    return str(module.model_card(card, None, {}))  # type: ignore[attr-defined]


def test_reward_model_card_shows_pairwise_accuracy() -> None:
    html = render({"test": {"pairs": 40}, "preference": {
        "pairs": 40, "pairwise_accuracy": 0.825, "margin_mean": 1.25,
        "wilson_95": [0.68, 0.91], "scored_by": "the reward model"}})
    assert 'data-section="preference"' in html and "0.825" in html
    assert "95% CI 0.680–0.910" in html and "scored by the reward model" in html
    assert 'data-section="judged"' not in html


def test_tuned_model_card_shows_its_win_rate_and_kl() -> None:
    html = render({"test": {}, "judged": {
        "prompts": 20, "win_rate": 0.75, "wins": 14, "ties": 2, "wilson_95": [0.53, 0.89],
        "reward_mean": 0.4, "reference_reward_mean": -0.1, "kl_mean": 1.5,
        "judged_by": "mdl_abc123", "reference": "the base (adapter disabled)"}})
    assert 'data-metric="win_rate"' in html and "0.750" in html
    assert 'width="300.0"' in html  # the bar: 0.75 of 400 px
    assert "14 won, 2 tied" in html and "mdl_abc123" in html and 'data-metric="kl_mean"' in html
    assert "style=" not in html  # the console's CSP allows no inline style
