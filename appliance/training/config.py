"""A training job's configuration: one validated pydantic model, saved with the job.

Modelled on PEFT's ``LoraConfig``: every field carries help text, closed choices are ``Literal``s,
and incompatible combinations are refused when the object is built, not half-way through a run.
A hyperparameter left as ``None`` is chosen by the recipe (:mod:`appliance.training.recipe`) from
the base model, the task and the data; the values actually used are recorded with the job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from appliance.errors import InvalidInput

JobKind = Literal["train", "search"]
Method = Literal["auto", "lora", "full"]
Pooling = Literal["auto", "mean", "cls", "last"]
DeviceChoice = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
Quantization = Literal["auto", "none", "4bit"]

#: Fields that only make sense for LoRA; setting one with ``method="full"`` is an error.
LORA_FIELDS = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")


class JobConfig(BaseModel):
    """What to train, on what, and how. ``None`` means "let the recipe choose"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # What
    kind: JobKind = Field("train", description="'train' one model, or 'search' a small grid.")
    task: str = Field(..., description="Task kind, a name registered in the task registry.")
    dataset_ids: list[str] = Field(
        ..., min_length=1, description="Approved datasets to train on (several: multi-task)."
    )
    dataset_weights: list[float] | None = Field(
        None, description="Sampling weight per dataset in a multi-task job (default: by size)."
    )
    task_tags: list[str] | None = Field(
        None, description="Tag prepended to each input per dataset (default: the dataset names)."
    )
    base_model: str | None = Field(
        None, description="Registered base model name (default: the task's default base)."
    )
    text_field: str = Field("text", description="Record field holding the input text.")
    label_field: str = Field("label", description="Record field holding the class label.")
    prompt_field: str = Field(
        "prompt", description="Record field holding the prompt (SFT and preference tasks)."
    )
    response_field: str = Field("response", description="Record field holding the SFT response.")

    messages_field: str = Field(
        "messages",
        description="Record field holding a chat (a list of {role, content} turns); SFT uses it "
        "when a record has it, else prompt_field/response_field.",
    )
    # Preference data (tasks reward, dpo, kto): the prompt is prompt_field (a string, or a list
    # of {role, content} turns), with one of three shapes of answers.
    chosen_field: str = Field(
        "chosen", description="Record field holding the preferred answer of a pairwise record."
    )
    rejected_field: str = Field(
        "rejected", description="Record field holding the worse answer of a pairwise record."
    )
    responses_field: str = Field(
        "responses", description="Record field holding a ranked record's answers (a list)."
    )
    ranking_field: str = Field(
        "ranking",
        description="Record field holding a ranked record's order: indices into its responses, "
        "best first.",
    )
    rating_field: str = Field(
        "rating",
        description="Record field holding a rated record's judgement of its response_field "
        "answer (true/false, 'up'/'down', or a number).",
    )
    # Learning from a reward model (task rloo; any generative task, to judge its answers)
    reward_model: str | None = Field(
        None,
        pattern=r"^mdl_[A-Za-z0-9_-]{1,64}$",
        description="A trained 'reward' model (mdl_...): task 'rloo' learns from its scores; "
        "for SFT and DPO it judges the held-out answers against the base's (win rate).",
    )
    samples_per_prompt: int | None = Field(
        None, ge=2, le=16, description="Answers sampled per prompt each RL step (default 4)."
    )
    kl_beta: float | None = Field(
        None, ge=0, le=10, description="KL penalty coefficient of RL to the base (default 0.05)."
    )
    # How
    method: Method = Field("auto", description="'lora' adapters, 'full' fine-tuning, or 'auto'.")
    learning_rate: float | None = Field(None, gt=0, lt=1, description="Peak learning rate.")
    batch_size: int | None = Field(None, ge=1, le=4096, description="Examples per device step.")
    epochs: float | None = Field(None, gt=0, le=1000, description="Passes over the train split.")
    max_length: int | None = Field(
        None, ge=8, le=32768, description="Token limit per example (default: from the data)."
    )
    warmup_ratio: float | None = Field(
        None, ge=0, lt=1, description="Fraction of steps spent warming up the learning rate."
    )
    weight_decay: float | None = Field(None, ge=0, lt=1, description="AdamW weight decay.")
    gradient_accumulation_steps: int = Field(
        1, ge=1, le=1024, description="Micro-batches accumulated per optimizer step."
    )
    seed: int = Field(42, ge=0, description="Seed for initialisation, shuffling and dropout.")
    lora_r: int | None = Field(None, ge=1, le=1024, description="LoRA rank.")
    lora_alpha: float | None = Field(None, gt=0, description="LoRA scaling numerator (alpha/r).")
    lora_dropout: float | None = Field(None, ge=0, lt=1, description="Dropout on LoRA inputs.")
    lora_target_modules: list[str] | None = Field(
        None, min_length=1, description="Module names to adapt (default: per architecture)."
    )
    pooling: Pooling = Field(
        "auto", description="Sentence pooling for classification ('auto': the base's own)."
    )
    group_by_length: bool = Field(
        True, description="Batch examples of similar length together (less padding, faster)."
    )
    early_stopping_patience: int | None = Field(
        None, ge=1, description="Evaluations without improvement before stopping (default: 2)."
    )
    time_budget_s: float | None = Field(
        None, gt=0, description="Training time the recipe plans epochs for (default on CPU: 7 min)."
    )

    quantization: Quantization = Field(
        "auto",
        description="'4bit' QLoRA (CUDA, bitsandbytes), 'none', or 'auto': 4-bit only when a "
        "causal base does not fit the GPU in bf16.",
    )
    gradient_checkpointing: bool | None = Field(
        None, description="Recompute activations to save memory (default: for large bases)."
    )

    # Evaluation and memorization (causal LMs)
    eval_generations: int = Field(
        500,
        ge=0,
        le=100_000,
        description="Held-out examples the model (and the base, for comparison) answers by "
        "greedy generation after training; 0 turns generation metrics off.",
    )
    compare_base: bool = Field(
        True, description="Also score the untuned base on the same prompts, in the same run."
    )
    max_new_tokens: int | None = Field(
        None, ge=1, le=4096, description="Generation limit in evaluation (default: from the data)."
    )
    canaries: int = Field(
        0,
        ge=0,
        le=100,
        description="Random canary secrets inserted into the training split, whose exposure the "
        "memorization scan measures (Carlini et al., 2019); 0: none.",
    )
    canary_repeats: int = Field(
        1, ge=1, le=1000, description="Times each canary is inserted into the training split."
    )
    memorization_records: int = Field(
        100,
        ge=0,
        le=10_000,
        description="Training records the memorization scan prompts with a prefix of themselves.",
    )
    # Splits
    validation_fraction: float = Field(0.1, gt=0, lt=0.5, description="Share held for validation.")
    test_fraction: float = Field(0.1, gt=0, lt=0.5, description="Share held for the final test.")
    split_seed: int | None = Field(None, ge=0, description="Seed of the split (default: seed).")

    # Search (kind="search")
    search_learning_rates: list[float] | None = Field(
        None,
        min_length=1,
        description="Learning rates tried by a search (default: around the recipe's).",
    )
    search_epochs: list[float] | None = Field(
        None, min_length=1, description="Epoch counts tried by a search (default: the recipe's)."
    )
    search_lora_ranks: list[int] | None = Field(
        None, min_length=1, description="LoRA ranks tried by a search (LoRA only)."
    )

    # Running
    device: DeviceChoice = Field("auto", description="'cuda' when present with 'auto'.")
    precision: Precision = Field("auto", description="'auto': bf16 on CUDA where supported.")
    checkpoint_interval_s: float = Field(
        120.0, gt=0, description="Seconds between encrypted checkpoints while training."
    )
    checkpoint_every_steps: int | None = Field(
        None, ge=1, description="Also checkpoint every N optimizer steps."
    )
    approval_check_every_steps: int = Field(
        10, ge=1, description="Steps between re-checks that every dataset is still APPROVED."
    )

    @model_validator(mode="after")
    def _check_combinations(self) -> JobConfig:
        from appliance.training.tasks import get_task

        task = get_task(self.task)  # raises with the registered names
        n = len(self.dataset_ids)
        if len(set(self.dataset_ids)) != n:
            raise ValueError("dataset_ids lists a dataset twice")
        if self.dataset_weights is not None:
            if len(self.dataset_weights) != n:
                raise ValueError(
                    f"dataset_weights has {len(self.dataset_weights)} values for {n} datasets"
                )
            if any(w <= 0 for w in self.dataset_weights):
                raise ValueError("dataset_weights must all be positive")
        if self.task_tags is not None and len(self.task_tags) != n:
            raise ValueError(f"task_tags has {len(self.task_tags)} values for {n} datasets")
        if self.method == "full":
            given = [f for f in LORA_FIELDS if getattr(self, f) is not None]
            if given or self.search_lora_ranks:
                named = ", ".join(given or ["search_lora_ranks"])
                raise ValueError(f"method 'full' takes no LoRA settings, got {named}")
        if self.validation_fraction + self.test_fraction >= 0.5:
            raise ValueError(
                "validation_fraction + test_fraction must leave at least half for training"
            )
        searching = (self.search_learning_rates, self.search_epochs, self.search_lora_ranks)
        if self.kind == "train" and any(v is not None for v in searching):
            raise ValueError("search_* settings need kind 'search'")
        if self.pooling != "auto" and not task.uses_pooling:
            raise ValueError(f"pooling applies to classification, not to task '{self.task}'")
        if task.needs_judge and self.reward_model is None:
            raise ValueError(f"task '{self.task}' learns from a reward model: set reward_model "
                             "to the id of a trained 'reward' model")
        if self.reward_model is not None and task.model_kind != "causal":
            raise ValueError("reward_model judges a generative model's answers; task "
                             f"'{self.task}' is not generative")
        rl_only = [f for f in ("samples_per_prompt", "kl_beta") if getattr(self, f) is not None]
        if rl_only and not task.needs_judge:
            raise ValueError(f"{', '.join(rl_only)} apply to RL (task 'rloo'), not to task "
                             f"'{self.task}'")
        if self.precision == "fp16" and self.device == "cpu":
            raise ValueError("fp16 needs a CUDA device; use bf16 or fp32 on CPU")
        return self

    @property
    def is_multitask(self) -> bool:
        return len(self.dataset_ids) > 1

    def to_json(self) -> str:
        """The settings the user chose (defaults stay defaults, so a dataset's field names and
        the recipe can still fill them in when the job is parsed back)."""
        return json.dumps(self.model_dump(mode="json", exclude_unset=True), sort_keys=True)


def parse_job_config(data: dict[str, Any]) -> JobConfig:
    """A :class:`JobConfig`, with validation errors turned into one clear :class:`InvalidInput`."""
    try:
        return JobConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {_clean(err['msg'])}"
            for err in exc.errors()
        ]
        raise InvalidInput("invalid job configuration", reasons=problems) from None


def load_job_config_file(path: str | Path, overrides: dict[str, Any] | None = None) -> JobConfig:
    """A JSON (or YAML) config file, with command-line values taking precedence."""
    source = Path(path)
    try:
        text = source.read_text("utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read job config {source}: {exc.strerror}") from None
    import yaml

    try:
        data = yaml.safe_load(text) if source.suffix in (".yaml", ".yml") else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(f"job config {source} is not valid: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"job config {source} must hold an object of settings")
    merged = {**data, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    return parse_job_config(merged)


def describe_fields() -> dict[str, str]:
    """Field name -> help text: for ``--help`` output and the API schema."""
    return {name: field.description or "" for name, field in JobConfig.model_fields.items()}


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")
