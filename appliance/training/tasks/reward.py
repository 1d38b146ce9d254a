"""Reward models: a sequence classifier with one output scoring prompt + response, trained on
preference pairs with the Bradley–Terry loss.

For a pair whose chosen answer scores ``r_c`` and rejected answer ``r_r``, the loss is
``-log sigmoid(r_c - r_r)``: the negative log-likelihood of the preference under the
Bradley–Terry model (Bradley and Terry, 1952), as InstructGPT trains its reward model (Ouyang
et al., 2022) and TRL's ``RewardTrainer.compute_loss`` computes it (trl 1.16,
``trl/trainer/reward_trainer.py``, without its optional margin and centring terms). TRL's trainer
is not used itself: it is a training loop of its own, and a job keeps the engine's (budget clock,
encrypted checkpoints in the vault, audit); the task hands the engine its collator and loss.

Both answers of a pair go through the model in one batch (chosen rows first, then rejected), so
each step scores 2 x batch_size sequences. How prompt and answer become one sequence depends on
the base's tokenizer (:func:`encode_answer`): a chat template (a causal base) renders the prompt's
turns and the answer as the assistant's turn; an encoder (MiniLM) reads the prompt's text and the
answer as a sentence pair, cut from whichever is longer.

Records become pairs through :func:`.preference_data.preference_pairs` (pairwise and ranked
records; prompts as ``{role, content}`` turns).
This module stays light (no torch at import): the task registry imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from appliance.training.tasks import Task, register_task
from appliance.training.tasks.preference_data import preference_pairs
from appliance.training.tasks.sft import render, templated

if TYPE_CHECKING:
    from appliance.training.config import JobConfig

Message = dict[str, str]


class PairwiseScores:
    """Scores of a task whose predictions are (chosen, rejected) rewards per held-out pair."""

    #: How the card says the held-out pairs were scored.
    scored_by: ClassVar[str] = "the reward model"

    def metrics(
        self, loss: float, predictions: Any, label_ids: Any, labels: list[str]
    ) -> dict[str, Any]:
        from appliance.training.metrics import preference_metrics

        return {"loss": loss, **preference_metrics(predictions)}

    def eval_metrics(self, predictions: Any, label_ids: Any) -> dict[str, float]:
        from appliance.training.metrics import preference_metrics

        found = preference_metrics(predictions)
        return {k: found[k] for k in ("pairwise_accuracy", "margin_mean") if k in found}


@register_task("reward")
class RewardTask(PairwiseScores, Task):
    description = (
        "prompt + (chosen, rejected) pairs -> a reward model scoring answers (Bradley-Terry); "
        "held-out pairwise accuracy with its Wilson interval"
    )
    model_kind = "encoder"
    default_base_model = "minilm-l6"
    uses_pooling = True
    selection_metric = "pairwise_accuracy"
    greater_is_better = True
    #: One output, a score: no label vocabulary (the spec's labels are empty).
    head_size = 1

    def to_examples(
        self, records: Sequence[dict[str, Any]], config: JobConfig, tag: str | None
    ) -> list[dict[str, Any]]:
        return tagged(preference_pairs(records, config), tag)

    def token_lengths(self, examples: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
        return [
            max(len(encode_answer(tokenizer, e["prompt"], e[side], None))
                for side in ("chosen", "rejected"))
            for e in examples
        ]

    def encode(
        self,
        examples: Sequence[dict[str, Any]],
        tokenizer: Any,
        max_length: int,
        labels: list[str],
    ) -> list[dict[str, Any]]:
        return [
            {
                "input_ids": encode_answer(tokenizer, e["prompt"], e["chosen"], max_length),
                "rejected_input_ids": encode_answer(
                    tokenizer, e["prompt"], e["rejected"], max_length
                ),
                "labels": 0,  # a placeholder: the trainer evaluates batches that have labels
            }
            for e in examples
        ]

    def collator(
        self, pad_token_id: int, pad_to_multiple_of: int | None
    ) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
        return PairCollator(pad_token_id, pad_to_multiple_of)

    def loss_function(self) -> Callable[[Any, dict[str, Any]], tuple[Any, Any]]:
        return bradley_terry_loss


# -- records -> pairs ----------------------------------------------------------------------------


def prompt_turns(value: Any) -> list[Message] | None:
    """A prompt to score as turns (:func:`.preference_shapes.prompt_turns`), which must end with
    the user's turn: the answer scored is the assistant's reply to it."""
    from appliance.datasets.preference_shapes import prompt_turns as turns_of

    turns = turns_of(value)
    return turns if turns and turns[-1]["role"] == "user" else None


def tagged(pairs: list[dict[str, Any]], tag: str | None) -> list[dict[str, Any]]:
    """In a multi-task job, the tag goes before the first user turn's text (as SFT's does)."""
    if not tag:
        return pairs
    out = []
    for pair in pairs:
        turns = [dict(t) for t in pair["prompt"]]
        first = next(i for i, t in enumerate(turns) if t["role"] == "user")
        turns[first]["content"] = f"[{tag}] {turns[first]['content']}"
        out.append({**pair, "prompt": turns})
    return out


# -- pairs -> tokens -----------------------------------------------------------------------------


def prompt_text(turns: Sequence[Message]) -> str:
    """The prompt as plain text for an encoder: a lone user turn as it is, else one
    ``role: content`` line per turn."""
    if len(turns) == 1 and turns[0]["role"] == "user":
        return turns[0]["content"]
    return "\n".join(f"{t['role']}: {t['content']}" for t in turns)


def encode_answer(
    tokenizer: Any, turns: Sequence[Message], answer: str, max_length: int | None
) -> list[int]:
    """Token ids of a prompt and an answer as the reward model reads them (training and
    scoring alike); ``max_length`` None: untruncated.

    - a chat template: the chat with the answer as the assistant's turn, cut from the left
      (a causal base pools its last token, which must stay);
    - an encoder (a separator token): the prompt and the answer as a sentence pair, the longer
      of the two cut first;
    - otherwise: prompt, a newline and the answer, then EOS, cut from the left.
    """
    if templated(tokenizer):
        chat = [*turns, {"role": "assistant", "content": answer}]
        ids = list(tokenizer(render(tokenizer, chat, False), add_special_tokens=False)["input_ids"])
        return ids[-max_length:] if max_length else ids
    if getattr(tokenizer, "sep_token", None) is not None:
        options: dict[str, Any] = (
            {"truncation": "longest_first", "max_length": max_length} if max_length else {}
        )
        return list(tokenizer(prompt_text(turns), answer, **options)["input_ids"])
    ids = list(tokenizer(prompt_text(turns) + "\n" + answer)["input_ids"])
    if tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    return ids[-max_length:] if max_length else ids


# -- batches and the loss (torch, imported when training) ---------------------------------------


class PairCollator:
    """A batch of pairs as one padded batch of sequences: the chosen answers' rows, then the
    rejected answers' (so ``scores.chunk(2)`` splits them)."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        rows = [f["input_ids"] for f in features] + [f["rejected_input_ids"] for f in features]
        input_ids, attention_mask = pad_rows(rows, self.pad_token_id, self.pad_to_multiple_of)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "labels": torch.zeros(len(features), dtype=torch.long),
        }


def pad_rows(
    rows: Sequence[Sequence[int]], pad_value: int, multiple: int | None = None
) -> tuple[Any, Any]:
    """Right-padded ``[len(rows), longest]`` ids and their attention mask."""
    import torch

    longest = max(len(r) for r in rows)
    if multiple:
        longest = (longest + multiple - 1) // multiple * multiple
    ids = torch.full((len(rows), longest), pad_value, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(list(row), dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def bradley_terry_loss(model: Any, inputs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``-log sigmoid(r_chosen - r_rejected)``, the batch's mean (TRL's ``RewardTrainer``);
    the outputs are the pairs' scores, ``[batch, 2]`` (chosen, rejected)."""
    import torch
    from torch.nn.functional import logsigmoid

    logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    chosen, rejected = logits[:, 0].float().chunk(2)
    loss = -logsigmoid(chosen - rejected).mean()
    return loss, {"scores": torch.stack([chosen, rejected], dim=1).detach()}
