"""The length-grouped sampler: whole batches of similar length, reproducible per epoch."""

from __future__ import annotations

import random

from appliance.training.trainer import GroupedLengthSampler


def _batches(order: list[int], size: int) -> list[list[int]]:
    return [order[i : i + size] for i in range(0, len(order), size)]


def test_every_batch_the_loader_cuts_is_one_length_group() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(4, 40) for _ in range(1789)]  # 55 whole batches and 29 left over
    sampler = GroupedLengthSampler(lengths, batch_size=32, seed=42)
    order = list(sampler)
    assert sorted(order) == list(range(len(lengths)))  # a permutation: each example once
    batches = _batches(order, 32)
    assert [len(b) for b in batches] == [32] * 55 + [29]  # the short remainder comes last
    padded = sum(max(lengths[i] for i in b) for b in batches) / len(batches)
    best = sum(max(b) for b in _batches(sorted(lengths), 32)) / len(batches)
    # each batch spans a narrow range of lengths: padding near that of a full sort
    assert padded <= best + 1.0, (padded, best)
    assert sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) < 100


def test_order_is_reproducible_per_epoch_and_shuffled_across_epochs() -> None:
    lengths = [n % 37 + 3 for n in range(500)]
    sampler = GroupedLengthSampler(lengths, batch_size=16, seed=7)
    first = list(sampler)
    assert list(GroupedLengthSampler(lengths, batch_size=16, seed=7)) == first
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first and sorted(second) == sorted(first)
    # batches are not visited from longest to shortest
    maxima = [max(lengths[i] for i in b) for b in _batches(first, 16)[:-1]]
    assert maxima != sorted(maxima, reverse=True) and maxima != sorted(maxima)
