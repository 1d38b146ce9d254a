"""``/v1/models``: trained models, their cards, predictions, reward scores, generation (batched
and streamed; bases too, as ``base:<name>``), and export requests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from appliance.api.chatstream import chat_response
from appliance.api.deps import ContextDep, CurrentUser, reject_unknown_query
from appliance.api.problem import BAD_INPUT, NOT_FOUND, responses
from appliance.api.schemas import (
    ChatMessage,
    ChatRequest,
    Export,
    ExportRequest,
    GenerateRequest,
    Generation,
    Model,
    Predictions,
    PredictRequest,
    PromptText,
)
from appliance.training import chat, export, models

router = APIRouter(prefix="/v1/models", tags=["models"],
                   dependencies=[Depends(reject_unknown_query)])
SSE = {"text/event-stream": {"schema": {"type": "string"}}}


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


class ScoreItem(BaseModel):
    """A prompt (one user turn, or a conversation ending with the user's) and an answer."""

    model_config = ConfigDict(extra="forbid")

    prompt: PromptText | Annotated[list[ChatMessage], Field(min_length=1, max_length=64)]
    response: PromptText


class ScoreRequest(BaseModel):
    """Items scored in order in one audited call: at most 256, 20,000 characters a text."""

    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem] = Field(min_length=1, max_length=models.MAX_SCORE_ITEMS)


class Scores(BaseModel):
    model_id: str
    scores: list[float] = Field(description="The reward model's score per item, in order "
                                            "(higher: a better answer).")


@router.post("/{model_id}/score", response_model=Scores,
             responses=responses(NOT_FOUND, BAD_INPUT))
def score(ctx: ContextDep, user: CurrentUser, model_id: str, body: ScoreRequest) -> Any:
    """Score answers to prompts with a reward model."""
    items = [item.model_dump() for item in body.items]
    return {"model_id": model_id, "scores": models.score(ctx, user, model_id, items)}


@router.post("/{model}/generate", response_model=Generation,
             responses=responses(NOT_FOUND, BAD_INPUT))
def generate(request: Request, ctx: ContextDep, user: CurrentUser, model: str,
             body: GenerateRequest) -> Any:
    """Answer prompts, in order, with a generative model (mdl_...) or a base (base:<name>)."""
    prompts = [p if isinstance(p, str) else [m.model_dump() for m in p] for p in body.prompts]
    answers = chat.generate(ctx, user, model, prompts, chat.make_options(**body.options()))
    request.app.state.metrics.observe_generation(answers, "batch")
    return {"model": model, "answers": [a.as_dict() for a in answers]}


@router.post("/{model}/generate/stream", response_class=EventSourceResponse,
             responses={**responses(NOT_FOUND, BAD_INPUT),
                        200: {"description": "Server-sent events: token, withheld, end, error.",
                              "content": SSE}})
def stream_generation(request: Request, ctx: ContextDep, user: CurrentUser, model: str,
                      body: ChatRequest) -> EventSourceResponse:
    """Answer a conversation, streamed as it is generated (guarded text only)."""
    stream = chat.open_stream(ctx, user, model, [m.model_dump() for m in body.messages],
                              chat.make_options(**body.options()))
    return chat_response(stream, request.app.state.metrics)


@router.post("/{model_id}/exports", status_code=status.HTTP_201_CREATED, response_model=Export,
             responses=responses(NOT_FOUND))
def request_export(ctx: ContextDep, user: CurrentUser, model_id: str,
                   body: ExportRequest | None = None) -> Any:
    """Build and sign an export bundle (the adapter, or merged into its base); it waits for a
    compliance approval, with the memorization scan of a generative model beside it."""
    merged = body.merged if body is not None else False
    return export.request_export(ctx, user, model_id, merged=merged).as_dict()
