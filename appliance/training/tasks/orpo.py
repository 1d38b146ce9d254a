"""ORPO (odds ratio preference optimisation) of a causal LM on preference pairs: SFT and a
preference in one loss, with no reference model.

The loss of a pair (Hong et al., 2024, "ORPO: Monolithic Preference Optimization without
Reference Model", eqs. 4-7; TRL's ``ORPOTrainer``, trl 1.16 ``trl/experimental/orpo``) is

    NLL(chosen) - lambda * log sigmoid(log odds(y_c|x) - log odds(y_r|x))

where ``log odds(y|x) = log p - log(1 - p)`` with ``log p`` the answer's *mean* token
log-probability, the NLL is the chosen answers' token-mean cross-entropy, and ``lambda``
:data:`LAMBDA` 0.1 (TRL's ``beta`` default). The implicit reward of an answer is ``lambda * log
p``: held out, the share of pairs whose chosen answer gets the higher one is the reward accuracy,
as TRL logs it.

TRL 1.16 ships ORPO under ``trl.experimental`` only, so, as for the other tasks, the formula is
taken and the engine's loop kept. Examples, encoding and batches are DPO's
(:class:`.dpo.DpoTask`); without a reference the method may be ``full`` as well as LoRA.

This module stays light (no torch at import): the task registry imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appliance.training.tasks import register_task
from appliance.training.tasks.dpo import DpoTask

#: Weight of the odds-ratio term against the NLL (the paper's lambda, TRL's ``beta``).
LAMBDA = 0.1


@register_task("orpo")
class OrpoTask(DpoTask):
    description = (
        "prompt + (chosen, rejected) pairs -> a causal LM tuned toward the chosen answers "
        "(ORPO: SFT plus an odds-ratio term, no reference model); held-out reward accuracy"
    )
    beta = LAMBDA
    scored_by = f"implicit reward, lambda {LAMBDA:g} x mean token log-probability (no reference)"

    def loss_function(self) -> Callable[[Any, dict[str, Any]], tuple[Any, Any]]:
        return orpo_loss


def orpo_loss(model: Any, inputs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The batch's ORPO loss; outputs the pairs' implicit rewards ``[batch, 2]``."""
    import torch
    from torch.nn.functional import logsigmoid

    from appliance.training.tasks.dpo import answer_logps
    from appliance.training.tasks.sft import IGNORE_INDEX

    totals = answer_logps(model, inputs)
    tokens = (inputs["labels"][:, 1:] != IGNORE_INDEX).sum(dim=-1).clamp(min=1)
    mean = totals / tokens
    chosen, rejected = mean.chunk(2)
    chosen_total, _ = totals.chunk(2)
    chosen_tokens, _ = tokens.chunk(2)
    nll = -chosen_total.sum() / chosen_tokens.sum()  # token-mean, as TRL's cross-entropy
    log_odds = (chosen - rejected) - (log1mexp(chosen) - log1mexp(rejected))
    loss = nll - LAMBDA * logsigmoid(log_odds).mean()
    rewards = torch.stack([LAMBDA * chosen, LAMBDA * rejected], dim=1).detach()
    return loss, {"rewards": rewards}


def log1mexp(x: Any) -> Any:
    """``log(1 - exp(x))`` for ``x < 0``, stable at both ends (Maechler, 2012), as TRL's."""
    import math

    import torch

    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))
