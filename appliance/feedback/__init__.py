"""Feedback campaigns: candidates generated from approved prompts, judged blind by annotators,
closed into a preference dataset (DESIGN.md, "How data flows"; docs/internals.md)."""

from appliance.feedback.agreement import cohen_kappa
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
from appliance.feedback.store import CLOSED, OPEN, CampaignInfo

__all__ = [
    "CLOSED", "OPEN", "VERDICTS", "CampaignInfo", "ItemView", "assign_reviewers",
    "campaign_results", "close_campaign", "cohen_kappa", "create_campaign", "judge_item",
    "list_campaigns", "next_assignment", "open_item", "parse_labels", "show_campaign",
]
