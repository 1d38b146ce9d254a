"""Trained models: encrypted weights in the vault, a model card, and predict/generate.

Weights (adapters and head, or all weights) are safetensors bytes stored as one vault object; the
model card is metadata and lives in the ``models`` row. Reading the weights goes through the gate
(policy, audit, then decrypt). A decrypted model is kept in this process for the next call, but
every call is still authorized and audited first.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from appliance.db import transaction
from appliance.errors import InvalidInput, NotFound
from appliance.gate import Principal, authorize, read_object
from appliance.training.registry import open_base_model

if TYPE_CHECKING:
    from appliance.context import Context
    from appliance.training.engine import Outcome
    from appliance.training.inference import Predictor
    from appliance.training.inputs import BaseModel, DatasetInput
    from appliance.training.jobs import JobInfo

MODEL_OBJECT_KIND = "model"
CARD_FORMAT = "appliance-model-card/1"
MAX_TEXTS = 10_000
MAX_TEXT_CHARS = 20_000
MAX_NEW_TOKENS = 1024
_CACHE_SIZE = 2
# The predictors decrypted last (least recently used first out): a model in memory is not
# decrypted again, but each call is still decided and audited.
_predictors: LRUCache[tuple[str, str], Predictor] = LRUCache(_CACHE_SIZE)


@dataclass(frozen=True)
class ModelInfo:
    model_id: str
    job_id: str | None
    task: str
    method: str
    base_model: str
    created_by: str
    created_at: str
    card: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        test = self.card.get("metrics", {}).get("test", {})
        score = {k: test[k] for k in ("accuracy", "macro_f1", "perplexity") if k in test}
        return {
            "model_id": self.model_id,
            "task": self.task,
            "method": self.method,
            "base_model": self.base_model,
            "created_by": self.created_by,
            "created_at": self.created_at,
            **score,
        }

    def resource(self) -> dict[str, Any]:
        return {"type": "model", "id": self.model_id, "created_by": self.created_by}


def new_model_id() -> str:
    return "mdl_" + secrets.token_hex(6)


def store_model(
    ctx: Context,
    job: JobInfo,
    outcome: Outcome,
    datasets: list[DatasetInput],
    base: BaseModel,
    versions: dict[str, str],
) -> str:
    """Encrypt the weights into the vault and record the model with its card."""
    assert outcome.weights is not None and outcome.spec is not None
    model_id = new_model_id()
    object_id = ctx.vault.put(MODEL_OBJECT_KIND, [outcome.weights])
    card = model_card(model_id, job, outcome, datasets, base, versions, ctx.now())
    with transaction(ctx.conn):
        ctx.conn.execute(
            "INSERT INTO models(model_id, job_id, task, method, base_model, object_id, card,"
            " created_by, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                model_id,
                job.job_id,
                job.task,
                outcome.spec.method,
                base.name,
                object_id,
                json.dumps(card, sort_keys=True),
                job.created_by,
                card["created_at"],
            ),
        )
    return model_id


def model_card(
    model_id: str,
    job: JobInfo,
    outcome: Outcome,
    datasets: list[DatasetInput],
    base: BaseModel,
    versions: dict[str, str],
    now: str,
) -> dict[str, Any]:
    """Everything needed to know where a model came from and how good it is."""
    assert outcome.weights is not None and outcome.spec is not None
    split_datasets = outcome.split.get("datasets", {})
    recipe = {k: v for k, v in outcome.recipe.items() if k != "notes"}
    return {
        "format": CARD_FORMAT,
        "model_id": model_id,
        "job_id": job.job_id,
        "task": job.task,
        "method": outcome.spec.method,
        "created_by": job.created_by,
        "created_at": now,
        "base_model": {"name": base.name, "sha256": base.sha256},
        "datasets": [
            {
                "dataset_id": d.dataset_id,
                "name": d.name,
                "content_hash": d.content_hash,
                "records": len(d.records),
                "split": split_datasets.get(d.dataset_id, {}).get("sizes"),
            }
            for d in datasets
        ],
        "labels": outcome.spec.labels,
        "task_tags": outcome.spec.tags,
        "hyperparameters": recipe,
        "recipe_notes": outcome.recipe.get("notes", []),
        "split": {
            "seed": outcome.split.get("seed"),
            "sha256": outcome.split.get("sha256"),
            "datasets": {
                k: {
                    "sizes": v.get("sizes"),
                    "stratified": v.get("stratified"),
                    "sha256": v.get("sha256"),
                }
                for k, v in split_datasets.items()
            },
        },
        "metrics": outcome.metrics,
        "duration_s": outcome.duration_s,
        "hardware": outcome.hardware,
        "libraries": versions,
        "weights": {
            "format": "safetensors",
            "bytes": len(outcome.weights),
            "sha256": hashlib.sha256(outcome.weights).hexdigest(),
        },
    }


def load_model_info(ctx: Context, model_id: str) -> ModelInfo:
    row = ctx.conn.execute(
        "SELECT model_id, job_id, task, method, base_model, created_by, created_at, card"
        " FROM models WHERE model_id=?",
        (model_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no model {model_id}")
    data = dict(row)
    data["card"] = json.loads(data["card"])
    return ModelInfo(**data)


def show_model(ctx: Context, principal: Principal, model_id: str) -> ModelInfo:
    info = load_model_info(ctx, model_id)
    authorize(ctx, principal, "model.read", info.resource(), "metadata")
    return info


def list_models(ctx: Context, principal: Principal) -> list[ModelInfo]:
    authorize(ctx, principal, "model.read", {"type": "model", "id": "*"}, "metadata")
    rows = ctx.conn.execute("SELECT model_id FROM models ORDER BY created_at, model_id").fetchall()
    return [load_model_info(ctx, r["model_id"]) for r in rows]


def read_model_weights(
    ctx: Context,
    principal: Principal,
    model_id: str,
    action: str,
    resource: dict[str, Any],
    purpose: str,
    details: dict[str, Any] | None = None,
) -> bytes:
    """The decrypted weights, through the gate (the only path to them)."""
    object_id = _object_id(ctx, model_id)
    return read_object(
        ctx,
        principal,
        action,
        resource,
        object_id,
        purpose,
        {"model_id": model_id, **(details or {})},
    )


def predict(
    ctx: Context,
    principal: Principal,
    model_id: str,
    texts: list[str],
    batch_size: int = 64,
    task_tag: str | None = None,
) -> list[dict[str, Any]]:
    """Classify each text: ``[{"label": ..., "score": ...}]`` in input order, batched."""
    _check_texts(texts)
    info = load_model_info(ctx, model_id)
    if info.task != "classification":
        raise InvalidInput(
            f"model {model_id} is a '{info.task}' model; predict needs classification"
        )
    predictor = _predictor(ctx, principal, info, "predict", {"texts": len(texts)})
    if task_tag is not None:
        if task_tag not in predictor.spec.tags:
            raise InvalidInput(
                f"model {model_id} knows task tags {predictor.spec.tags}, not {task_tag!r}"
            )
        texts = [f"[{task_tag}] {t}" for t in texts]
    return predictor.classify(texts, batch_size=batch_size)


def generate(
    ctx: Context,
    principal: Principal,
    model_id: str,
    prompt: str,
    max_new_tokens: int = 64,
) -> str:
    """Greedy completion of ``prompt`` by an SFT model."""
    _check_texts([prompt])
    if not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise InvalidInput(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}")
    info = load_model_info(ctx, model_id)
    if info.task != "sft":
        raise InvalidInput(f"model {model_id} is a '{info.task}' model; generate needs sft")
    predictor = _predictor(ctx, principal, info, "generate", {"max_new_tokens": max_new_tokens})
    return predictor.generate(prompt, max_new_tokens=max_new_tokens)


def _predictor(
    ctx: Context, principal: Principal, info: ModelInfo, verb: str, details: dict[str, Any]
) -> Predictor:
    key = (str(ctx.home), info.model_id)
    resource = info.resource()
    cached = _predictors.get(key)
    if cached is not None:
        # decrypted earlier in this process; the decision and the audit event are still per call
        authorize(
            ctx,
            principal,
            "model.predict",
            resource,
            "inference",
            {"model_id": info.model_id, "call": verb, **details},
        )
        return cached
    from appliance.training.inference import load_predictor

    base = open_base_model(ctx, info.base_model)
    weights = read_model_weights(
        ctx,
        principal,
        info.model_id,
        "model.predict",
        resource,
        "inference",
        {"call": verb, **details},
    )
    predictor = load_predictor(weights, Path(base.path))
    _predictors[key] = predictor
    return predictor


def forget_predictors() -> None:
    """Drop decrypted models held in memory (tests, key rotation)."""
    _predictors.clear()


def _object_id(ctx: Context, model_id: str) -> str:
    row = ctx.conn.execute("SELECT object_id FROM models WHERE model_id=?", (model_id,)).fetchone()
    if row is None:
        raise NotFound(f"no model {model_id}")
    return str(row["object_id"])


def _check_texts(texts: list[str]) -> None:
    if not isinstance(texts, list) or not texts:
        raise InvalidInput("give at least one text")
    if len(texts) > MAX_TEXTS:
        raise InvalidInput(f"at most {MAX_TEXTS} texts per call, got {len(texts)}")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(f"text {i} is not a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"text {i} is longer than {MAX_TEXT_CHARS} characters")
