"""The demo's SFT step: a small chat model tuned to answer tickets in our categories and tone.

The pairs come from the demo's own tickets: each ticket's text is the prompt, and the answer is
the one short reply of its category (:data:`REPLIES`), so exact match measures whether the model
routes a ticket, and ROUGE-L and chrF how close its wording is. The pairs are ingested like any
dataset (the ticket text redacted), approved by compliance, and fine-tuned with the recipe's
defaults under a short time budget on the bundled SmolLM2 (or a base the caller registers).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance import datasets as ds
from appliance.context import Context
from appliance.errors import NotFound
from appliance.gate import Principal
from appliance.training import jobs, models, registry
from appliance.training.tasks import get_task

#: Training time the recipe plans for; with model loads, evaluation and the memorization scan
#: the whole step takes a few minutes on two CPU cores.
DEMO_SFT_BUDGET_S = 90
#: Tickets in the SFT dataset, the first of each category in turn (a tenth is held out).
DEMO_SFT_RECORDS = 200
#: The name a caller's own base directory is registered under.
CUSTOM_BASE = "demo-sft-base"


def _reply(category: str, team: str) -> str:
    # One shape for every category: the model learns the tone once and the routing per ticket,
    # and the answer is long enough for the memorization scan's verbatim test (a held-back half).
    return (f"Category: {category}. Thank you for writing; our {team} will reply to you by the "
            "end of today.")


REPLIES: dict[str, str] = {
    "billing": _reply("billing", "payments team"),
    "technical": _reply("technical", "engineers"),
    "account": _reply("account", "account team"),
    "shipping": _reply("shipping", "delivery team"),
    "privacy": _reply("privacy", "data protection team"),
}
#: A new ticket, not in the data, for the one audited generation.
TRY_PROMPT = "My parcel was marked as delivered yesterday but nothing arrived, can you check?"

Say = Callable[[str], None]


def reply_pairs(
    tickets: list[dict[str, Any]], count: int = DEMO_SFT_RECORDS
) -> list[dict[str, str]]:
    """``{"ticket_id", "prompt", "response"}`` for ``count`` tickets, categories interleaved."""
    by_category: dict[str, list[dict[str, Any]]] = {}
    for ticket in tickets:
        by_category.setdefault(ticket["category"], []).append(ticket)
    pairs: list[dict[str, str]] = []
    queues = [list(v) for _, v in sorted(by_category.items())]
    while len(pairs) < count and any(queues):
        for queue in queues:
            if queue and len(pairs) < count:
                ticket = queue.pop(0)
                pairs.append({"ticket_id": ticket["ticket_id"], "prompt": ticket["text"],
                              "response": REPLIES[ticket["category"]]})
    return pairs


def fine_tune_replies(
    ctx: Context, people: dict[str, Principal], tickets: list[dict[str, Any]], say: Say,
    base_dir: Path | None = None,
) -> dict[str, Any]:
    """Ingest, approve, tune, score against the base, generate once; a summary for the tests."""
    started = time.monotonic()
    operator, compliance = people["olivia"], people["carol"]
    base = _choose_base(ctx, people, base_dir, say)
    if base is None:
        return {}
    pairs = reply_pairs(tickets)
    data = "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs).encode()
    result = ds.ingest_stream(
        ctx, operator, io.BytesIO(data), name="support-replies",
        source_name="support-replies.jsonl", fmt="jsonl",
        spec=ds.parse_spec({"task": "sft", "prompt_field": "prompt", "response_field": "response",
                            "keep_fields": ["ticket_id"]}),
        total_bytes=len(data))
    stored = ds.sample_records(ctx, compliance, result.dataset_id, 1)[0]
    say(f"stored {result.dataset_id}: {result.rows} ticket -> reply pairs, redacted at ingest:")
    say(f"  prompt:   {stored['prompt']}")
    say(f"  response: {stored['response']}")
    ds.approve_dataset(ctx, compliance, result.dataset_id, "replies checked; PII redacted")
    say(f"dataset {result.dataset_id} approved by carol")

    job = jobs.submit_job(ctx, operator, {
        "task": "sft", "dataset_ids": [result.dataset_id], "time_budget_s": DEMO_SFT_BUDGET_S,
        **({"base_model": base} if base_dir is not None else {})})
    say(f"job {job.job_id} queued on base {base} (defaults: LoRA, rate, epochs and lengths "
        f"chosen from the data and the base; {DEMO_SFT_BUDGET_S} s of training)")
    from appliance.demo.training_step import run_job

    final = run_job(ctx, job, say)
    assert final.model_id is not None
    trained = final.metrics.get("train", {})
    if trained.get("budget_stopped") and float(trained.get("epochs") or 0) < 1:
        say(f"  (the {DEMO_SFT_BUDGET_S} s budget ended training within the first epoch, "
            f"after {trained.get('steps')} steps: a busy machine; the figures below show "
            "little learning)")
    card = models.show_model(ctx, operator, final.model_id).card
    generation = card.get("metrics", {}).get("generation") or {}
    examples = models.read_generation_examples(ctx, operator, final.model_id)
    _show_generation(generation, examples, say)
    memorization = card.get("metrics", {}).get("memorization")
    _show_memorization(memorization, say)

    answer = models.generate(ctx, operator, final.model_id, TRY_PROMPT, 48)
    say("one generation through the audited path (model.generate: a policy decision and an "
        "audit event with hashes and token counts, never the text):")
    say(f"  ticket: {TRY_PROMPT}")
    say(f"  reply:  {answer}")
    seconds = round(time.monotonic() - started, 1)  # the summary's figure, printed as is
    say(f"the SFT step took {seconds:.0f} s (job {final.outcome()})")
    return {"sft_dataset_id": result.dataset_id, "sft_job_id": job.job_id,
            "sft_model_id": final.model_id, "sft_base": base, "sft_generation": generation,
            "sft_memorization": memorization, "sft_answer": answer,
            "sft_seconds": round(seconds, 1)}


def _choose_base(
    ctx: Context, people: dict[str, Principal], base_dir: Path | None, say: Say
) -> str | None:
    """The caller's directory, registered by the admin; else the task's default, if installed."""
    if base_dir is not None:
        info = registry.register_base_model(ctx, people["adam"], CUSTOM_BASE, base_dir)
        say(f"adam (admin) registered {info.path} as base {info.name} "
            f"(SHA-256 {info.sha256[:16]}...)")
        return info.name
    name = get_task("sft").default_base_model
    if name is None:
        say("(this build names no default base for sft; step skipped)")
        return None
    try:
        registry.get_base_model(ctx, name)  # the bundled model converts here at first use
    except NotFound as missing:
        say(f"(the bundled base is not installed here: {missing}; step skipped)")
        return None
    return name


def _show_generation(
    generation: dict[str, Any], examples: list[dict[str, Any]], say: Say
) -> None:
    if not generation:
        say("(this build's model card has no generation metrics)")
        return
    base = generation.get("base") or {}
    say(f"model card, greedy answers on {generation.get('n')} held-out tickets:")
    say(f"  {'':12} {'tuned':>7} {'base':>7}")
    for key in ("exact_match", "rouge_l", "chrf"):
        value, before = generation.get(key), base.get(key)
        say(f"  {key:12} {_figure(value):>7} {_figure(before):>7}")
    # the examples hold redacted ticket text: kept in the vault, read through the gate
    for example in examples[:1]:
        say(f"  e.g. ticket:    {example.get('prompt')}")
        say(f"       reference: {example.get('reference')}")
        say(f"       tuned:     {example.get('model')}")
        say(f"       base:      {example.get('base')}")


def _show_memorization(memorization: dict[str, Any] | None, say: Say) -> None:
    if not memorization:
        say("(no memorization scan in this build's model card)")
        return
    verbatim = memorization.get("verbatim", {})
    train, heldout = verbatim.get("train", {}), verbatim.get("heldout", {})
    say(f"memorization scan: {'FLAGGED' if memorization.get('flagged') else 'not flagged'}; "
        f"verbatim completions {_figure(train.get('rate'))} on training records, "
        f"{_figure(heldout.get('rate'))} on held-out ones (gap {_figure(verbatim.get('gap'))}; "
        "one reply per category is the same on both sides)")
    for reason in memorization.get("reasons", []):
        say(f"  reason: {reason}")


def _figure(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"
