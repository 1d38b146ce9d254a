"""``/v1/campaigns`` and ``/v1/campaign-items``: feedback campaigns over HTTP.

The same service functions as the console and the CLI (:mod:`appliance.feedback`): operators
create, assign and close; operators, compliance and auditors read results; an annotator reads
and judges the items assigned to it (each read a ``campaign.item.read`` through the gate).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from appliance import feedback
from appliance.api.deps import ContextDep, CurrentUser, reject_unknown_query
from appliance.api.problem import BAD_INPUT, CONFLICT, NOT_FOUND, responses
from appliance.feedback.judging import LETTERS
from appliance.feedback.service import MAX_PROMPTS

router = APIRouter(tags=["campaigns"], dependencies=[Depends(reject_unknown_query)])


class NewCampaign(BaseModel):
    """A campaign to open: candidates are generated before the response."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    dataset_id: str = Field(min_length=1, max_length=64, description="An APPROVED dataset.")
    models: list[str] = Field(min_length=1, max_length=4,
                              description="mdl_... or base:<name>, one or more.")
    candidates: int = Field(2, ge=2, le=8, description="Candidates per prompt.")
    reviewers: list[str] = Field(default_factory=list, max_length=100,
                                 description="Annotators to assign.")
    overlap: float = Field(0.0, ge=0, le=1, description="Share of items shown to two.")
    random_state: int = Field(0, ge=0, lt=2**32)
    prompt_field: str = Field("prompt", min_length=1, max_length=200)
    max_prompts: int = Field(MAX_PROMPTS, ge=1,
                             le=MAX_PROMPTS)
    max_new_tokens: int = Field(48, ge=1, le=1024)


class Reviewers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reviewers: list[str] = Field(min_length=1, max_length=100)


class Judgement(BaseModel):
    """A verdict; ``ranking`` lists the letters shown, best first (``pick``: the one best)."""

    model_config = ConfigDict(extra="forbid")
    verdict: Literal["rank", "pick", "both_bad", "skip"]
    ranking: list[str] = Field(default_factory=list, max_length=8)


@router.get("/v1/campaigns", response_model=list[dict[str, Any]], responses=responses())
def list_campaigns(ctx: ContextDep, user: CurrentUser) -> Any:
    """Campaigns the caller may see, or is assigned to judge."""
    return feedback.list_campaigns(ctx, user)


@router.post("/v1/campaigns", status_code=status.HTTP_201_CREATED,
             response_model=dict[str, Any], responses=responses(BAD_INPUT, NOT_FOUND))
def create_campaign(ctx: ContextDep, user: CurrentUser, new: NewCampaign) -> Any:
    """Generate the candidates and open a campaign (operators)."""
    return feedback.create_campaign(ctx, user, **new.model_dump()).as_dict()


@router.get("/v1/campaigns/{campaign_id}", response_model=dict[str, Any],
            responses=responses(NOT_FOUND))
def show_campaign(ctx: ContextDep, user: CurrentUser, campaign_id: str) -> Any:
    """A campaign and its results: progress, Cohen's kappa, win rates."""
    info = feedback.show_campaign(ctx, user, campaign_id)
    return {"campaign": info.as_dict(),
            "results": feedback.campaign_results(ctx, user, campaign_id)}


@router.post("/v1/campaigns/{campaign_id}/assign", response_model=dict[str, Any],
             responses=responses(NOT_FOUND, CONFLICT))
def assign_reviewers(ctx: ContextDep, user: CurrentUser, campaign_id: str,
                     body: Reviewers) -> Any:
    """Add annotators to an open campaign."""
    return feedback.assign_reviewers(ctx, user, campaign_id, body.reviewers).as_dict()


@router.post("/v1/campaigns/{campaign_id}/close", response_model=dict[str, Any],
             responses=responses(NOT_FOUND, CONFLICT))
def close_campaign(ctx: ContextDep, user: CurrentUser, campaign_id: str) -> Any:
    """Close into a PENDING_REVIEW preference dataset."""
    return feedback.close_campaign(ctx, user, campaign_id).as_dict()


@router.get("/v1/campaigns/{campaign_id}/next", response_model=dict[str, Any],
            responses=responses())
def next_item(ctx: ContextDep, user: CurrentUser, campaign_id: str) -> Any:
    """The caller's next item to judge (its id, or null when none is left)."""
    return {"assignment_id": feedback.next_assignment(ctx, user, campaign_id)}


@router.get("/v1/campaign-items/{assignment_id}", response_model=dict[str, Any],
            responses=responses())
def show_item(ctx: ContextDep, user: CurrentUser, assignment_id: str) -> Any:
    """One item: the prompt and lettered candidates (its reviewer only; audited)."""
    return feedback.open_item(ctx, user, assignment_id).as_dict()


@router.post("/v1/campaign-items/{assignment_id}/judgement", response_model=dict[str, Any],
             responses=responses(CONFLICT))
def judge_item(ctx: ContextDep, user: CurrentUser, assignment_id: str,
               judgement: Judgement) -> Any:
    """Judge one item, once."""
    # letters beyond the item's candidates are refused by the service, with the letters shown
    positions = feedback.parse_labels(" ".join(judgement.ranking), len(LETTERS))
    return feedback.judge_item(ctx, user, assignment_id, judgement.verdict, positions)
