"""Direct preference optimisation (DPO) of a causal LM with LoRA, on preference pairs.

The loss of a pair (Rafailov et al., 2023, eq. 7; TRL's ``DPOTrainer`` with ``loss_type
"sigmoid"``, trl 1.16 ``trl/trainer/dpo_trainer.py``) is

    -log sigmoid(beta * ((log pi(y_c|x) - log ref(y_c|x)) - (log pi(y_r|x) - log ref(y_r|x))))

with ``beta`` 0.1 (TRL's default), where a log-probability is the sum over the answer's tokens
only (the prompt's tokens add nothing; the answer's end-of-turn token is learned, as in SFT).
The reference ``ref`` is the same model with its LoRA adapter disabled (``with
model.disable_adapter():``, what TRL does for a new PEFT adapter), so no second copy of the
base is held in memory; DPO therefore trains LoRA only. ``beta * (log pi - log ref)`` of an
answer is its implicit reward: held out, the share of pairs whose chosen answer gets the higher
one is the reward accuracy, and its mean lead the margin (TRL's ``rewards/accuracies`` and
``rewards/margins``).

As with :mod:`.reward`, TRL's trainer loop is not used: the engine's keeps the budget clock, the
vault checkpoints and the audit; this task gives it the pair collator and the loss. Each example
also carries ``messages`` (the prompt and the chosen answer), so the engine's held-out
generation compares the tuned model's answers with the chosen ones, and the memorization scan
reads the chosen answers as SFT's.

This module stays light (no torch at import): the task registry imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from appliance.errors import InvalidInput
from appliance.training.tasks import Task, register_task
from appliance.training.tasks.preference_data import preference_pairs
from appliance.training.tasks.reward import PairwiseScores, pad_rows, tagged
from appliance.training.tasks.sft import IGNORE_INDEX, encode_chat, truncate

if TYPE_CHECKING:
    from appliance.training.config import JobConfig

#: DPO's temperature: how far from the reference the implicit reward lets the policy move.
BETA = 0.1


@register_task("dpo")
class DpoTask(PairwiseScores, Task):
    description = (
        "prompt + (chosen, rejected) pairs -> a causal LM tuned toward the chosen answers "
        "(DPO, LoRA; the reference is the base); held-out reward accuracy and margin"
    )
    model_kind = "causal"
    default_base_model = "smollm2-135m-instruct"
    selection_metric = "loss"
    greater_is_better = False
    #: A pair is two sequences, each with its logits over the answer: 64 of them at once would
    #: take gigabytes for a 49k-token vocabulary.
    eval_batch_size = 8
    beta: float = BETA
    scored_by = f"implicit reward, beta {BETA:g} (the adapter against the base)"

    def to_examples(
        self, records: Sequence[dict[str, Any]], config: JobConfig, tag: str | None
    ) -> list[dict[str, Any]]:
        if config.canaries:
            raise InvalidInput(f"canaries are inserted into SFT data; task '{self.name}' takes "
                               "none")
        return [
            {**pair, "messages": [*pair["prompt"], assistant(pair["chosen"])]}
            for pair in tagged(preference_pairs(records, config), tag)
        ]

    def token_lengths(self, examples: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
        return [
            max(len(encode_answer(tokenizer, e["prompt"], e[side])[0])
                for side in ("chosen", "rejected"))
            for e in examples
        ]

    def answer_lengths(self, examples: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
        if not examples:
            return []
        batch = tokenizer([e["chosen"] for e in examples], add_special_tokens=False)["input_ids"]
        return [len(ids) + 1 for ids in batch]  # and the end-of-turn token

    def encode(
        self,
        examples: Sequence[dict[str, Any]],
        tokenizer: Any,
        max_length: int,
        labels: list[str],
    ) -> list[dict[str, Any]]:
        features = []
        for e in examples:
            chosen = truncate(*encode_answer(tokenizer, e["prompt"], e["chosen"]), max_length)
            rejected = truncate(*encode_answer(tokenizer, e["prompt"], e["rejected"]), max_length)
            features.append({
                "input_ids": chosen[0],
                "labels": chosen[1],
                "rejected_input_ids": rejected[0],
                "rejected_labels": rejected[1],
            })
        return features

    def collator(
        self, pad_token_id: int, pad_to_multiple_of: int | None
    ) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
        return LabelledPairCollator(pad_token_id, pad_to_multiple_of)

    def loss_function(self) -> Callable[[Any, dict[str, Any]], tuple[Any, Any]]:
        return partial(dpo_loss, beta=self.beta)


def assistant(content: str) -> dict[str, str]:
    return {"role": "assistant", "content": content}


def encode_answer(tokenizer: Any, turns: Sequence[dict[str, str]], answer: str
                  ) -> tuple[list[int], list[int]]:
    """The chat (prompt turns, then the answer as the assistant's) as SFT encodes it, with
    labels on the final answer's tokens only: assistant turns inside the prompt are context."""
    ids, labels = encode_chat(tokenizer, [*turns, assistant(answer)])
    start = len(labels)
    while start > 0 and labels[start - 1] != IGNORE_INDEX:
        start -= 1  # the last run of learned tokens: the final answer
    return ids, [IGNORE_INDEX] * start + labels[start:]


class LabelledPairCollator:
    """Chosen rows, then rejected rows, with their labels (-100 outside the answers)."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        rows = [f["input_ids"] for f in features] + [f["rejected_input_ids"] for f in features]
        targets = [f["labels"] for f in features] + [f["rejected_labels"] for f in features]
        input_ids, attention_mask = pad_rows(rows, self.pad_token_id, self.pad_to_multiple_of)
        labels, _ = pad_rows(targets, IGNORE_INDEX, self.pad_to_multiple_of)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def answer_logps(model: Any, inputs: dict[str, Any]) -> Any:
    """Each row's summed log-probability of its labelled tokens; logits only at the positions
    that predict one in some row (the LM head over every prompt token is most of the cost)."""
    import torch

    labels = inputs["labels"]
    targets = labels[:, 1:]  # position t predicts token t + 1
    learned = targets != IGNORE_INDEX
    keep = learned.any(dim=0).nonzero().squeeze(-1)
    if keep.numel() == 0:
        keep = torch.tensor([targets.size(1) - 1], device=labels.device)
    from appliance.training.trainer import supports_logits_to_keep

    features = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
    if supports_logits_to_keep(model):
        logits = model(**features, logits_to_keep=keep).logits.float()
    else:
        logits = model(**features).logits[:, keep].float()
    kept_targets = targets[:, keep]
    kept_mask = learned[:, keep]
    token_logps = torch.log_softmax(logits, dim=-1).gather(
        -1, kept_targets.clamp(min=0).unsqueeze(-1)
    ).squeeze(-1)
    return (token_logps * kept_mask).sum(dim=-1)


def policy_and_reference(model: Any, inputs: dict[str, Any]) -> tuple[Any, Any]:
    """:func:`answer_logps` under the policy (with its gradient) and under the reference: the
    same model with its LoRA adapter disabled, without gradient (no second copy in memory)."""
    import torch

    policy = answer_logps(model, inputs)
    with torch.no_grad(), model.disable_adapter():
        reference = answer_logps(model, inputs)
    return policy, reference


def dpo_loss(model: Any, inputs: dict[str, Any], beta: float = BETA) -> tuple[Any, dict[str, Any]]:
    """The sigmoid DPO loss of a batch of pairs (mean); the outputs are the pairs' implicit
    rewards ``beta * log(pi / ref)``, ``[batch, 2]`` (chosen, rejected)."""
    import torch
    from torch.nn.functional import logsigmoid

    policy, reference = policy_and_reference(model, inputs)
    chosen, rejected = (beta * (policy - reference)).chunk(2)
    loss = -logsigmoid(chosen - rejected).mean()
    return loss, {"rewards": torch.stack([chosen, rejected], dim=1).detach()}
