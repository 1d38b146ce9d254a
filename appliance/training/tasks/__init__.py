"""Task kinds, registered in one place (STYLE.md, "From PEFT").

A task turns records into examples, examples into token features, and predictions into metrics; the
engine (:mod:`appliance.training.engine`) does the rest the same way for every task. A task
registers itself with :func:`register_task`, which refuses a malformed or duplicate name. This
module stays light (no torch): the job configuration validates task names through it.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from appliance.errors import InvalidInput

if TYPE_CHECKING:
    from appliance.training.config import JobConfig
    from appliance.training.trainer import Judge

TASK_NAME = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


class Task(ABC):
    """One kind of training: what an example is, which model fits it, how it is scored."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: "encoder": a text encoder with a new head; "causal": a causal LM trained on its own head.
    model_kind: ClassVar[Literal["encoder", "causal"]]
    #: The registered base model used when a job names none (None: the job must name one).
    default_base_model: ClassVar[str | None] = None
    #: Whether the job's ``pooling`` setting applies.
    uses_pooling: ClassVar[bool] = False
    #: The validation metric that picks the best epoch, and whether higher is better.
    selection_metric: ClassVar[str]
    greater_is_better: ClassVar[bool]
    #: Whether scoring needs the model's outputs (logits) or only the loss.
    needs_predictions: ClassVar[bool] = True
    #: Outputs of an encoder task's head: None for one per label, 1 for a scalar score.
    head_size: ClassVar[int | None] = None
    #: Whether a causal task's model also gets the held-out generation and the memorization
    #: scan (its examples then carry ``"messages"``, as SFT's do).
    evaluates_generation: ClassVar[bool] = True
    #: Examples per evaluation batch (None: 64, or the training batch when larger).
    eval_batch_size: ClassVar[int | None] = None
    #: Whether the task learns from a reward model's scores (the job's ``reward_model``,
    #: handed over through :meth:`use_judge` before training).
    needs_judge: ClassVar[bool] = False

    @abstractmethod
    def to_examples(
        self, records: Sequence[dict[str, Any]], config: JobConfig, tag: str | None
    ) -> list[dict[str, Any]]:
        """Check and extract each record's fields; prepend ``tag`` in multi-task jobs."""

    def stratify_key(self, example: dict[str, Any]) -> str | None:
        """The key a split is stratified on (None: not stratified)."""
        return None

    @abstractmethod
    def encode(
        self,
        examples: Sequence[dict[str, Any]],
        tokenizer: Any,
        max_length: int,
        labels: list[str],
    ) -> list[dict[str, Any]]:
        """Token features for the trainer (lists, padded later per batch)."""

    @abstractmethod
    def token_lengths(self, examples: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
        """Untruncated token count per example, for choosing ``max_length``."""

    def answer_lengths(self, examples: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
        """Token count of each example's answer (generative tasks; empty otherwise), for the
        generation limit of the held-out evaluation."""
        return []

    def label_names(self, examples: Sequence[dict[str, Any]]) -> list[str]:
        """The label vocabulary (empty for tasks without labels)."""
        return []

    @abstractmethod
    def metrics(
        self, loss: float, predictions: Any, label_ids: Any, labels: list[str]
    ) -> dict[str, Any]:
        """Scores on one split: the mean loss, and the outputs when ``needs_predictions``."""

    def eval_metrics(self, predictions: Any, label_ids: Any) -> dict[str, float]:
        """Each epoch's validation scores (the selection metric among them), from the outputs
        when ``needs_predictions``: by default the accuracy of the highest logit."""
        import numpy as np

        return {"accuracy": float((np.asarray(predictions).argmax(-1) == label_ids).mean())}

    # -- hooks for tasks whose batches are not one example per row -----------------------------

    def use_judge(self, judge: Judge) -> None:
        """Keep the reward model a ``needs_judge`` task scores its samples with."""
        raise InvalidInput(f"task '{self.name}' does not learn from a reward model")

    def collator(
        self, pad_token_id: int, pad_to_multiple_of: int | None
    ) -> Callable[[list[dict[str, Any]]], dict[str, Any]] | None:
        """The task's own batch collator (None: the engine pads ``input_ids``/``labels``)."""
        return None

    def loss_function(self) -> Callable[[Any, dict[str, Any]], tuple[Any, Any]] | None:
        """``(model, batch) -> (loss, outputs)`` when the loss is the task's, not the model's
        (None: the model's own loss). ``outputs`` maps names to tensors; evaluation gathers
        them as the predictions :meth:`metrics` and :meth:`eval_metrics` receive."""
        return None


TASKS: dict[str, type[Task]] = {}


def register_task(name: str) -> Callable[[type[Task]], type[Task]]:
    """Class decorator: add a task under ``name``, which must be new and well formed."""
    if not TASK_NAME.fullmatch(name):
        raise ValueError(f"task name {name!r} must match {TASK_NAME.pattern}")

    def add(cls: type[Task]) -> type[Task]:
        if name in TASKS and TASKS[name] is not cls:
            raise ValueError(f"task {name!r} is already registered by {TASKS[name].__qualname__}")
        cls.name = name
        TASKS[name] = cls
        return cls

    return add


def get_task(name: str) -> Task:
    """An instance of the registered task ``name``; an unknown name lists the known ones."""
    _load_builtin_tasks()
    try:
        return TASKS[name]()
    except KeyError:
        known = ", ".join(sorted(TASKS))
        raise InvalidInput(f"unknown task {name!r}; registered tasks: {known}") from None


def task_names() -> list[str]:
    _load_builtin_tasks()
    return sorted(TASKS)


def _load_builtin_tasks() -> None:
    # Imported here, not at the top, because each module registers itself on import.
    from appliance.training.tasks import (  # noqa: F401
        classification,
        dpo,
        kto,
        orpo,
        reward,
        rloo,
        sft,
    )
