"""Preference records -> training examples: pairs for reward models and DPO, rated answers for KTO.

The records are a preference dataset's (``DatasetSpec(task="preference")``, redacted at ingest),
in one of three shapes (:mod:`appliance.datasets.preference_shapes`), with the job's field names
(``JobConfig.prompt_field``, ``chosen_field``, ...):

- pairwise ``{prompt, chosen, rejected}``: one pair;
- ranked ``{prompt, responses, ranking}``: every ``(better, worse)`` pair of the ranking (a full
  ranking of n responses gives n(n-1)/2 pairs; responses it leaves out give none);
- rated ``{prompt, response, rating}``: one example with a desirable/undesirable label.

A prompt is a text (one user turn) or a list of ``{role, content}`` turns; the examples always
hold turns (TRL's conversational format). A record that fits no shape is an ``InvalidInput``
naming its position and the problem, never its text. Pure Python (no torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from appliance.datasets.preference_shapes import (
    Turn,
    is_desirable,
    is_ranking,
    is_response_list,
    is_text,
    prompt_turns,
    ranking_pairs,
    rating_scale,
    rating_value,
)
from appliance.errors import InvalidInput

if TYPE_CHECKING:
    from appliance.training.config import JobConfig

#: Problems listed in a refusal (the message counts them all).
MAX_PROBLEMS = 10


def preference_pairs(records: Sequence[dict[str, Any]], config: JobConfig) -> list[dict[str, Any]]:
    """``[{"prompt": [turns], "chosen": str, "rejected": str}]`` from pairwise and ranked records,
    in record order (a ranking's pairs best first)."""
    names = _Fields(config)
    pairs: list[dict[str, Any]] = []
    problems = _Problems("preference pairs", names.pair_usage())
    for index, record in enumerate(records):
        turns = prompt_turns(record.get(names.prompt))
        if turns is None:
            problems.add(index, names.prompt_problem())
            continue
        if names.chosen in record or names.rejected in record:
            chosen, rejected = record.get(names.chosen), record.get(names.rejected)
            if not (is_text(chosen) and is_text(rejected)):
                problems.add(index, f"'{names.chosen}' and '{names.rejected}' must both be text")
                continue
            pairs.append({"prompt": turns, "chosen": chosen, "rejected": rejected})
        elif names.responses in record or names.ranking in record:
            responses, ranking = record.get(names.responses), record.get(names.ranking)
            if not is_response_list(responses):
                problems.add(index, f"'{names.responses}' is not a list of at least 2 texts")
                continue
            if not is_ranking(ranking, len(responses)):
                problems.add(index, f"'{names.ranking}' is not a best-first list of distinct "
                             f"indices into '{names.responses}' (at least 2)")
                continue
            pairs += [{"prompt": [dict(t) for t in turns], "chosen": responses[better],
                       "rejected": responses[worse]}
                      for better, worse in ranking_pairs(ranking)]
        else:
            problems.add(index, f"has neither '{names.chosen}'/'{names.rejected}' nor "
                         f"'{names.responses}'/'{names.ranking}'")
    problems.raise_any(len(records))
    return pairs


def rated_examples(records: Sequence[dict[str, Any]], config: JobConfig, *,
                   threshold: float | None = None) -> list[dict[str, Any]]:
    """``[{"prompt": [turns], "completion": str, "label": bool}]`` from rated records.

    A thumb (true/false, up/down) is the label; a number is desirable when it is at least
    ``threshold``, by default the midpoint of the scale the set's numbers are on
    (:func:`~appliance.datasets.preference_shapes.rating_scale`: 1-5 stars -> 3, 0-10 -> 5,
    0-1 -> 0.5, -2..2 -> 0).
    """
    names = _Fields(config)
    problems = _Problems("rated examples", names.rated_usage())
    parsed: list[tuple[list[Turn], str, bool | float]] = []
    for index, record in enumerate(records):
        turns = prompt_turns(record.get(names.prompt))
        response, rating = record.get(names.response), rating_value(record.get(names.rating))
        if turns is None:
            problems.add(index, names.prompt_problem())
        elif not is_text(response):
            problems.add(index, f"'{names.response}' is not text")
        elif rating is None:
            problems.add(index, f"'{names.rating}' is not true/false, up/down or a number")
        else:
            parsed.append((turns, response, rating))
    problems.raise_any(len(records))
    if threshold is None:
        low, high = rating_scale(r for _, _, r in parsed if not isinstance(r, bool))
        threshold = (low + high) / 2
    return [{"prompt": turns, "completion": response, "label": is_desirable(rating, threshold)}
            for turns, response, rating in parsed]


def rl_prompts(records: Sequence[dict[str, Any]], config: JobConfig) -> list[list[Turn]]:
    """The distinct prompts of any records that have one, as turns ending with the user's, in
    first-seen order: ``prompt_field`` (a text or turns; a preference or SFT dataset's), else a
    ``messages_field`` chat up to its last user turn. Reinforcement learning needs no answers:
    the policy writes its own, which a reward model scores."""
    import json

    names = _Fields(config)
    problems = _Problems("prompts", f"each needs '{names.prompt}' (a text or {{role, content}} "
                         f"turns) or a '{config.messages_field}' chat with a user turn (set "
                         "prompt_field or messages_field to the dataset's names)")
    seen: dict[str, list[Turn]] = {}
    for index, record in enumerate(records):
        value = record.get(names.prompt, record.get(config.messages_field))
        turns = prompt_turns(value)
        users = [i for i, t in enumerate(turns or []) if t["role"] == "user"]
        if turns is None or not users:
            problems.add(index, names.prompt_problem() + ", nor a chat with a user turn")
            continue
        turns = turns[: users[-1] + 1]  # a chat's final answer is not part of the prompt
        seen.setdefault(json.dumps(turns, sort_keys=True), turns)
    problems.raise_any(len(records))
    return list(seen.values())


class _Fields:
    """The job's names for each role."""

    def __init__(self, config: JobConfig) -> None:
        self.prompt = config.prompt_field
        self.response = config.response_field
        self.chosen = config.chosen_field
        self.rejected = config.rejected_field
        self.responses = config.responses_field
        self.ranking = config.ranking_field
        self.rating = config.rating_field

    def prompt_problem(self) -> str:
        return (f"'{self.prompt}' is neither text nor a list of {{role, content}} turns "
                "(roles system, user, assistant; no empty content)")

    def pair_usage(self) -> str:
        return (f"each needs '{self.prompt}' and '{self.chosen}'/'{self.rejected}' texts, or "
                f"'{self.responses}' and a '{self.ranking}' (set prompt_field, chosen_field, "
                "rejected_field, responses_field, ranking_field to the dataset's names)")

    def rated_usage(self) -> str:
        return (f"each needs '{self.prompt}', a '{self.response}' text and a '{self.rating}' "
                "(set prompt_field, response_field, rating_field to the dataset's names)")


class _Problems:
    """Refusals by record position, collected so one error says how many and which."""

    def __init__(self, what: str, usage: str) -> None:
        self.what, self.usage = what, usage
        self.count = 0
        self.listed: list[str] = []

    def add(self, index: int, problem: str) -> None:
        self.count += 1
        if len(self.listed) < MAX_PROBLEMS:
            self.listed.append(f"record {index}: {problem}")  # a position, never a value

    def raise_any(self, total: int) -> None:
        if self.count:
            verb = "does" if self.count == 1 else "do"
            raise InvalidInput(f"{self.count} of {total} records {verb} not make {self.what} "
                               f"({self.listed[0]}); {self.usage}", reasons=self.listed)
