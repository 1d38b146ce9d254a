"""Kahneman–Tversky optimisation (KTO) of a causal LM with LoRA, on rated answers.

A rated record is one answer with a thumb or a score (``rated_examples``: desirable or not).
The loss (Ethayarajh et al., 2024, eq. 7; TRL's ``KTOTrainer`` with ``loss_type "kto"``, trl
1.16 ``trl/trainer/kto_trainer.py``), with ``r = log pi(y|x) - log ref(y|x)`` summed over the
answer's tokens, is

    desirable:    1 - sigmoid(beta * (r - z))
    undesirable:  1 - sigmoid(beta * (z - r))

with beta 0.1 and both weights 1 (TRL's defaults), averaged over the batch. ``z`` estimates the
KL divergence of the policy from the reference, as TRL does: on mismatched pairs (each prompt
with the next example's answer in the batch), ``mean(log pi - log ref)`` clamped at 0, without
gradient. The reference is the same model with its LoRA adapter disabled, as for DPO.

Held out, ``beta * r`` is the implicit reward; the test metrics give the share of answers whose
reward has their label's sign (``reward_accuracy``, with its Wilson interval) and the gap between
the classes' mean rewards. KTO examples carry no ``messages``: held-out generation would compare
answers with undesirable references, so the engine skips it and the memorization scan
(``evaluates_generation``).

This module stays light (no torch at import): the task registry imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from appliance.errors import InvalidInput
from appliance.training.tasks import Task, register_task
from appliance.training.tasks.dpo import BETA, answer_logps, encode_answer
from appliance.training.tasks.reward import pad_rows, tagged
from appliance.training.tasks.sft import IGNORE_INDEX, truncate

if TYPE_CHECKING:
    from appliance.training.config import JobConfig


@register_task("kto")
class KtoTask(Task):
    description = (
        "prompt + a rated answer (thumbs or scores) -> a causal LM tuned toward the desirable "
        "answers (KTO, LoRA; the reference is the base); held-out reward ranking"
    )
    model_kind = "causal"
    default_base_model = "smollm2-135m-instruct"
    selection_metric = "loss"
    greater_is_better = False
    eval_batch_size = 8
    evaluates_generation = False
    beta: float = BETA

    def to_examples(
        self, records: Sequence[dict[str, Any]], config: JobConfig, tag: str | None
    ) -> list[dict[str, Any]]:
        from appliance.training.tasks.preference_data import rated_examples

        if config.canaries:
            raise InvalidInput("canaries are inserted into SFT data; task 'kto' takes none")
        found = rated_examples(records, config)
        labels = {e["label"] for e in found}
        if labels != {True, False}:
            every = "desirable" if True in labels else "undesirable"
            raise InvalidInput("task 'kto' needs desirable and undesirable answers; these "
                               f"records rate every answer {every}")
        pairs = [{"prompt": e["prompt"], "chosen": e["completion"], "label": e["label"]}
                 for e in found]
        return [{"prompt": p["prompt"], "completion": p["chosen"], "label": p["label"]}
                for p in tagged(pairs, tag)]

    def stratify_key(self, example: dict[str, Any]) -> str | None:
        return "desirable" if example["label"] else "undesirable"

    def token_lengths(self, examples: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
        return [len(encode_answer(tokenizer, e["prompt"], e["completion"])[0]) for e in examples]

    def encode(
        self,
        examples: Sequence[dict[str, Any]],
        tokenizer: Any,
        max_length: int,
        labels: list[str],
    ) -> list[dict[str, Any]]:
        features = []
        for e in examples:
            ids, targets = truncate(*encode_answer(tokenizer, e["prompt"], e["completion"]),
                                    max_length)
            start = next(i for i, t in enumerate(targets) if t != IGNORE_INDEX)
            features.append({"input_ids": ids, "labels": targets, "answer_start": start,
                             "desirable": bool(e["label"])})
        return features

    def metrics(
        self, loss: float, predictions: Any, label_ids: Any, labels: list[str]
    ) -> dict[str, Any]:
        return {"loss": loss, **rated_metrics(predictions)}

    def eval_metrics(self, predictions: Any, label_ids: Any) -> dict[str, float]:
        found = rated_metrics(predictions)
        return {k: found[k] for k in ("reward_accuracy",) if k in found}

    def collator(
        self, pad_token_id: int, pad_to_multiple_of: int | None
    ) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
        return RatedCollator(pad_token_id, pad_to_multiple_of)

    def loss_function(self) -> Callable[[Any, dict[str, Any]], tuple[Any, Any]]:
        return partial(kto_loss, beta=self.beta)


class RatedCollator:
    """The batch's answers, then the mismatched ones (prompt i, answer i + 1) for the KL term."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        n = len(features)
        rows, targets = [f["input_ids"] for f in features], [f["labels"] for f in features]
        for i, f in enumerate(features):
            other = features[(i + 1) % n]
            cut = other["answer_start"]
            rows.append(f["input_ids"][: f["answer_start"]] + other["input_ids"][cut:])
            targets.append([IGNORE_INDEX] * f["answer_start"] + other["labels"][cut:])
        input_ids, attention_mask = pad_rows(rows, self.pad_token_id, self.pad_to_multiple_of)
        labels, _ = pad_rows(targets, IGNORE_INDEX, self.pad_to_multiple_of)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels,
                "desirable": torch.tensor([f["desirable"] for f in features])}


def kto_loss(model: Any, inputs: dict[str, Any], beta: float = BETA) -> tuple[Any, dict[str, Any]]:
    """The KTO loss of a batch (mean); the outputs are ``[batch, 2]``: each answer's implicit
    reward ``beta * r`` and whether it is desirable (1.0) or not (0.0)."""
    import torch

    n = int(inputs["desirable"].numel())
    matched = {k: inputs[k][:n] for k in ("input_ids", "attention_mask", "labels")}
    mismatched = {k: inputs[k][n:] for k in ("input_ids", "attention_mask", "labels")}
    policy = answer_logps(model, matched)
    with torch.no_grad():
        policy_kl = answer_logps(model, mismatched)
        with model.disable_adapter():
            reference = answer_logps(model, matched)
            reference_kl = answer_logps(model, mismatched)
    kl = (policy_kl - reference_kl).mean().clamp(min=0)
    ratio = policy - reference
    desirable = inputs["desirable"].to(torch.bool)
    losses = torch.where(desirable, 1 - torch.sigmoid(beta * (ratio - kl)),
                         1 - torch.sigmoid(beta * (kl - ratio)))
    rewards = torch.stack([beta * ratio.detach(), desirable.float()], dim=1)
    return losses.mean(), {"rewards": rewards}


def rated_metrics(predictions: Any) -> dict[str, Any]:
    """Held-out rated answers: the share whose implicit reward has their label's sign (above 0
    for a desirable answer, below for an undesirable one; 0 is a miss), its Wilson 95% interval
    (the answers are independent), and the gap between the classes' mean rewards."""
    import numpy as np

    from appliance.training.metrics import wilson_interval

    rows = np.asarray(predictions, dtype=float).reshape(-1, 2)
    n = int(rows.shape[0])
    if n == 0:
        return {"n": 0}
    desirable = rows[:, 1] > 0.5
    right = int(((rows[:, 0] > 0) == desirable).sum() - ((rows[:, 0] == 0) & ~desirable).sum())
    low, high = wilson_interval(right, n)
    good, bad = rows[desirable, 0], rows[~desirable, 0]
    gap = float(good.mean() - bad.mean()) if good.size and bad.size else None
    return {"n": n, "reward_accuracy": right / n, "wilson_95": [low, high],
            "margin_mean": gap, "desirable": int(good.size), "undesirable": int(bad.size)}
