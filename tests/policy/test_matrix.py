"""The full role x action matrix, against resources that satisfy every other rule.

The expected table is written out here, not read from data.json: a change to who may do what
must change this file too, in the same review.
"""

from __future__ import annotations

from typing import Any

import pytest

from appliance.policy import EmbeddedEngine

from .inputs import dataset, export, request

ROLES = ("operator", "compliance", "auditor", "admin", "annotator")

# DESIGN.md's role table, action by action.
ALLOWED: dict[str, set[str]] = {
    "dataset.ingest": {"operator"},
    "dataset.list": {"operator", "compliance", "auditor"},
    "dataset.show": {"operator", "compliance", "auditor"},
    "dataset.report": {"compliance"},
    "dataset.read_sample": {"compliance"},
    "dataset.approve": {"compliance"},
    "dataset.reject": {"compliance"},
    "dataset.revoke": {"compliance"},
    "dataset.delete": {"compliance"},
    "dataset.read_for_training": {"operator"},
    "job.create": {"operator"},
    "job.resume": {"operator"},
    "job.cancel": {"operator"},
    "job.read": {"operator", "compliance", "auditor"},
    "model.read": {"operator", "compliance", "auditor"},
    "model.base.register": {"admin"},
    "model.predict": {"operator"},
    "model.score": {"operator"},
    "model.generate": {"operator"},
    "campaign.create": {"operator"},
    "campaign.list": {"operator", "compliance", "auditor", "annotator"},
    "campaign.show": {"operator", "compliance", "auditor"},
    "campaign.assign": {"operator"},
    "campaign.close": {"operator"},
    "campaign.results": {"operator", "compliance", "auditor"},
    "campaign.item.read": {"annotator"},
    "campaign.item.judge": {"annotator"},
    "model.export.request": {"operator"},
    "model.export.approve": {"compliance"},
    "model.export.reject": {"compliance"},
    "model.export.download": {"operator"},
    "audit.read": {"compliance", "auditor"},
    "audit.export": {"compliance", "auditor"},
    "audit.verify": {"compliance", "auditor"},
    "user.manage": {"admin"},
    "keys.rotate": {"admin"},
    "policy.check": {"admin"},
}

# For each action, a resource and purpose under which only the role decides: the caller
# ("pat") uploaded and requested nothing, except the export they download.
CONTEXT: dict[str, tuple[dict[str, Any], str | None]] = {
    "dataset.ingest": ({"type": "dataset", "id": "ds_new", "classification": "internal"}, "ingest"),
    "dataset.list": ({"type": "dataset", "id": "*"}, "metadata"),
    "dataset.show": (dataset(), "metadata"),
    "dataset.report": (dataset(), "review"),
    "dataset.read_sample": (dataset(), "review"),
    "dataset.approve": (dataset(), "review"),
    "dataset.reject": (dataset(), "review"),
    "dataset.revoke": (dataset(state="APPROVED", approvals=["carol"]), "review"),
    "dataset.delete": (dataset(state="REVOKED"), "retention"),
    "dataset.read_for_training": (dataset(state="APPROVED", approvals=["carol"]), "training"),
    "job.create": ({"type": "job", "id": "job_new"}, "training"),
    "job.resume": ({"type": "job", "id": "job_1", "state": "RUNNING"}, "training"),
    "job.cancel": ({"type": "job", "id": "job_1"}, None),
    "job.read": ({"type": "job", "id": "job_1"}, None),
    "model.read": ({"type": "model", "id": "m_1"}, None),
    "model.base.register": ({"type": "base_model", "id": "minilm-l12"}, "administration"),
    "model.predict": ({"type": "model", "id": "m_1"}, None),
    "model.score": ({"type": "model", "id": "m_1"}, "inference"),
    "model.generate": ({"type": "model", "id": "m_1", "created_by": "olivia"}, "inference"),
    "campaign.create": ({"type": "campaign", "id": "cmp_new"}, "feedback"),
    "campaign.list": ({"type": "campaign", "id": "*"}, "metadata"),
    "campaign.show": ({"type": "campaign", "id": "cmp_1", "state": "OPEN"}, "metadata"),
    "campaign.assign": ({"type": "campaign", "id": "cmp_1", "state": "OPEN"}, "feedback"),
    "campaign.close": ({"type": "campaign", "id": "cmp_1", "state": "OPEN"}, "feedback"),
    "campaign.results": ({"type": "campaign", "id": "cmp_1", "state": "OPEN"}, "metadata"),
    "campaign.item.read": ({"type": "campaign_item", "id": "ca_1", "state": "OPEN",
                            "owner": "pat"}, "feedback"),
    "campaign.item.judge": ({"type": "campaign_item", "id": "ca_1", "state": "OPEN",
                             "owner": "pat"}, "feedback"),
    "model.export.request": ({"type": "model", "id": "m_1"}, "export"),
    "model.export.approve": (export(), "review"),
    "model.export.reject": (export(), "review"),
    "model.export.download": (export(state="APPROVED", requested_by="pat"), "export"),
    "audit.read": ({"type": "audit", "id": "log"}, "audit"),
    "audit.export": ({"type": "audit", "id": "log"}, "audit"),
    "audit.verify": ({"type": "audit", "id": "log"}, "audit"),
    "user.manage": ({"type": "user", "id": "*"}, "administration"),
    "keys.rotate": ({"type": "keys", "id": "master"}, "administration"),
    "policy.check": ({"type": "policy", "id": "dataset.approve"}, "administration"),
}

MATRIX = [(role, action, role in allowed) for action, allowed in ALLOWED.items()
          for role in ROLES]


def test_matrix_covers_every_action_in_the_catalogue(engine: EmbeddedEngine) -> None:
    catalogue = set(engine.policy.data()["appliance"]["actions"])
    assert catalogue == set(ALLOWED) == set(CONTEXT)


@pytest.mark.parametrize(("role", "action", "allowed"), MATRIX,
                         ids=[f"{r}-{a}-{'allow' if ok else 'deny'}" for r, a, ok in MATRIX])
def test_role_action_matrix(engine: EmbeddedEngine, role: str, action: str,
                            allowed: bool) -> None:
    resource, purpose = CONTEXT[action]
    decision = engine.decide(request("pat", role, action, resource, purpose))
    assert decision.allow is allowed, decision.reasons
    if allowed:
        assert decision.reasons == [f"role: {role} may {action}"]
    else:
        assert f"role: {role} may not {action}" in decision.reasons
    assert decision.policy_hash == engine.policy_hash


@pytest.mark.parametrize("action", ["dataset.read_sample", "dataset.read_for_training",
                                    "model.generate"])
def test_auditor_never_reads_contents_even_with_another_granting_role(
        engine: EmbeddedEngine, action: str) -> None:
    resource, purpose = CONTEXT[action]
    decision = engine.decide(request("pat", ["operator", "compliance", "auditor"], action,
                                     resource, purpose))
    assert not decision.allow
    assert decision.reasons == [f"role: auditors never read dataset contents ({action})"]


@pytest.mark.parametrize("action", ["job.create", "job.resume"])
def test_compliance_never_runs_jobs_even_with_operator_role(engine: EmbeddedEngine,
                                                            action: str) -> None:
    resource, purpose = CONTEXT[action]
    assert engine.decide(request("pat", ["operator"], action, resource, purpose)).allow
    decision = engine.decide(request("pat", ["operator", "compliance"], action,
                                     resource, purpose))
    assert decision.reasons == [f"role: compliance never runs jobs ({action})"]


@pytest.mark.parametrize("roles", [[], ["root"], [""], [None], "operator", None])
def test_no_usable_role_denies_everything(engine: EmbeddedEngine, roles: Any) -> None:
    for action in ALLOWED:
        resource, purpose = CONTEXT[action]
        document = request("pat", "operator", action, resource, purpose)
        document["user"]["roles"] = roles
        assert not engine.decide(document).allow, (roles, action)
