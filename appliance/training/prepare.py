"""Records -> examples -> a deterministic split per dataset -> one (multi-task) training set.

Each dataset is split on its own (stratified by label for classification, seeded), so adding a
dataset to a job never moves another's examples between splits; the split is recorded with the
job (sizes, seed, held-out indices, a digest) and a resume refuses data whose digest changed.

Canaries (``config.canaries``, causal tasks) are made from the job's seed and inserted into the
training split only, after the split: they never reach validation or test, the split's digest
does not depend on them, and a resume makes the same ones again instead of storing them.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.errors import InvalidInput
from appliance.training.config import JobConfig
from appliance.training.data import mix_by_weight, percentile, split_indices
from appliance.training.inputs import BaseModel, DatasetInput
from appliance.training.modeling import detect_pooling, load_tokenizer
from appliance.training.recipe import BaseFacts, DataStats
from appliance.training.tasks import Task, get_task
from appliance.training.trainer import TrainHooks


@dataclass
class Prepared:
    task: Task
    tokenizer: Any
    train: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    test: list[dict[str, Any]]
    labels: list[str]
    tags: list[str]
    split: dict[str, Any]
    stats: DataStats
    base: BaseFacts
    pooling: str | None
    #: The memorization scan's canaries (secrets: never logged, stored or shown), and the
    #: training examples without them.
    canaries: list[Any] = field(default_factory=list)
    clean_train: list[dict[str, Any]] = field(default_factory=list)
    config: JobConfig | None = None
    base_model: BaseModel | None = None


def prepare(
    config: JobConfig, datasets: Sequence[DatasetInput], base: BaseModel, hooks: TrainHooks
) -> Prepared:
    task = get_task(config.task)
    if len(datasets) != len(config.dataset_ids):
        raise InvalidInput("the job names a different number of datasets than were read")
    causal = task.model_kind == "causal"
    tokenizer = load_tokenizer(base.path, causal=causal)
    facts = base_facts(base)
    tags = list(config.task_tags or [d.name for d in datasets]) if config.is_multitask else []
    seed = config.split_seed if config.split_seed is not None else config.seed
    parts, validation, test, records = [], [], [], {}
    for i, dataset in enumerate(datasets):
        own = _with_dataset_fields(config, dataset.fields)
        examples = task.to_examples(dataset.records, own, tags[i] if tags else None)
        if len(examples) < 3:
            raise InvalidInput(
                f"dataset {dataset.dataset_id} has {len(examples)} usable records; "
                "training needs at least 3"
            )
        split = split_indices(
            [task.stratify_key(e) for e in examples],
            config.validation_fraction,
            config.test_fraction,
            seed,
        )
        parts.append([examples[j] for j in split.train])
        validation += [examples[j] for j in split.validation]
        test += [examples[j] for j in split.test]
        records[dataset.dataset_id] = {"content_hash": dataset.content_hash, **split.record()}
    train = mix_by_weight(parts, config.dataset_weights, seed)
    labels = task.label_names([*train, *validation, *test])
    # An encoder head with one output per label needs two to tell apart; a scalar head (a
    # reward model's score) has no labels at all.
    if task.model_kind == "encoder" and task.head_size is None and len(labels) < 2:
        raise InvalidInput(f"classification needs at least 2 labels, found {len(labels)}")
    clean_train = train
    canaries = make_job_canaries(config, causal)
    if canaries:
        train = insert_canaries(train, canaries, config.canary_repeats, config.seed)
    lengths = task.token_lengths(train, tokenizer)
    answers = task.answer_lengths(clean_train, tokenizer)
    stats = DataStats(
        len(train),
        len(validation),
        len(labels),
        percentile(lengths, 50),
        percentile(lengths, 99),
        max(lengths),
        percentile(answers, 99),
    )
    inserted = f" (with {len(canaries)} canaries x {config.canary_repeats})" if canaries else ""
    hooks.log(
        f"data: {stats.n_train} train{inserted}, {len(validation)} validation, {len(test)} "
        f"test; {len(labels)} labels; tokens p50 {stats.length_p50}, p99 {stats.length_p99}"
    )
    split_doc = {"seed": seed, "datasets": records, "tags": tags, "weights": config.dataset_weights}
    split_doc["sha256"] = hashlib.sha256(json.dumps(split_doc, sort_keys=True).encode()).hexdigest()
    pooling = None
    if task.uses_pooling:
        pooling = (
            config.pooling
            if config.pooling != "auto"
            else detect_pooling(base.path, facts.model_type, _is_decoder(base.path))
        )
    return Prepared(
        task,
        tokenizer,
        train,
        validation,
        test,
        labels,
        tags,
        split_doc,
        stats,
        facts,
        pooling,
        canaries,
        clean_train,
        config,
        base,
    )


def make_job_canaries(config: JobConfig, causal: bool) -> list[Any]:
    """The job's canaries, made again from its seed on every run (a resume gets the same)."""
    if config.canaries <= 0:
        return []
    if not causal:
        raise InvalidInput("canaries apply to causal language models (task sft), not "
                           f"to task '{config.task}'")
    from appliance.training.memorization import make_canaries

    return list(make_canaries(config.canaries, config.seed))


def insert_canaries(
    train: list[dict[str, Any]], canaries: Sequence[Any], repeats: int, seed: int
) -> list[dict[str, Any]]:
    """Training examples with each canary's examples at seeded positions (the sampler shuffles
    again per epoch; this keeps even an unshuffled pass from seeing them all at the end)."""
    out = list(train)
    rng = random.Random(f"canaries:{seed}")
    for canary in canaries:
        for example in canary.examples(repeats):
            out.insert(rng.randint(0, len(out)), example)
    return out


FIELD_ROLES = ("text_field", "label_field", "prompt_field", "response_field", "messages_field",
               "chosen_field", "rejected_field", "responses_field", "ranking_field",
               "rating_field")


def _with_dataset_fields(config: JobConfig, fields: dict[str, str] | None) -> JobConfig:
    """The dataset's own field names, unless the job named its own."""
    chosen = {
        k: v
        for k, v in (fields or {}).items()
        if k in FIELD_ROLES and v and k not in config.model_fields_set
    }
    return config.model_copy(update=chosen) if chosen else config


def base_facts(base: BaseModel) -> BaseFacts:
    config = json.loads((base.path / "config.json").read_text("utf-8"))
    positions = int(config.get("max_position_embeddings") or config.get("n_positions") or 512)
    return BaseFacts(
        base.name, str(config.get("model_type", "")), count_parameters(base.path), positions
    )


def count_parameters(path: Path) -> int:
    """From the safetensors headers alone, without loading a weight."""
    total = 0
    files = sorted(path.glob("*.safetensors"))
    for file in files:
        with file.open("rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(size))
        for name, entry in header.items():
            if name != "__metadata__":
                n = 1
                for dim in entry["shape"]:
                    n *= int(dim)
                total += n
    if not files:  # pickled weights: estimate from size (fp32)
        total = sum(f.stat().st_size for f in path.glob("*.bin")) // 4
    return total


def _is_decoder(path: Path) -> bool:
    config = json.loads((path / "config.json").read_text("utf-8"))
    archs = " ".join(config.get("architectures") or [])
    return bool(config.get("is_decoder")) or "CausalLM" in archs or "LMHead" in archs
