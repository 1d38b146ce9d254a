"""Reinforcement learning from a reward model: RLOO (REINFORCE leave-one-out) with a KL penalty.

Each step samples :data:`SAMPLES` answers per prompt from the policy (temperature 1), scores
each with a trained reward model (task ``reward``, the job's ``reward_model``), and follows
TRL's ``RLOOTrainer`` (trl 1.16, ``trl/trainer/rloo_trainer.py``; Ahmadian et al., 2024, "Back
to Basics: Revisiting REINFORCE Style Optimization for Learning from Human Feedback in LLMs"):

- the KL penalty enters the reward, per sequence: ``r - beta * sum_t (log pi - log ref)`` over
  the answer's tokens (the first-order log ratio the RLOO paper uses), ``beta``
  :data:`KL_BETA` (TRL's default);
- the baseline of an answer is the mean shaped reward of the other ``K - 1`` answers to the
  same prompt; its advantage is the difference (no normalisation: TRL's default);
- the loss is ``-exp(log pi - log pi_old) * advantage`` per sequence, averaged. One update per
  batch of samples, so ``pi_old`` is the policy itself: the ratio is 1 and the clipping of TRL's
  several-updates case never acts; the gradient is REINFORCE's, ``-advantage * grad log pi``.

The reference ``ref`` is the base with the LoRA adapter disabled (as for DPO: no second copy of
the model). Held out (validation each epoch, and the test split), the policy and the reference
answer each prompt greedily, the reward model scores both: the tuned model's *win rate* against
its reference (a tie counts half), the mean rewards, and the KL of the policy's own answer to the
reference (``log pi - log ref`` summed over it, nats).

TRL's trainer loop is not used, as for the other tasks: the engine's keeps the budget clock, the
vault checkpoints and the audit; this task gives it the rollout collator and the loss, and the
reward model comes from the job layer (decrypted through the gate, :class:`.trainer.Judge`).
Prompts come from any dataset that has them (:func:`.preference_data.rl_prompts`): a
preference dataset's, an SFT dataset's, or a prompts-only one.

This module stays light (no torch at import): the task registry imports it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from appliance.errors import InvalidInput
from appliance.training.tasks import Task, register_task
from appliance.training.tasks.preference_data import rl_prompts
from appliance.training.tasks.reward import pad_rows, tagged
from appliance.training.tasks.sft import IGNORE_INDEX

if TYPE_CHECKING:
    from appliance.training.config import JobConfig
    from appliance.training.trainer import Judge

#: Answers sampled per prompt each step (TRL's ``num_generations`` defaults to 2; 4 gives each
#: answer a baseline of 3 others at twice the generation cost).
SAMPLES = 4
#: The KL coefficient (TRL's ``beta`` default).
KL_BETA = 0.05
#: Sampling temperature of the rollouts (TRL's default); held-out answers are greedy.
TEMPERATURE = 1.0
#: Tokens per sampled answer when the job sets no ``max_new_tokens``: generation is most of a
#: step's time on a CPU.
ROLLOUT_TOKENS = 48


@register_task("rloo")
class RlooTask(Task):
    description = (
        "prompts -> a causal LM tuned toward a reward model's scores (RLOO: sampled answers, "
        "leave-one-out baseline, KL penalty to the base; LoRA); held-out win rate and KL"
    )
    model_kind = "causal"
    default_base_model = "smollm2-135m-instruct"
    selection_metric = "reward_mean"
    greater_is_better = True
    #: No reference answers to compare generations with, and no record text is ever a
    #: training target (the policy learns from its own samples): no memorization scan.
    evaluates_generation = False
    needs_judge = True
    #: Each held-out prompt is answered twice (policy, reference) and scored.
    eval_batch_size = 16

    def __init__(self) -> None:
        self.samples = SAMPLES
        self.beta = KL_BETA
        self.max_new_tokens = ROLLOUT_TOKENS
        self.tokenizer: Any = None
        self.judge: Judge | None = None

    def use_judge(self, judge: Judge) -> None:
        self.judge = judge

    def to_examples(
        self, records: Sequence[dict[str, Any]], config: JobConfig, tag: str | None
    ) -> list[dict[str, Any]]:
        if config.canaries:
            raise InvalidInput("canaries are inserted into SFT data; task 'rloo' takes none")
        self.samples = config.samples_per_prompt or SAMPLES
        self.beta = KL_BETA if config.kl_beta is None else config.kl_beta
        self.max_new_tokens = config.max_new_tokens or ROLLOUT_TOKENS
        pairs = [{"prompt": turns} for turns in rl_prompts(records, config)]
        return tagged(pairs, tag)

    def token_lengths(self, examples: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
        from appliance.training.generation import prompt_ids

        return [len(prompt_ids(tokenizer, e["prompt"])) for e in examples]

    def encode(
        self,
        examples: Sequence[dict[str, Any]],
        tokenizer: Any,
        max_length: int,
        labels: list[str],
    ) -> list[dict[str, Any]]:
        from appliance.training.generation import prompt_ids

        self.tokenizer = tokenizer  # the loss decodes the answers it samples for the judge
        return [
            {
                "input_ids": prompt_ids(tokenizer, e["prompt"])[-max_length:],
                "turns": json.dumps(e["prompt"]),
                "labels": 0,  # a placeholder: the trainer evaluates batches that have labels
            }
            for e in examples
        ]

    def collator(
        self, pad_token_id: int, pad_to_multiple_of: int | None
    ) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
        return rollout_batch

    def loss_function(self) -> Callable[[Any, dict[str, Any]], tuple[Any, Any]]:
        return partial(rloo_loss, task=self)

    def metrics(
        self, loss: float, predictions: Any, label_ids: Any, labels: list[str]
    ) -> dict[str, Any]:
        from appliance.training.metrics import rl_metrics

        return {"loss": loss, **rl_metrics(predictions)}

    def eval_metrics(self, predictions: Any, label_ids: Any) -> dict[str, float]:
        from appliance.training.metrics import rl_metrics

        found = rl_metrics(predictions)
        return {k: found[k] for k in ("reward_mean", "win_rate", "kl_mean") if k in found}

    # -- used by the loss ----------------------------------------------------------------------

    def scores(self, turns: Sequence[list[dict[str, str]]], answers: Sequence[list[int]]) -> Any:
        """The reward model's score of each (prompt, answer tokens), as a float tensor."""
        import torch

        if self.judge is None:
            raise InvalidInput("task 'rloo' needs a reward model: set reward_model to the id "
                               "of a trained 'reward' model")
        texts = [str(self.tokenizer.decode(a, skip_special_tokens=True)).strip() for a in answers]
        return torch.tensor(self.judge.score(list(zip(turns, texts, strict=True))),
                            dtype=torch.float32)


def rollout_batch(features: list[dict[str, Any]]) -> dict[str, Any]:
    """Prompts as token lists (the loss generates from them) and their turns; ``labels`` first,
    the one tensor the trainer sizes a batch by."""
    import torch

    return {
        "labels": torch.zeros(len(features), dtype=torch.long),
        "prompts": [list(f["input_ids"]) for f in features],
        "turns": [json.loads(f["turns"]) for f in features],
    }


def answer_batch(prompts: Sequence[list[int]], answers: Sequence[list[int]], pad: int,
                 device: Any) -> dict[str, Any]:
    """Prompt + answer rows, right-padded, labelled on the answer's tokens only, on ``device``."""
    rows = [p + a for p, a in zip(prompts, answers, strict=True)]
    targets = [[IGNORE_INDEX] * len(p) + a for p, a in zip(prompts, answers, strict=True)]
    input_ids, attention_mask = pad_rows(rows, pad)
    labels, _ = pad_rows(targets, IGNORE_INDEX)
    return {"input_ids": input_ids.to(device), "attention_mask": attention_mask.to(device),
            "labels": labels.to(device)}


def rloo_loss(model: Any, inputs: dict[str, Any], task: RlooTask) -> tuple[Any, dict[str, Any]]:
    """Training: one RLOO update on fresh samples (the outputs' ``log`` holds the batch's mean
    reward and KL for the job's log). Evaluation: greedy answers of policy and reference, scored;
    the outputs are ``[batch, 3]``: policy reward, reference reward, KL."""
    import torch

    from appliance.training.generation import GenerationOptions, generate_ids
    from appliance.training.tasks.dpo import policy_and_reference

    if not model.training:
        return _heldout(model, inputs, task)
    k = task.samples
    device = _device(model)
    prompts = [p for p in inputs["prompts"] for _ in range(k)]
    turns = [t for t in inputs["turns"] for _ in range(k)]
    sampling = GenerationOptions(max_new_tokens=task.max_new_tokens, temperature=TEMPERATURE)
    answers = generate_ids(model, task.tokenizer, prompts, sampling, batch_size=len(prompts))
    rewards = task.scores(turns, answers).to(device)
    policy, reference = policy_and_reference(
        model, answer_batch(prompts, answers, int(task.tokenizer.pad_token_id), device))
    kl = policy.detach() - reference
    shaped = (rewards - task.beta * kl).view(-1, k)
    baseline = (shaped.sum(dim=1, keepdim=True) - shaped) / (k - 1)
    advantages = (shaped - baseline).reshape(-1)
    ratio = torch.exp(policy - policy.detach())  # pi / pi_old, 1 in value
    loss = -(ratio * advantages).mean()
    return loss, {"log": {"reward": float(rewards.mean()), "kl": float(kl.mean())}}


def _heldout(model: Any, inputs: dict[str, Any], task: RlooTask) -> tuple[Any, dict[str, Any]]:
    import torch

    from appliance.training.generation import GenerationOptions, generate_ids
    from appliance.training.tasks.dpo import policy_and_reference

    prompts, turns = inputs["prompts"], inputs["turns"]
    device = _device(model)
    greedy = GenerationOptions(max_new_tokens=task.max_new_tokens)
    size = len(prompts)
    mine = generate_ids(model, task.tokenizer, prompts, greedy, batch_size=size)
    with model.disable_adapter():
        theirs = generate_ids(model, task.tokenizer, prompts, greedy, batch_size=size)
    scores = task.scores([*turns, *turns], [*mine, *theirs]).to(device)
    policy, reference = policy_and_reference(
        model, answer_batch(prompts, mine, int(task.tokenizer.pad_token_id), device))
    own, base = scores[:size], scores[size:]
    return -own.mean(), {"scores": torch.stack([own, base, policy - reference], dim=1)}


def _device(model: Any) -> Any:
    return next(model.parameters()).device
