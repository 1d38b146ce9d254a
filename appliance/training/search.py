"""Hyperparameter search as a job kind: a small grid, chosen on validation, reported on test.

The grid is learning rate x epochs x LoRA rank (defaults bracket the recipe's learning rate). Every
trial trains on the train split and is scored on validation only; the winner alone is scored on
the test split, so the reported test score is not itself selected on. A search checkpoint carries
the finished trials and the best weights so far, so a resumed search continues where it stopped.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from appliance.errors import InvalidInput
from appliance.training.config import JobConfig
from appliance.training.engine import (
    Fit,
    Outcome,
    evaluate_split,
    final_metrics,
    fit_model,
    make_trainer,
    new_model,
    stop_status,
    with_extra_state,
)
from appliance.training.inputs import BaseModel
from appliance.training.modeling import weights_to_bytes
from appliance.training.prepare import Prepared
from appliance.training.recipe import Recipe, head_learning_rate
from appliance.training.trainer import (
    JobCallback,
    TrainHooks,
    load_trainable_weights,
    trainable_weights,
)


def run_search(
    config: JobConfig,
    prepared: Prepared,
    base: BaseModel,
    recipe: Recipe,
    hooks: TrainHooks,
    state: dict[str, Any] | None,
    scratch: Path,
) -> Outcome:
    """A small grid; each trial is judged on validation, and only the winner sees the test."""
    grid = search_grid(config, recipe)
    progress = _SearchProgress()
    if state is not None and "search" in state:
        progress.load(state["search"])
    task = prepared.task
    metric = f"validation_{task.selection_metric}"

    def extra() -> dict[str, Any]:
        return {
            "split_sha256": prepared.split["sha256"],
            "search_recipe": json.dumps(recipe.as_dict()),
            "search": progress.state_dict(),
        }

    start = progress.index
    for index in range(start, len(grid)):
        progress.index = index
        trial_recipe = grid[index]
        rank = (trial_recipe.lora or {}).get("r", "-")
        hooks.log(
            f"trial {index + 1}/{len(grid)}: lr {trial_recipe.learning_rate:g}, "
            f"epochs {trial_recipe.epochs:g}, lora r {rank}"
        )
        resuming = state is not None and index == start and "trainer_state" in state
        phase = f"trial {index + 1}/{len(grid)}"
        fit = fit_model(
            prepared,
            base,
            trial_recipe,
            with_extra_state(hooks, extra),
            state if resuming else None,
            scratch,
            phase=phase,
        )
        if fit.callback.stop_reason is not None:
            status = stop_status(fit.callback.stop_reason)
            return Outcome(
                status=status,
                reason=fit.callback.stop_reason,
                recipe=recipe.as_dict(),
                trials=progress.done,
            )
        score = fit.validation or evaluate_split(
            fit, prepared, prepared.validation, task.needs_predictions
        )
        value = float(score[task.selection_metric])
        progress.done.append(
            {
                "learning_rate": trial_recipe.learning_rate,
                "epochs": trial_recipe.epochs,
                "lora_r": (trial_recipe.lora or {}).get("r"),
                metric: value,
            }
        )
        hooks.log(f"trial {index + 1}: validation {task.selection_metric} {value:.4f}")
        if progress.best_index < 0 or _better(
            value, progress.done[progress.best_index][metric], task.greater_is_better
        ):
            progress.best_index, progress.best_weights = index, trainable_weights(fit.model)
        del fit
    progress.index = len(grid)
    best = (progress.best_index, progress.best_weights)
    assert best[1] is not None
    winner = grid[best[0]]
    hooks.log(f"best trial {best[0] + 1}: lr {winner.learning_rate:g}, epochs {winner.epochs:g}")
    model, spec = new_model(prepared, base, winner)
    load_trainable_weights(model, best[1])
    trainer = make_trainer(model, prepared, winner, TrainHooks(), None, scratch, None)
    fit = Fit(
        model,
        trainer,
        JobCallback(TrainHooks(), task.selection_metric, task.greater_is_better, 1),
        winner,
        spec,
    )
    metrics = final_metrics(fit, prepared, hooks)
    metrics["search"] = {"trials": progress.done, "best_trial": best[0]}
    return Outcome(
        status="succeeded",
        weights=weights_to_bytes(model, spec),
        spec=spec,
        metrics=metrics,
        recipe=winner.as_dict(),
        trials=progress.done,
    )


@dataclass
class _SearchProgress:
    """Finished trials and the best weights so far: what a search checkpoint adds."""

    index: int = 0
    done: list[dict[str, Any]] = field(default_factory=list)
    best_index: int = -1
    best_weights: dict[str, torch.Tensor] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "trials": json.dumps(self.done),
            "best_index": self.best_index,
            "best_weights": self.best_weights,
        }

    def load(self, saved: dict[str, Any]) -> None:
        self.index, self.done = int(saved["index"]), json.loads(saved["trials"])
        self.best_index, self.best_weights = int(saved["best_index"]), saved["best_weights"]


def _better(value: float, than: float, greater_is_better: bool) -> bool:
    return value > than if greater_is_better else value < than


def search_grid(config: JobConfig, recipe: Recipe) -> list[Recipe]:
    """Learning rates x epochs x LoRA ranks; defaults bracket the recipe's learning rate."""
    lrs = config.search_learning_rates or [
        recipe.learning_rate / 3,
        recipe.learning_rate,
        recipe.learning_rate * 2,
    ]
    epochs = config.search_epochs or [recipe.epochs]
    ranks: list[int | None] = [*config.search_lora_ranks] if config.search_lora_ranks else [None]
    if recipe.lora is None and any(r is not None for r in ranks):
        raise InvalidInput("search_lora_ranks needs method 'lora'")
    trials = list(itertools.product(lrs, epochs, ranks))
    budget = recipe.time_budget_s / len(trials) if recipe.time_budget_s else None
    grid = []
    for lr, n_epochs, rank in trials:
        lora = dict(recipe.lora) if recipe.lora else None
        if lora is not None and rank is not None:
            lora.update(r=rank, alpha=2.0 * rank)
        head_lr = head_learning_rate(lr) if recipe.head_learning_rate is not None else None
        grid.append(
            recipe.with_overrides(
                learning_rate=lr,
                head_learning_rate=head_lr,
                epochs=float(n_epochs),
                lora=lora,
                time_budget_s=budget,
                notes=[],
            )
        )
    return grid
