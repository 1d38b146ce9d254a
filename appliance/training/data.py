"""Examples in memory: deterministic splits, multi-task mixing, and dynamic-padding batches.

Nothing here touches the disk: records arrive decrypted from the gate, become examples and token
features in lists, and are padded per batch to the longest example in it (dynamic padding); the
trainer's length-grouped sampler then keeps that longest example short.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import Dataset

from appliance.training.tasks.sft import IGNORE_INDEX


@dataclass(frozen=True)
class Split:
    """Which example indices of one dataset went to which split; recorded with the job."""

    train: list[int]
    validation: list[int]
    test: list[int]
    stratified: bool
    seed: int

    def record(self) -> dict[str, Any]:
        """Sizes, seed and a digest, plus the held-out indices (train is the rest)."""
        return {
            "seed": self.seed,
            "stratified": self.stratified,
            "sizes": {
                "train": len(self.train),
                "validation": len(self.validation),
                "test": len(self.test),
            },
            "validation": self.validation,
            "test": self.test,
            "sha256": hashlib.sha256(
                json.dumps([self.train, self.validation, self.test]).encode()
            ).hexdigest(),
        }


def split_indices(
    keys: Sequence[str | None], validation_fraction: float, test_fraction: float, seed: int
) -> Split:
    """Shuffle with ``seed`` and cut; per key (class) when keys are given, so every class is in
    every split in proportion. A class too small to spare an example stays in train."""
    rng = random.Random(seed)
    groups: dict[str | None, list[int]] = defaultdict(list)
    stratified = any(k is not None for k in keys)
    for index, key in enumerate(keys):
        groups[key if stratified else None].append(index)
    train: list[int] = []
    validation: list[int] = []
    test: list[int] = []
    for key in sorted(groups, key=str):
        members = groups[key]
        rng.shuffle(members)
        n = len(members)
        n_test = round(n * test_fraction)
        n_val = round(n * validation_fraction)
        if n - n_test - n_val < 1:  # keep at least one example to learn the class from
            n_test = n_val = 0
        test += members[:n_test]
        validation += members[n_test : n_test + n_val]
        train += members[n_test + n_val :]
    return Split(sorted(train), sorted(validation), sorted(test), stratified, seed)


def mix_by_weight(
    parts: Sequence[Sequence[dict[str, Any]]], weights: Sequence[float] | None, seed: int
) -> list[dict[str, Any]]:
    """One training set from several: part i contributes ``total * w_i / sum(w)`` examples,
    drawn without replacement while it lasts and with replacement beyond (up-sampling)."""
    total = sum(len(p) for p in parts)
    if weights is None:
        return [e for p in parts for e in p]
    rng = random.Random(seed)
    mixed: list[dict[str, Any]] = []
    norm = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        want = max(1, round(total * weight / norm)) if part else 0
        pool = list(part)
        rng.shuffle(pool)
        mixed += pool[:want]
        mixed += [rng.choice(pool) for _ in range(want - len(pool))]
    rng.shuffle(mixed)
    return mixed


class FeatureDataset(Dataset[dict[str, Any]]):
    """Token features held in memory."""

    def __init__(self, features: list[dict[str, Any]]) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.features[index]

    def lengths(self) -> list[int]:
        return [len(f["input_ids"]) for f in self.features]


def sorted_by_length(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluation order: longest first, so padded batches waste little and memory peaks early."""
    return sorted(features, key=lambda f: -len(f["input_ids"]))


@dataclass
class PaddingCollator:
    """Pads each batch to its longest example (optionally to a multiple, for tensor cores)."""

    pad_token_id: int
    pad_to_multiple_of: int | None = None
    model_input_names: list[str] = field(default_factory=lambda: ["input_ids"])

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        longest = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            m = self.pad_to_multiple_of
            longest = (longest + m - 1) // m * m
        n = len(features)
        input_ids = torch.full((n, longest), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((n, longest), dtype=torch.long)
        sequence_labels = isinstance(features[0]["labels"], list)
        labels = (
            torch.full((n, longest), IGNORE_INDEX, dtype=torch.long)
            if sequence_labels
            else torch.empty(n, dtype=torch.long)
        )
        for row, feature in enumerate(features):
            ids = feature["input_ids"]
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[row, : len(ids)] = 1
            if sequence_labels:
                labels[row, : len(feature["labels"])] = torch.tensor(feature["labels"])
            else:
                labels[row] = int(feature["labels"])
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def percentile(values: Sequence[int], q: float) -> int:
    """The q-th percentile (nearest rank) of token lengths."""
    ordered = sorted(values)
    if not ordered:
        return 0
    rank = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return int(ordered[rank])
