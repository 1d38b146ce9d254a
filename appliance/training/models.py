"""Trained models: encrypted weights in the vault, a model card, and predict/score/generate.

Weights (adapters and head, or all weights) are safetensors bytes stored as one vault object; the
model card is metadata and lives in the ``models`` row. Reading the weights goes through the gate
(policy, audit, then decrypt). A decrypted model is kept in this process for the next call, but
every call is still authorized and audited first. Generation (``model.generate``, trained models
and bases alike, with the output guard) is :mod:`.chat`'s; :func:`generate` is its entry here.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from cachetools import LRUCache

from appliance.db import transaction
from appliance.errors import InvalidInput, NotFound
from appliance.gate import Principal, authorize, read_object
from appliance.training.registry import open_base_model

if TYPE_CHECKING:
    from appliance.context import Context
    from appliance.training.chat import Answer
    from appliance.training.engine import Outcome
    from appliance.training.generation import GenerationOptions
    from appliance.training.inference import Predictor
    from appliance.training.inputs import BaseModel, DatasetInput
    from appliance.training.jobs import JobInfo
    from appliance.training.trainer import Judge

MODEL_OBJECT_KIND = "model"
CARD_FORMAT = "appliance-model-card/1"
MAX_TEXTS = 10_000
MAX_TEXT_CHARS = 20_000
MAX_NEW_TOKENS = 1024
_CACHE_SIZE = 2
# The predictors decrypted last (least recently used first out): a model in memory is not
# decrypted again, but each call is still decided and audited.
_predictors: LRUCache[tuple[str, str], Predictor] = LRUCache(_CACHE_SIZE)
_cache_lock = threading.Lock()  # the cache is shared by the API's request threads


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
        keys = ("accuracy", "macro_f1", "pairwise_accuracy", "win_rate", "perplexity")
        figures = {k: test[k] for k in keys if k in test}
        return {
            "model_id": self.model_id,
            "task": self.task,
            "method": self.method,
            "base_model": self.base_model,
            "created_by": self.created_by,
            "created_at": self.created_at,
            **figures,
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


def read_generation_examples(
    ctx: Context, principal: Principal, model_id: str
) -> list[dict[str, Any]]:
    """The card's side-by-side held-out examples (redacted record text), decrypted through the
    gate under ``model.generate`` (operators; never auditors: it is a read of contents)."""
    info = load_model_info(ctx, model_id)
    generation = info.card.get("metrics", {}).get("generation") or {}
    object_id = generation.get("examples_object_id")
    if not object_id:
        return []
    data = read_object(
        ctx,
        principal,
        "model.generate",
        info.resource(),
        str(object_id),
        "inference",
        {"model_id": model_id, "call": "examples"},
    )
    examples: list[dict[str, Any]] = json.loads(data)
    return examples


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


#: The gate action of scoring, its own in the policy catalogue (policies/appliance/data.json):
#: operators only, one audited decision per call, never flagged as a read of dataset contents
#: (the scored texts are the caller's).
SCORE_ACTION = "model.score"
MAX_SCORE_ITEMS = 256


def score(
    ctx: Context,
    principal: Principal,
    model_id: str,
    items: list[dict[str, Any]],
    batch_size: int = 64,
) -> list[float]:
    """A reward model's score of each ``{"prompt", "response"}`` item, in input order (higher:
    better); the prompt is a string or ``{role, content}`` turns ending with the user's. One
    audited decision per call, whether the model is decrypted now or was earlier."""
    pairs = _check_items(items)
    info = load_model_info(ctx, model_id)
    if info.task != "reward":
        raise InvalidInput(f"model {model_id} is a '{info.task}' model; score needs a reward model")
    predictor = open_predictor(ctx, principal, info, SCORE_ACTION,
                               {"call": "score", "items": len(pairs)})
    return predictor.score(pairs, batch_size=batch_size)


def reward_model_info(ctx: Context, model_id: str) -> ModelInfo:
    """A job's ``reward_model``: it must exist (NotFound) and be a trained reward model."""
    info = load_model_info(ctx, model_id)
    if info.task != "reward":
        raise InvalidInput(f"reward_model {model_id} is a '{info.task}' model; it must be a "
                           "trained 'reward' model")
    return info


def reward_judge(ctx: Context, principal: Principal, model_id: str, job_id: str) -> Judge:
    """A reward model for a running job (the job's ``reward_model``): decrypted through the gate
    once, as the job's creator scoring (one audited decision naming the job); the job then
    scores its samples in memory."""
    from appliance.training.trainer import Judge

    info = reward_model_info(ctx, model_id)
    predictor = open_predictor(ctx, principal, info, SCORE_ACTION,
                               {"call": "judge", "job_id": job_id})
    return Judge(model_id, lambda items: predictor.score(items))


def _check_items(items: Any) -> list[tuple[list[dict[str, str]], str]]:
    """Each item as (prompt turns, response); a refusal names the item, never its text."""
    from appliance.training.tasks.reward import prompt_turns

    if not isinstance(items, list) or not items:
        raise InvalidInput("give at least one item to score")
    if len(items) > MAX_SCORE_ITEMS:
        raise InvalidInput(f"at most {MAX_SCORE_ITEMS} items per call, got {len(items)}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput(f"item {i} is not an object with 'prompt' and 'response'")
        prompt, response = item.get("prompt"), item.get("response")
        turns = prompt_turns(prompt)
        if turns is None:
            raise InvalidInput(f"item {i}: 'prompt' must be a non-empty string or a list of "
                               "{role, content} turns ending with the user's")
        if not isinstance(response, str) or not response.strip():
            raise InvalidInput(f"item {i}: 'response' must be a non-empty string")
        if len(response) > MAX_TEXT_CHARS or sum(len(t["content"]) for t in turns) > (
                MAX_TEXT_CHARS):
            raise InvalidInput(f"item {i}: prompt or response longer than {MAX_TEXT_CHARS} "
                               "characters")
        out.append((turns, response))
    return out


# A str is a Sequence too: the one-prompt form must come first.
@overload
def generate(  # type: ignore[overload-overlap]
    ctx: Context, principal: Principal, model: str, prompts: str,
    options: GenerationOptions | int | None = None) -> str: ...


@overload
def generate(ctx: Context, principal: Principal, model: str,
             prompts: Sequence[str | list[dict[str, str]]],
             options: GenerationOptions | None = None) -> list[Answer]: ...


def generate(ctx: Context, principal: Principal, model: str, prompts: Any,
             options: Any = None) -> Any:
    """Answers from a generative model: a trained one (``mdl_...``) or a base
    (``base:<name>``), one per prompt (a string or a list of chat messages), in order, each
    through the output guard; one ``model.generate`` action (:mod:`.chat`).

    One prompt given as a string returns its answer's text; ``options`` may then be just the
    ``max_new_tokens`` (the form this function had before it took batches).
    """
    from appliance.training import chat

    if isinstance(prompts, str):
        if isinstance(options, int) and not isinstance(options, bool):
            options = chat.make_options(max_new_tokens=options)
        return chat.generate(ctx, principal, model, [prompts], options)[0].text
    return chat.generate(ctx, principal, model, prompts, options)


def open_predictor(ctx: Context, principal: Principal, info: ModelInfo, action: str,
                   details: dict[str, Any], *, decided: bool = False) -> Predictor:
    """The model in memory, decrypted through the gate the first time (that read is a decision
    on ``action``, with ``details``), from this process's cache afterwards.

    Each call is still decided and audited: here (an ``authorize`` on a cached model), or by the
    caller when ``decided`` (it began the action with its own decision already).
    """
    key = (str(ctx.home), info.model_id)
    resource = info.resource()
    with _cache_lock:
        cached = _predictors.get(key)
    if cached is not None:
        if not decided:
            authorize(ctx, principal, action, resource, "inference",
                      {"model_id": info.model_id, **details})
        return cached
    from appliance.training.inference import load_predictor

    base = open_base_model(ctx, info.base_model)
    weights = read_model_weights(ctx, principal, info.model_id, action, resource, "inference",
                                 details)
    predictor = load_predictor(weights, Path(base.path))
    with _cache_lock:
        _predictors[key] = predictor
    return predictor


def _predictor(
    ctx: Context, principal: Principal, info: ModelInfo, verb: str, details: dict[str, Any]
) -> Predictor:
    # decrypted earlier in this process or not, the decision and the audit event are per call
    return open_predictor(ctx, principal, info, "model.predict", {"call": verb, **details})


def forget_predictors() -> None:
    """Drop decrypted models held in memory (tests, key rotation)."""
    with _cache_lock:
        _predictors.clear()
    from appliance.training import chat

    chat.forget_models()


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
