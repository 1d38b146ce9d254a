"""Feedback campaigns: candidates generated from approved prompts, judged blind by annotators,
closed into a preference dataset (DESIGN.md, "How data flows"; docs/internals.md)."""

from appliance.feedback.agreement import cohen_kappa
from appliance.feedback.generation import (
    generate_candidates,
    recover_campaigns,
    wait_for_campaign,
)
from appliance.feedback.judging import VERDICTS, parse_labels
from appliance.feedback.service import (
    ItemView,
    assign_reviewers,
    campaign_results,
    close_campaign,
    create_campaign,
    judge_item,
    list_campaigns,
    next_assignment,
    open_item,
    show_campaign,
)
from appliance.feedback.store import CLOSED, FAILED, GENERATING, OPEN, CampaignInfo

__all__ = [
    "CLOSED", "FAILED", "GENERATING", "OPEN", "VERDICTS", "CampaignInfo", "ItemView",
    "assign_reviewers", "campaign_results", "close_campaign", "cohen_kappa", "create_campaign",
    "generate_candidates", "judge_item", "list_campaigns", "next_assignment", "open_item",
    "parse_labels", "recover_campaigns", "show_campaign", "wait_for_campaign",
]
