"""``/v1/models``: trained models, their cards, predictions, and export requests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, status

from appliance.api.deps import ContextDep, CurrentUser, reject_unknown_query
from appliance.api.problem import BAD_INPUT, NOT_FOUND, responses
from appliance.api.schemas import (
    Export,
    GenerateRequest,
    Generation,
    Model,
    Predictions,
    PredictRequest,
)
from appliance.training import export, models

router = APIRouter(prefix="/v1/models", tags=["models"],
                   dependencies=[Depends(reject_unknown_query)])


@router.get("", response_model=list[Model], responses=responses())
def list_models(ctx: ContextDep, user: CurrentUser) -> list[Any]:
    """List trained models with their cards."""
    return [m.as_dict() for m in models.list_models(ctx, user)]


@router.get("/{model_id}", response_model=Model, responses=responses(NOT_FOUND))
def show_model(ctx: ContextDep, user: CurrentUser, model_id: str) -> Any:
    """One model and its card: datasets, hyperparameters, metrics, hardware."""
    return models.show_model(ctx, user, model_id).as_dict()


@router.post("/{model_id}/predict", response_model=Predictions,
             responses=responses(NOT_FOUND, BAD_INPUT))
def predict(ctx: ContextDep, user: CurrentUser, model_id: str, body: PredictRequest) -> Any:
    """Classify texts with a classification model."""
    found = models.predict(ctx, user, model_id, body.texts, body.batch_size, body.task_tag)
    return {"model_id": model_id, "predictions": found}


@router.post("/{model_id}/generate", response_model=Generation,
             responses=responses(NOT_FOUND, BAD_INPUT))
def generate(ctx: ContextDep, user: CurrentUser, model_id: str, body: GenerateRequest) -> Any:
    """Complete a prompt with an SFT model."""
    text = models.generate(ctx, user, model_id, body.prompt, body.max_new_tokens)
    return {"model_id": model_id, "text": text}


@router.post("/{model_id}/exports", status_code=status.HTTP_201_CREATED, response_model=Export,
             responses=responses(NOT_FOUND))
def request_export(ctx: ContextDep, user: CurrentUser, model_id: str) -> Any:
    """Build and sign an export bundle; it waits for a compliance approval."""
    return export.request_export(ctx, user, model_id).as_dict()
