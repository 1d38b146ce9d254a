"""The memorization scan on real (tiny) models: one trained until it memorised a canary and its
training records, one trained on formulaic answers that it completes from generalisation.

The models are the two-layer Llama of ``tiny_models.py``, trained here by a plain loop (full
batch, loss on the answer tokens as the SFT task computes it) for a few hundred steps: seconds.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
import torch

from appliance.training.generation import prompt_ids
from appliance.training.memorization import (
    RANDOMNESS_BITS,
    SECRET_DIGITS,
    Canary,
    _answer_ids,
    _cached_log_perplexities,
    _draw_secret,
    _full_log_perplexities,
    make_canaries,
    scan,
)
from tests.training.tiny_models import WORDS, make_tiny_gpt2, make_tiny_llama

#: Words of the canary's sentence the tiny vocabulary lacks (its digits are there).
CANARY_WORDS = ("secret", "number", "of")
PLAIN = [w for w in WORDS if not w.isdigit()]
FORMULA = "thanks you can check the balance in the app and open a new account today please"


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    """Tiny matrices: a second thread only adds synchronisation (ten times slower on a busy
    two-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama",
                           vocab_extra=CANARY_WORDS)


def record(rng: random.Random, formulaic: bool) -> dict[str, Any]:
    """A question of random words; its answer random words (only learnt by heart) or one
    fixed sentence (learnt as a rule, so unseen questions get it too)."""
    question = " ".join(rng.choice(PLAIN) for _ in range(4))
    answer = FORMULA if formulaic else " ".join(rng.choice(PLAIN) for _ in range(18))
    return {"messages": [{"role": "user", "content": question},
                         {"role": "assistant", "content": answer}]}


def train(path: Path, examples: list[dict[str, Any]], steps: int) -> Any:
    """Full-batch AdamW on the answer tokens (prompt tokens masked), as SFT trains."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    rows = []
    for example in examples:
        prompt = prompt_ids(tokenizer, example["messages"][:-1])
        answer = _answer_ids(tokenizer, example["messages"][-1]["content"])
        rows.append((prompt + answer, [-100] * len(prompt) + answer))
    width = max(len(ids) for ids, _ in rows)
    ids = torch.tensor([i + [0] * (width - len(i)) for i, _ in rows])
    labels = torch.tensor([t + [-100] * (width - len(t)) for _, t in rows])
    mask = (torch.arange(width)[None, :] < torch.tensor([len(i) for i, _ in rows])[:, None])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask.long(), labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return model, tokenizer


@pytest.fixture(scope="module")
def memorised(tiny_llama: Path) -> dict[str, Any]:
    """Random answers and a canary inserted 10 times, trained until the loss is near 0."""
    rng = random.Random(1)
    canaries = make_canaries(1, seed=5)
    train_split = [record(rng, formulaic=False) for _ in range(40)]
    heldout = [record(rng, formulaic=False) for _ in range(40)]
    model, tokenizer = train(tiny_llama, train_split + canaries[0].examples(10), steps=150)
    return {"model": model, "tokenizer": tokenizer, "train": train_split, "heldout": heldout,
            "canaries": canaries}


@pytest.fixture(scope="module")
def generalised(tiny_llama: Path) -> dict[str, Any]:
    """Formulaic answers, no canary in training: what a well-generalising model looks like."""
    rng = random.Random(2)
    train_split = [record(rng, formulaic=True) for _ in range(40)]
    heldout = [record(rng, formulaic=True) for _ in range(40)]
    model, tokenizer = train(tiny_llama, train_split, steps=60)
    return {"model": model, "tokenizer": tokenizer, "train": train_split, "heldout": heldout,
            "canaries": make_canaries(1, seed=5)}


def run_scan(setup: dict[str, Any], seed: int = 3, **extra: Any) -> dict[str, Any]:
    return scan(setup["model"], setup["tokenizer"], setup["train"], setup["heldout"],
                setup["canaries"], records=40, seed=seed, **extra)


def test_canaries_are_made_again_from_the_seed() -> None:
    first, again, other = make_canaries(3, 7), make_canaries(3, 7), make_canaries(3, 8)
    assert [c.secret for c in first] == [c.secret for c in again]
    assert [c.secret for c in first] != [c.secret for c in other]
    assert len({c.prompt for c in first}) == 3  # one account, one question, per canary
    for canary in first:
        assert len(canary.secret) == SECRET_DIGITS and canary.secret.isdigit()
        assert canary.secret not in repr(canary)  # never printed by accident
        assert canary.sha256 == __import__("hashlib").sha256(canary.secret.encode()).hexdigest()
        assert " ".join(canary.secret) in canary.answer()
    copies = first[0].examples(3)
    assert len(copies) == 3 and copies[0] == copies[1] and copies[0] is not copies[1]
    [user, assistant] = copies[0]["messages"]
    assert (user["role"], user["content"]) == ("user", first[0].prompt)
    assert assistant["role"] == "assistant" and " ".join(first[0].secret) in assistant["content"]
    assert make_canaries(0, 7) == []


def test_a_memorised_canary_and_memorised_records_are_flagged(
    memorised: dict[str, Any]
) -> None:
    result = run_scan(memorised, canary_repeats=10)
    assert result["flagged"] is True
    [canary] = result["canaries"]
    assert canary["sha256"] == memorised["canaries"][0].sha256 and canary["repeats"] == 10
    assert canary["extracted"] is True  # greedy decoding gives the secret back
    assert canary["exposure"] >= result["thresholds"]["exposure_bits"]
    assert canary["rank_estimate"] < 10 and canary["sampled_rank"] == 1
    assert result["max_exposure"] == canary["exposure"]
    assert result["thresholds"]["exposure_bits"] == pytest.approx(RANDOMNESS_BITS / 2, abs=1e-3)
    assert result["randomness_bits"] == pytest.approx(9 * math.log2(10), abs=1e-3)
    # never-inserted canaries, scored alike, stay near the random baseline
    assert result["controls"]["n"] == 1 and result["controls"]["extracted"] == 0
    assert result["controls"]["max_exposure"] < result["thresholds"]["exposure_bits"]

    verbatim = result["verbatim"]
    assert verbatim["train"]["scanned"] == 40 and verbatim["heldout"]["scanned"] == 40
    assert verbatim["train"]["rate"] >= 0.9 and verbatim["heldout"]["rate"] == 0.0
    assert verbatim["gap"] >= 0.9 and verbatim["p_value"] < 1e-6
    assert any(r.startswith("canary 1 (10x in training): greedy decoding") for r in
               result["reasons"])
    assert any(r.startswith("verbatim completion: ") for r in result["reasons"])
    assert "skew-normal" in result["methods"]["exposure"]
    assert "greedy completion" in result["methods"]["verbatim"]
    assert_nothing_secret(result, memorised)


def test_a_model_that_generalises_is_not_flagged(generalised: dict[str, Any]) -> None:
    result = run_scan(generalised)
    assert result["flagged"] is False and result["reasons"] == []
    # the fixed answer completes on unseen questions as well as on trained ones: no gap
    verbatim = result["verbatim"]
    assert verbatim["train"]["rate"] >= 0.9 and verbatim["heldout"]["rate"] >= 0.9
    assert abs(verbatim["gap"]) < 0.1
    [canary] = result["canaries"]  # never trained on: the model ranks it like any number
    assert canary["repeats"] is None and canary["extracted"] is False
    assert canary["exposure"] < 8 and canary["rank_estimate"] > 10**6
    assert_nothing_secret(result, generalised)


def test_the_scan_is_determined_by_its_seed(memorised: dict[str, Any]) -> None:
    first, again = run_scan(memorised, seed=11), run_scan(memorised, seed=11)
    first.pop("duration_s")
    again.pop("duration_s")
    assert first == again
    assert first["seed"] == 11
    json.dumps(first)  # plain JSON, as it goes into the model card


def test_repeats_are_counted_in_a_split_that_holds_the_canaries(
    memorised: dict[str, Any]
) -> None:
    canary: Canary = memorised["canaries"][0]
    with_copies = {**memorised, "train": memorised["train"] + canary.examples(10)}
    result = run_scan(with_copies)
    assert result["canaries"][0]["repeats"] == 10
    # the canary's copies are not records: the verbatim scan leaves them out
    assert result["verbatim"]["train"]["scanned"] == 40


def assert_nothing_secret(result: dict[str, Any], setup: dict[str, Any]) -> None:
    text = json.dumps(result)
    for canary in setup["canaries"]:
        assert canary.secret not in text and " ".join(canary.secret) not in text
        assert canary.prompt not in text
    for example in setup["train"] + setup["heldout"]:
        for turn in example["messages"]:
            assert turn["content"] not in text


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_candidates_scored_over_a_shared_cache_match_whole_sequences(
    family: str, tmp_path: Path, memorised: dict[str, Any]
) -> None:
    """The shared prefix's cache (rotary or absolute positions) changes no score."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if family == "llama":
        model, tokenizer = memorised["model"], memorised["tokenizer"]
    else:
        path = make_tiny_gpt2(tmp_path / "gpt2", chat_template=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval()
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    canary = memorised["canaries"][0]
    rng = random.Random(0)
    context = prompt_ids(tokenizer, canary.conversation())
    answers = [_answer_ids(tokenizer, canary.answer(_draw_secret(rng))) for _ in range(40)]
    cached = _cached_log_perplexities(model, context, answers)
    whole = _full_log_perplexities(model, context, answers)
    assert cached == pytest.approx(whole, rel=1e-4, abs=1e-3)


def test_what_could_not_be_measured_is_said(memorised: dict[str, Any]) -> None:
    short = [{"messages": [{"role": "user", "content": "hi"},
                           {"role": "assistant", "content": "hello"}]}] * 5
    result = scan(memorised["model"], memorised["tokenizer"], short, short, [],
                  records=10, seed=1)
    assert result["flagged"] is False and result["canaries"] == []
    assert result["verbatim"]["train"] == {"examined": 5, "scanned": 0, "verbatim": 0,
                                           "rate": None, "token_match": None}
    assert result["notes"] == [
        "verbatim: none of 5 training records has an answer long enough to test (a held-back "
        "half of at least 8 tokens)",
        "verbatim: none of 5 held-out records has an answer long enough to test (a held-back "
        "half of at least 8 tokens)",
        "exposure: the job inserted no canaries (job option canaries)",
    ]
