"""The demo's feedback step: a short loop of learning from human feedback (issue 15).

After the SFT step, the operator opens a feedback campaign on a few new tickets (ingested,
redacted and approved like any dataset): :data:`CANDIDATES` answers per ticket, written by the
tuned chat model and by its base, sampled with seeds by the campaign's generation worker (as
``appliance campaign create`` starts it; the demo waits for it). A scripted annotator judges
every item blind, through the same calls the console makes (``campaign.item.read`` and
``campaign.item.judge``, each a policy decision and an audit event), by one stated rule
(:func:`reviewer_key`). Closing the campaign expands the rankings into a preference dataset in
PENDING_REVIEW; compliance approves it; a ``reward`` job (the bundled MiniLM) and a ``dpo`` job
(LoRA on the SFT step's base) train on it with small budgets, and the reward model scores a few
answers to tickets it has never seen (``model.score``).

The figures are a demonstration, not a benchmark: a few dozen pairs, and the held-out pairs of
both jobs share prompts with training pairs (a ranking of three answers gives three pairs of one
prompt, and the split is by pair). The scored examples at the end are on new tickets.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any

from appliance import datasets as ds
from appliance import feedback
from appliance.context import Context
from appliance.errors import AccessDenied
from appliance.gate import Principal
from appliance.training import jobs, models

#: Tickets in the campaign: the first of each category in turn, after those the SFT step used.
DEMO_CAMPAIGN_PROMPTS = 20
#: Answers per ticket: slots 0 and 2 from the tuned model, slot 1 from its base.
CANDIDATES = 3
#: Length of each candidate, in tokens (the tuned model's replies are about 25).
CANDIDATE_TOKENS = 32
#: Training time of the two jobs; with model loads and evaluation each takes about twice that.
REWARD_BUDGET_S = 15
DPO_BUDGET_S = 30
#: Pairs per DPO step: a step of the default 8 (16 answers and the reference's pass over them)
#: takes longer than the budget on two busy CPU cores; with 2, the budget makes a few steps.
DPO_BATCH = 2
#: Both held-out splits: a quarter of a few dozen pairs, so that an accuracy is over ten or so.
TEST_FRACTION = 0.25
#: Words that make an answer polite, for the scripted reviewer.
POLITE_WORDS = ("thank", "sorry", "apolog")
#: Answers to new tickets that the reward model scores at the end: (ticket, answers best first
#: by the reviewer's rule).
SCORE_EXAMPLES: list[tuple[str, list[str]]] = [
    ("My parcel was marked as delivered yesterday but nothing arrived, can you check?", [
        "Thank you for writing; our delivery team will reply to you by the end of today.",
        "Check the tracking page.",
        "Parcels marked as delivered are usually in a safe place, with a neighbour or at the "
        "pickup point nearby, and it can take a day or two for the carrier to update it.",
    ]),
    ("I was charged twice for my subscription this month, please refund one payment.", [
        "Sorry about that; thank you for writing, our payments team will reply by the end of "
        "today.",
        "Refunds take ten days.",
        "Duplicate charges can happen when a payment is retried after a timeout, and the bank "
        "may show a pending authorisation that disappears after a few working days.",
    ]),
]

Say = Callable[[str], None]


def reviewer_key(text: str) -> tuple[int, int]:
    """The scripted annotator's rule, smaller is better: an answer that thanks the customer or
    apologises beats one that does neither; among those alike, the shorter (in words) wins."""
    lowered = text.lower()
    return (0 if any(word in lowered for word in POLITE_WORDS) else 1, len(text.split()))


def rank_positions(candidates: list[dict[str, str]]) -> list[int]:
    """Screen positions best first by :func:`reviewer_key` (ties: the order shown)."""
    return sorted(range(len(candidates)), key=lambda p: (reviewer_key(candidates[p]["text"]), p))


def campaign_prompts(
    tickets: list[dict[str, Any]], skip: set[str], count: int = DEMO_CAMPAIGN_PROMPTS
) -> list[dict[str, str]]:
    """``{"ticket_id", "prompt"}`` for ``count`` tickets not in ``skip``, categories in turn."""
    queues: dict[str, list[dict[str, Any]]] = {}
    for ticket in tickets:
        if ticket["ticket_id"] not in skip:
            queues.setdefault(ticket["category"], []).append(ticket)
    order = [queues[c] for c in sorted(queues)]
    out: list[dict[str, str]] = []
    while len(out) < count and any(order):
        for queue in order:
            if queue and len(out) < count:
                ticket = queue.pop(0)
                out.append({"ticket_id": ticket["ticket_id"], "prompt": ticket["text"]})
    return out


def learn_from_feedback(
    ctx: Context, people: dict[str, Principal], tickets: list[dict[str, Any]], say: Say,
    sft: dict[str, Any],
) -> dict[str, Any]:
    """Campaign, scripted judgements, approval, reward and DPO jobs, scores; a summary."""
    started = time.monotonic()
    operator, compliance, annotator = people["olivia"], people["carol"], people["nadia"]
    from appliance.demo.sft_step import reply_pairs

    used = {p["ticket_id"] for p in reply_pairs(tickets)}
    prompt_id = _ingest_prompts(ctx, operator, compliance, campaign_prompts(tickets, used), say)
    base = str(sft["sft_base"])
    campaign = feedback.create_campaign(
        ctx, operator, name="reply tone", dataset_id=prompt_id,
        models=[sft["sft_model_id"], f"base:{base}"], candidates=CANDIDATES,
        reviewers=[annotator.name], random_state=15, max_new_tokens=CANDIDATE_TOKENS)
    say(f"campaign {campaign.campaign_id}: {CANDIDATES} sampled answers per ticket (the tuned "
        f"model {sft['sft_model_id']} writes two, its base {base} one), assigned to "
        f"{annotator.name} ({annotator.role}); a worker generates them")
    campaign = _wait_open(ctx, campaign.campaign_id, say)
    try:
        ds.sample_records(ctx, annotator, prompt_id, 1)
        raise AssertionError("the policy let an annotator read a dataset")
    except AccessDenied as denied:
        say(f"  {annotator.name} reading the prompt dataset itself: DENIED ({denied.reasons[0]})")

    judged = _judge_all(ctx, annotator, campaign.campaign_id, say)
    results = feedback.campaign_results(ctx, operator, campaign.campaign_id)
    say("win rates (the preferred answer's model, over the pairs of answers by different models):")
    for row in results["win_rates"]:
        say(f"  {row['model']:28} {row['wins']:3}/{row['comparisons']}")
    closed = feedback.close_campaign(ctx, operator, campaign.campaign_id)
    summary: dict[str, Any] = {"campaign_id": campaign.campaign_id, "judged": judged,
                               "win_rates": results["win_rates"],
                               "preference_dataset_id": closed.result_dataset_id}
    if not closed.result_dataset_id:
        say("closed: no judgement preferred one answer to another; nothing to train on")
        return summary | {"feedback_seconds": round(time.monotonic() - started, 1)}
    pairs = (closed.lineage or {}).get("pairs", 0)
    say(f"closed: preference dataset {closed.result_dataset_id} ({pairs} chosen/rejected pairs, "
        "redacted at ingest) is PENDING_REVIEW; lineage names the reviewer by pseudonym only")
    record = ds.sample_records(ctx, compliance, closed.result_dataset_id, 1)[0]
    say(f"  sample pair: chosen {_short(record['chosen'])!r}")
    say(f"               rejected {_short(record['rejected'])!r}")
    ds.approve_dataset(ctx, compliance, closed.result_dataset_id, "judgements checked")
    say(f"dataset {closed.result_dataset_id} approved by carol")

    summary |= _reward(ctx, operator, closed.result_dataset_id, say)
    summary |= _dpo(ctx, operator, closed.result_dataset_id, base, say)
    seconds = round(time.monotonic() - started, 1)  # the summary's figure, printed as is
    say(f"the feedback step took {seconds:.0f} s")
    return summary | {"feedback_seconds": round(seconds, 1)}


def _ingest_prompts(
    ctx: Context, operator: Principal, compliance: Principal, prompts: list[dict[str, str]],
    say: Say,
) -> str:
    data = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in prompts).encode()
    result = ds.ingest_stream(
        ctx, operator, io.BytesIO(data), name="campaign-tickets",
        source_name="campaign-tickets.jsonl", fmt="jsonl",
        spec=ds.parse_spec({"task": "raw", "prompt_field": "prompt",
                            "keep_fields": ["ticket_id"]}),
        total_bytes=len(data))
    ds.approve_dataset(ctx, compliance, result.dataset_id, "prompts for a feedback campaign")
    say(f"stored {result.dataset_id}: {result.rows} new tickets (not in the SFT data), redacted, "
        "approved by carol")
    return str(result.dataset_id)


def _wait_open(ctx: Context, campaign_id: str, say: Say) -> feedback.CampaignInfo:
    """Narrate the generation worker until the campaign opens; a failed one stops the demo."""
    last = {"at": 0.0}

    def show(info: feedback.CampaignInfo) -> None:
        now = time.monotonic()  # at most one progress line every 15 seconds
        if info.state != feedback.GENERATING or now - last["at"] >= 15:
            last["at"] = now
            say(f"  {info.state} {info.progress_text()}")

    info = feedback.wait_for_campaign(ctx, campaign_id, on_update=show, poll_s=2.0)
    if info.state != feedback.OPEN:
        raise RuntimeError(f"demo campaign ended {info.state}: {info.error}")
    say(f"  {info.items} items sealed in the vault, each reviewer shown its own order")
    return info


def _judge_all(ctx: Context, annotator: Principal, campaign_id: str, say: Say) -> int:
    """The scripted annotator: every assigned item opened and ranked by :func:`reviewer_key`."""
    say(f"{annotator.name} judges blind by one rule: an answer that thanks or apologises beats "
        "one that does not; then the shorter wins")
    judged = 0
    while (assignment := feedback.next_assignment(ctx, annotator, campaign_id)) is not None:
        item = feedback.open_item(ctx, annotator, assignment)
        order = rank_positions(item.candidates)
        feedback.judge_item(ctx, annotator, assignment, "rank", order)
        if judged == 0:  # what the reviewer saw once, as the console shows it
            say(f"  ticket: {_short(item.prompt)}")
            for candidate in item.candidates:
                say(f"    {candidate['label']}: {_short(candidate['text'])}")
            say(f"  ranked {' > '.join(item.candidates[p]['label'] for p in order)}")
        judged += 1
    say(f"  {judged} items judged ({judged} campaign.item.read and campaign.item.judge "
        "decisions in the audit log)")
    return judged


def _reward(ctx: Context, operator: Principal, dataset_id: str, say: Say) -> dict[str, Any]:
    from appliance.demo.training_step import run_job

    job = jobs.submit_job(ctx, operator, {
        "task": "reward", "dataset_ids": [dataset_id], "time_budget_s": REWARD_BUDGET_S,
        "test_fraction": TEST_FRACTION})
    say(f"reward model: job {job.job_id} (Bradley-Terry on the bundled MiniLM, "
        f"{REWARD_BUDGET_S} s of training)")
    final = run_job(ctx, job, say)
    assert final.model_id is not None
    preference = final.metrics.get("preference", {})
    say(f"  held-out pairwise accuracy {_share(preference)} (chance 0.5), mean margin "
        f"{_figure(preference.get('margin_mean'))}")
    items = [{"prompt": ticket, "response": answer}
             for ticket, answers in SCORE_EXAMPLES for answer in answers]
    scores = models.score(ctx, operator, final.model_id, items)
    say("  model score on new tickets (one audited model.score; answers best first by the "
        "reviewer's rule):")
    agree = total = 0
    for i, (ticket, answers) in enumerate(SCORE_EXAMPLES):
        mine = scores[i * len(answers):(i + 1) * len(answers)]
        say(f"    ticket: {_short(ticket)}")
        for answer, value in zip(answers, mine, strict=True):
            say(f"      {value:+.3f}  {_short(answer)}")
        agree += sum(mine[a] > mine[b] for a in range(len(mine)) for b in range(a + 1, len(mine)))
        total += len(mine) * (len(mine) - 1) // 2
    say(f"    the reward model agrees with the rule on {agree} of {total} pairs")
    return {"reward_job_id": job.job_id, "reward_model_id": final.model_id,
            "reward_preference": preference, "reward_scores": scores,
            "reward_agreement": [agree, total]}


def _dpo(ctx: Context, operator: Principal, dataset_id: str, base: str, say: Say
         ) -> dict[str, Any]:
    from appliance.demo.training_step import run_job

    job = jobs.submit_job(ctx, operator, {
        "task": "dpo", "dataset_ids": [dataset_id], "base_model": base,
        "time_budget_s": DPO_BUDGET_S, "test_fraction": TEST_FRACTION,
        "batch_size": DPO_BATCH, "eval_generations": 0, "memorization_records": 0})
    say(f"DPO: job {job.job_id} (LoRA on {base}, the base with the adapter off as reference; "
        f"{DPO_BUDGET_S} s of training in batches of {DPO_BATCH} pairs; held-out generation "
        "and the memorization scan off here, on by default)")
    final = run_job(ctx, job, say)
    assert final.model_id is not None
    preference = final.metrics.get("preference", {})
    say(f"  held-out reward accuracy {_share(preference)} (chance 0.5), mean margin "
        f"{_figure(preference.get('margin_mean'))} ({preference.get('scored_by', '-')})")
    return {"dpo_job_id": job.job_id, "dpo_model_id": final.model_id,
            "dpo_preference": preference}


def _share(preference: dict[str, Any]) -> str:
    low, high = preference.get("wilson_95") or [None, None]
    return (f"{_figure(preference.get('pairwise_accuracy'))} on {preference.get('pairs', 0)} "
            f"pairs (95% interval {_figure(low)}-{_figure(high)})")


def _short(text: Any, width: int = 90) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[:width - 3] + "..."


def _figure(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"
