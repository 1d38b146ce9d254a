"""Preference records -> pairs and rated examples (contract 2): shapes, ranked expansion, scales,
and refusals that name the record's position, never its text."""

from __future__ import annotations

import subprocess
import sys
from itertools import combinations
from typing import Any

import pytest

from appliance.datasets.preference_shapes import rating_scale, rating_value
from appliance.errors import InvalidInput
from appliance.training.config import JobConfig
from appliance.training.tasks.preference_data import preference_pairs, rated_examples

CONFIG = JobConfig(task="sft", dataset_ids=["ds_a"])
SECRET = "the launch code is 0000"


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_pairwise_record_is_one_pair_with_a_user_turn() -> None:
    pairs = preference_pairs([{"prompt": "hi", "chosen": "hello", "rejected": "go away",
                               "id": 7}], CONFIG)
    assert pairs == [{"prompt": user("hi"), "chosen": "hello", "rejected": "go away"}]


def test_prompt_turns_are_kept_as_turns_without_other_keys() -> None:
    turns = [{"role": "system", "content": "be brief", "name": "x"},
             {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
             {"role": "user", "content": "and?"}]
    pairs = preference_pairs([{"prompt": turns, "chosen": "a", "rejected": "b"}], CONFIG)
    assert pairs[0]["prompt"] == [{"role": t["role"], "content": t["content"]} for t in turns]


@pytest.mark.parametrize("n", [2, 3, 4, 6])
def test_full_ranking_expands_to_every_pair(n: int) -> None:
    responses = [f"answer {i}" for i in range(n)]
    ranking = list(reversed(range(n)))  # the last response is the best
    pairs = preference_pairs([{"prompt": "q", "responses": responses, "ranking": ranking}],
                             CONFIG)
    assert len(pairs) == n * (n - 1) // 2
    expected = [(f"answer {b}", f"answer {w}") for b, w in combinations(ranking, 2)]
    assert [(p["chosen"], p["rejected"]) for p in pairs] == expected
    assert all(p["prompt"] == user("q") for p in pairs)


def test_partial_ranking_pairs_only_the_ranked() -> None:
    pairs = preference_pairs([{"prompt": "q", "responses": ["a", "b", "c", "d"],
                               "ranking": [2, 0, 3]}], CONFIG)
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [("c", "a"), ("c", "d"), ("a", "d")]


def test_expanded_pairs_do_not_share_their_prompt() -> None:
    pairs = preference_pairs([{"prompt": "q", "responses": ["a", "b", "c"],
                               "ranking": [0, 1, 2]}], CONFIG)
    pairs[0]["prompt"][0]["content"] = "changed"
    assert pairs[1]["prompt"] == user("q")


def test_shapes_mix_in_record_order() -> None:
    records = [{"prompt": "p1", "chosen": "a", "rejected": "b"},
               {"prompt": "p2", "responses": ["x", "y"], "ranking": [1, 0]}]
    pairs = preference_pairs(records, CONFIG)
    assert [(p["prompt"][0]["content"], p["chosen"], p["rejected"]) for p in pairs] == [
        ("p1", "a", "b"), ("p2", "y", "x")]


def test_field_names_come_from_the_config() -> None:
    config = JobConfig(task="sft", dataset_ids=["ds_a"], prompt_field="q",
                       response_field="answer", chosen_field="better", rejected_field="worse",
                       responses_field="cands", ranking_field="order", rating_field="thumb")
    pairs = preference_pairs([{"q": "hi", "better": "a", "worse": "b"},
                              {"q": "hi", "cands": ["c", "d"], "order": [0, 1]}], config)
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [("a", "b"), ("c", "d")]
    examples = rated_examples([{"q": "hi", "answer": "a", "thumb": "down"}], config)
    assert examples == [{"prompt": user("hi"), "completion": "a", "label": False}]


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"prompt": SECRET, "chosen": SECRET}, "'chosen' and 'rejected' must both be text"),
        ({"prompt": SECRET, "chosen": SECRET, "rejected": 3}, "must both be text"),
        ({"prompt": "", "chosen": SECRET, "rejected": "b"}, "'prompt' is neither text nor"),
        ({"prompt": [], "chosen": SECRET, "rejected": "b"}, "'prompt' is neither text nor"),
        ({"prompt": [{"role": SECRET, "content": "x"}], "chosen": "a", "rejected": "b"},
         "roles system, user, assistant"),
        ({"prompt": [{"role": "user", "content": " "}], "chosen": "a", "rejected": "b"},
         "no empty content"),
        ({"prompt": [SECRET], "chosen": "a", "rejected": "b"}, "'prompt' is neither"),
        ({"prompt": SECRET, "responses": [SECRET], "ranking": [0]},
         "'responses' is not a list of at least 2 texts"),
        ({"prompt": SECRET, "responses": [SECRET, "b"], "ranking": [0, 0]},
         "'ranking' is not a best-first list of distinct indices into 'responses'"),
        ({"prompt": SECRET, "responses": [SECRET, "b"], "ranking": [0, 2]}, "'ranking' is not"),
        ({"prompt": SECRET, "responses": [SECRET, "b"], "ranking": [True, False]},
         "'ranking' is not"),
        ({"prompt": SECRET, "responses": [SECRET, "b"]}, "'ranking' is not"),
        ({"prompt": SECRET, "response": SECRET, "rating": True},
         "has neither 'chosen'/'rejected' nor 'responses'/'ranking'"),
    ],
)
def test_bad_record_is_refused_by_position(record: dict[str, Any], problem: str) -> None:
    good = {"prompt": "p", "chosen": "a", "rejected": "b"}
    with pytest.raises(InvalidInput) as err:
        preference_pairs([good, good, record, good], CONFIG)
    message = str(err.value)
    assert message.startswith("1 of 4 records does not make preference pairs (record 2: ")
    assert problem in message
    assert SECRET not in message and "0000" not in message


def test_every_bad_record_is_counted_the_first_ten_listed() -> None:
    records = [{"prompt": "p", "chosen": "a"}] * 12
    with pytest.raises(InvalidInput) as err:
        preference_pairs(records, CONFIG)
    assert err.value.message.startswith("12 of 12 records do not make preference pairs "
                                        "(record 0: ")
    assert [r.split(":")[0] for r in err.value.reasons] == [f"record {i}" for i in range(10)]


@pytest.mark.parametrize(
    ("ratings", "labels"),
    [
        ([True, False, "up", "down", " UP ", "true", "False"],
         [True, False, True, False, True, True, False]),
        ([1, 2, 3, 4, 5], [False, False, True, True, True]),  # stars: 3 of 1-5 is desirable
        ([2, 4], [False, True]),  # still a 1-5 scale
        ([0, 1], [False, True]),
        ([0.2, 0.5, 0.9], [False, True, True]),
        ([0, 4, 5, 10], [False, False, True, True]),  # 0-10: 5
        ([1, 5, 6, 10], [False, False, True, True]),  # 1-10: 5.5
        ([10, 49, 50, 100], [False, False, True, True]),  # 0-100: 50
        ([-2, -1, 0, 2], [False, False, True, True]),  # around 0
        (["4", "1", 5], [True, False, True]),  # CSV numbers
        ([True, 1, 5], [True, False, True]),  # thumbs as given, numbers on their scale
    ],
)
def test_rated_labels_from_thumbs_and_scales(ratings: list[Any], labels: list[bool]) -> None:
    records = [{"prompt": f"p{i}", "response": f"r{i}", "rating": r}
               for i, r in enumerate(ratings)]
    examples = rated_examples(records, CONFIG)
    assert [e["label"] for e in examples] == labels
    assert examples[0] == {"prompt": user("p0"), "completion": "r0", "label": labels[0]}


def test_rated_threshold_may_be_given() -> None:
    records = [{"prompt": "p", "response": "r", "rating": r} for r in (3, 4, 5, 6, 7)]
    assert [e["label"] for e in rated_examples(records, CONFIG, threshold=4)] == [
        False, True, True, True, True]


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"prompt": "p", "response": "r", "rating": "maybe"}, "'rating' is not true/false"),
        ({"prompt": "p", "response": "r", "rating": float("inf")}, "'rating' is not"),
        ({"prompt": "p", "response": "r"}, "'rating' is not"),
        ({"prompt": "p", "response": "", "rating": 1}, "'response' is not text"),
        ({"prompt": {"role": "user"}, "response": "r", "rating": 1}, "'prompt' is neither"),
    ],
)
def test_bad_rated_record_is_refused_by_position(record: dict[str, Any], problem: str) -> None:
    good = {"prompt": "p", "response": "r", "rating": 1}
    with pytest.raises(InvalidInput) as err:
        rated_examples([good, record], CONFIG)
    assert str(err.value).startswith("1 of 2 records does not make rated examples (record 1: ")
    assert problem in str(err.value)


@pytest.mark.parametrize(
    ("scores", "scale"),
    [([], (0.0, 1.0)), ([0.3], (0.0, 1.0)), ([1, 5], (1.0, 5.0)), ([0, 5], (0.0, 5.0)),
     ([3, 7], (1.0, 10.0)), ([0, 7], (0.0, 10.0)), ([12, 80], (0.0, 100.0)),
     ([1, 250], (0.0, 250.0)), ([-1, 3], (-3.0, 3.0))],
)
def test_rating_scale(scores: list[float], scale: tuple[float, float]) -> None:
    assert rating_scale(scores) == scale


@pytest.mark.parametrize(
    ("value", "parsed"),
    [(True, True), ("Down", False), (3, 3.0), ("2.5", 2.5), ("nan", None), (None, None),
     ([1], None), ("", None), (float("-inf"), None)],
)
def test_rating_value(value: Any, parsed: Any) -> None:
    assert rating_value(value) == parsed


def test_no_torch_import() -> None:
    """The task registry's side imports it; it must stay light (no torch)."""
    code = ("import sys; import appliance.training.tasks.preference_data; "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "False", done.stderr
