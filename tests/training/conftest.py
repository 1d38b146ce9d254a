"""Fixtures for training: tiny models built from configs, approved datasets in a real home."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import appliance.training  # noqa: F401  (loads torch's runtime before the policy engine's)
from tests.training.tiny_models import make_tiny_bert, make_tiny_gpt2

INTENTS = {
    "card": ["i lost my card", "my card was stolen", "where is my new card", "card blocked help"],
    "balance": [
        "what is my balance",
        "check my balance please",
        "how much money do i have",
        "balance not updated",
    ],
    "transfer": [
        "my transfer is pending",
        "transfer failed",
        "cancel my transfer please",
        "money transfer to the wrong account",
    ],
}
QA = [
    ("what is the weather today", "it is sunny today"),
    ("tell me about tomorrow", "tomorrow is rainy"),
    ("how do i check my balance", "open the app and check the balance"),
    ("my card was stolen", "block the card in the app"),
]


def intent_records(n_per_label: int = 40, seed: int = 0) -> list[dict[str, Any]]:
    """Unique records (ingest drops duplicates): a phrase plus a distinct trailing number."""
    rng = random.Random(seed)
    out = [
        {"text": f"{rng.choice(phrases)} {i}", "label": label}
        for label, phrases in INTENTS.items()
        for i in range(n_per_label)
    ]
    rng.shuffle(out)
    return out


def sft_records(n: int = 48) -> list[dict[str, Any]]:
    return [
        {"prompt": f"{QA[i % len(QA)][0]} {i}", "response": QA[i % len(QA)][1]} for i in range(n)
    ]


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_gpt2(tmp_path_factory.mktemp("models") / "tiny-gpt2", chat_template=True)


@pytest.fixture
def bases(ctx: Any, tiny_bert: Path, tiny_gpt2: Path) -> dict[str, str]:
    """The tiny models registered in the home (as an admin would, minus the policy check)."""
    from appliance.training import registry

    for name, path in (("tiny-bert", tiny_bert), ("tiny-gpt2", tiny_gpt2)):
        registry._insert(ctx, name, path, registry.directory_sha256(path))
    return {"classification": "tiny-bert", "sft": "tiny-gpt2"}


@pytest.fixture
def make_dataset(ctx: Any, people: dict[str, Any]) -> Callable[..., str]:
    """Ingest records as olivia (operator) and approve them as carol (compliance)."""
    from appliance import datasets as ds

    def make(
        records: list[dict[str, Any]],
        task: str = "classification",
        approve: bool = True,
        name: str = "intents",
    ) -> str:
        fields = (
            {"text_field": "text", "label_field": "label"}
            if task == "classification"
            else {"prompt_field": "prompt", "response_field": "response"}
        )
        data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
        result = ds.ingest_stream(
            ctx,
            people["olivia"],
            io.BytesIO(data),
            name=name,
            source_name=f"{name}.jsonl",
            fmt="jsonl",
            spec=ds.parse_spec({"task": task, "redact": False, **fields}),
        )
        if approve:
            ds.approve_dataset(ctx, people["carol"], result.dataset_id, "fine")
        return str(result.dataset_id)

    return make


@pytest.fixture(autouse=True)
def _forget_models() -> Any:
    yield
    from appliance.training.models import forget_predictors

    forget_predictors()
