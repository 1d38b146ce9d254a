"""The annotator role and the campaign actions, role by role, with the shipped Rego policy.

The expected table is written out here, not read from data.json: a change to who may do what
with a feedback campaign must change this file too. Operators run campaigns (create, assign,
close) but never see or judge an item: judging is blind, and the people who chose the models are
not blind. Compliance and auditors read the results (counts, agreement, win rates; no text).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appliance.policy import EmbeddedEngine

from .conftest import PolicyCopy
from .inputs import dataset, request

ROLES = ("operator", "compliance", "auditor", "admin", "annotator")

CAMPAIGN_ALLOWED: dict[str, set[str]] = {
    "campaign.create": {"operator"},
    "campaign.list": {"operator", "compliance", "auditor", "annotator"},
    "campaign.show": {"operator", "compliance", "auditor"},
    "campaign.assign": {"operator"},
    "campaign.close": {"operator"},
    "campaign.results": {"operator", "compliance", "auditor"},
    "campaign.item.read": {"annotator"},
    "campaign.item.judge": {"annotator"},
}

OPEN = {"type": "campaign", "id": "cmp_1", "state": "OPEN", "created_by": "olivia"}
ITEM = {"type": "campaign_item", "id": "ca_1", "state": "OPEN", "owner": "pat"}

CONTEXT: dict[str, tuple[dict[str, Any], str | None]] = {
    "campaign.create": ({"type": "campaign", "id": "cmp_new"}, "feedback"),
    "campaign.list": ({"type": "campaign", "id": "*"}, "metadata"),
    "campaign.show": (OPEN, "metadata"),
    "campaign.assign": (OPEN, "feedback"),
    "campaign.close": (OPEN, "feedback"),
    "campaign.results": (OPEN, "metadata"),
    "campaign.item.read": (ITEM, "feedback"),
    "campaign.item.judge": (ITEM, "feedback"),
}

#: Everything else an annotator might try: none of it is ever allowed.
OTHER_ACTIONS: dict[str, tuple[dict[str, Any], str | None]] = {
    "dataset.list": ({"type": "dataset", "id": "*"}, "metadata"),
    "dataset.show": (dataset(), "metadata"),
    "dataset.read_sample": (dataset(), "review"),
    "dataset.read_for_training": (dataset(state="APPROVED", approvals=["carol"]), "training"),
    "job.read": ({"type": "job", "id": "job_1"}, None),
    "job.create": ({"type": "job", "id": "job_new"}, "training"),
    "model.read": ({"type": "model", "id": "m_1"}, None),
    "model.generate": ({"type": "model", "id": "m_1"}, "inference"),
    "model.score": ({"type": "model", "id": "m_1"}, "inference"),
    "audit.read": ({"type": "audit", "id": "log"}, "audit"),
    "user.manage": ({"type": "user", "id": "*"}, "administration"),
}

MATRIX = [(role, action, role in allowed) for action, allowed in CAMPAIGN_ALLOWED.items()
          for role in ROLES]


def test_the_catalogue_lists_every_campaign_action(engine: EmbeddedEngine) -> None:
    catalogue = engine.policy.data()["appliance"]["actions"]
    assert {a for a in catalogue if a.startswith("campaign.")} == set(CAMPAIGN_ALLOWED)
    assert set(engine.policy.data()["appliance"]["roles"]["annotator"]) == {
        a for a, roles in CAMPAIGN_ALLOWED.items() if "annotator" in roles}


@pytest.mark.parametrize(("role", "action", "allowed"), MATRIX,
                         ids=[f"{r}-{a}-{'allow' if ok else 'deny'}" for r, a, ok in MATRIX])
def test_campaign_role_matrix(engine: EmbeddedEngine, role: str, action: str,
                              allowed: bool) -> None:
    resource, purpose = CONTEXT[action]
    decision = engine.decide(request("pat", role, action, resource, purpose))
    assert decision.allow is allowed, decision.reasons
    if allowed:
        assert decision.reasons == [f"role: {role} may {action}"]
    else:
        assert f"role: {role} may not {action}" in decision.reasons


@pytest.mark.parametrize("action", sorted(OTHER_ACTIONS))
def test_annotator_gets_nothing_but_campaigns(engine: EmbeddedEngine, action: str) -> None:
    resource, purpose = OTHER_ACTIONS[action]
    decision = engine.decide(request("pat", "annotator", action, resource, purpose))
    assert not decision.allow
    assert decision.reasons == sorted([
        f"role: annotator may not {action}",
        f"role: annotators only judge the campaigns they are assigned to ({action})"])


@pytest.mark.parametrize("action", ["campaign.item.read", "campaign.item.judge"])
def test_only_the_assignee_sees_or_judges_an_item(engine: EmbeddedEngine, action: str) -> None:
    resource, purpose = CONTEXT[action]
    for other in ({**resource, "owner": "quinn"}, {k: v for k, v in resource.items()
                                                   if k != "owner"}, {**resource, "owner": ""}):
        decision = engine.decide(request("pat", "annotator", action, other, purpose))
        assert decision.reasons == ["assignment: campaign_item ca_1 is not assigned to pat"]


@pytest.mark.parametrize("action", ["campaign.item.read", "campaign.item.judge",
                                    "campaign.assign", "campaign.close"])
def test_a_closed_campaign_takes_no_more_work(engine: EmbeddedEngine, action: str) -> None:
    resource, purpose = CONTEXT[action]
    role = "annotator" if action.startswith("campaign.item") else "operator"
    decision = engine.decide(request("pat", role, action, {**resource, "state": "CLOSED"},
                                     purpose))
    assert not decision.allow
    assert decision.reasons == [
        f"state: {action} needs OPEN, {resource['type']} is CLOSED"]


def test_auditors_never_read_items_even_when_also_annotators(engine: EmbeddedEngine) -> None:
    resource, purpose = CONTEXT["campaign.item.read"]
    decision = engine.decide(request("pat", ["annotator", "auditor"], "campaign.item.read",
                                     resource, purpose))
    assert decision.reasons == [
        "role: auditors never read dataset contents (campaign.item.read)"]


def test_a_data_edit_cannot_hand_annotators_datasets(policy_copy: PolicyCopy) -> None:
    def grant(data: dict[str, Any]) -> None:
        data["roles"]["annotator"] += ["dataset.list", "dataset.read_sample", "audit.read"]

    engine = EmbeddedEngine(policy_copy(grant))
    for action in ("dataset.list", "dataset.read_sample", "audit.read"):
        resource, purpose = OTHER_ACTIONS[action]
        decision = engine.decide(request("pat", "annotator", action, resource, purpose))
        assert decision.reasons == [
            f"role: annotators only judge the campaigns they are assigned to ({action})"]


def test_a_misspelt_assignee_flag_refuses_to_load(policy_copy: PolicyCopy) -> None:
    def misspell(data: dict[str, Any]) -> None:
        data["actions"]["campaign.item.read"]["assignee_only"] = "yes"

    from appliance.errors import PolicyUnavailable

    with pytest.raises(PolicyUnavailable, match=r"assignee_only must be true or false"):
        EmbeddedEngine(policy_copy(misspell))


def test_the_shipped_data_is_valid_json(policy_dir: Path) -> None:
    data = json.loads((policy_dir / "appliance" / "data.json").read_text("utf-8"))
    assert data["roles"]["annotator"] == ["campaign.list", "campaign.item.read",
                                          "campaign.item.judge"]
