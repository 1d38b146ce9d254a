"""The rules beyond the role table: separation of duties, lifecycle states, purpose,
classification, export ownership, and missing input. More rows deny than allow, on purpose."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.policy import EmbeddedEngine

from .inputs import dataset, export, request

APPROVED = dataset(state="APPROVED", approvals=["carol"])
RESTRICTED_ONE = dataset(id="ds_2", classification="restricted", approvals=["carol"])
RESTRICTED_TWO = dataset(id="ds_2", classification="restricted", state="APPROVED",
                         approvals=["carol", "dmitri"])

# (case, input, allowed, the reasons expected when denied: all of them, in order)
CASES: list[tuple[str, dict[str, Any], bool, list[str]]] = [
    # Separation of duties: datasets.
    ("compliance approves another's upload",
     request("carol", "compliance", "dataset.approve", dataset()), True, []),
    ("uploader approves own dataset",
     request("olivia", "compliance", "dataset.approve", dataset()), False,
     ["separation_of_duties: olivia uploaded dataset ds_1 and cannot approve it"]),
    ("uploader rejects own dataset",
     request("olivia", "compliance", "dataset.reject", dataset()), False,
     ["separation_of_duties: olivia uploaded dataset ds_1 and cannot reject it"]),
    ("operator approves own upload: both rules named",
     request("olivia", "operator", "dataset.approve", dataset()), False,
     ["role: operator may not dataset.approve",
      "separation_of_duties: olivia uploaded dataset ds_1 and cannot approve it"]),
    ("approve a dataset that does not say who uploaded it",
     request("carol", "compliance", "dataset.approve", dataset(uploaded_by=None)), False,
     ["separation_of_duties: dataset ds_1 does not say who uploaded it (uploaded_by), "
      "so the check cannot be made"]),
    ("approve with an empty uploader",
     request("carol", "compliance", "dataset.approve", dataset(uploaded_by="")), False,
     ["separation_of_duties: dataset ds_1 does not say who uploaded it (uploaded_by), "
      "so the check cannot be made"]),
    ("same reviewer approves twice",
     request("carol", "compliance", "dataset.approve", RESTRICTED_ONE), False,
     ["separation_of_duties: carol already approved dataset ds_2; another approval must come "
      "from someone else"]),
    ("second distinct reviewer approves",
     request("dmitri", "compliance", "dataset.approve", RESTRICTED_ONE), True, []),
    # Separation of duties: exports.
    ("compliance approves another's export request",
     request("carol", "compliance", "model.export.approve", export()), True, []),
    ("requester approves own export",
     request("olivia", "compliance", "model.export.approve", export()), False,
     ["separation_of_duties: olivia requested export ex_1 and cannot approve it"]),
    ("requester rejects own export",
     request("olivia", "compliance", "model.export.reject", export()), False,
     ["separation_of_duties: olivia requested export ex_1 and cannot reject it"]),
    ("approve an export that does not say who requested it",
     request("carol", "compliance", "model.export.approve", export(requested_by=None)), False,
     ["separation_of_duties: export ex_1 does not say who requested it (requested_by), "
      "so the check cannot be made"]),
    # Lifecycle states.
    ("training read of an approved dataset",
     request("olivia", "operator", "dataset.read_for_training", APPROVED, "training"), True, []),
    ("training read of a pending dataset",
     request("olivia", "operator", "dataset.read_for_training",
             dataset(approvals=["carol"]), "training"), False,
     ["state: dataset.read_for_training needs APPROVED, dataset is PENDING_REVIEW"]),
    ("training read of a revoked dataset",
     request("olivia", "operator", "dataset.read_for_training",
             dataset(state="REVOKED", approvals=["carol"]), "training"), False,
     ["state: dataset.read_for_training needs APPROVED, dataset is REVOKED"]),
    ("training read of a rejected dataset",
     request("olivia", "operator", "dataset.read_for_training",
             dataset(state="REJECTED"), "training"), False,
     ["classification: internal dataset ds_1 needs 1 distinct approval(s) before "
      "dataset.read_for_training, has 0",
      "state: dataset.read_for_training needs APPROVED, dataset is REJECTED"]),
    ("approve an approved dataset",
     request("dmitri", "compliance", "dataset.approve", dataset(state="APPROVED")), False,
     ["state: dataset.approve needs PENDING_REVIEW, dataset is APPROVED"]),
    ("reject a rejected dataset",
     request("carol", "compliance", "dataset.reject", dataset(state="REJECTED")), False,
     ["state: dataset.reject needs PENDING_REVIEW, dataset is REJECTED"]),
    ("revoke a pending dataset",
     request("carol", "compliance", "dataset.revoke", dataset()), False,
     ["state: dataset.revoke needs APPROVED, dataset is PENDING_REVIEW"]),
    ("revoke an approved dataset",
     request("carol", "compliance", "dataset.revoke", APPROVED), True, []),
    ("sample a rejected dataset",
     request("carol", "compliance", "dataset.read_sample", dataset(state="REJECTED"), "review"),
     False, ["state: dataset.read_sample needs PENDING_REVIEW or APPROVED, dataset is REJECTED"]),
    ("download a pending export",
     request("olivia", "operator", "model.export.download", export()), False,
     ["state: model.export.download needs APPROVED, export is PENDING_REVIEW"]),
    # Purpose limitation.
    ("sample read for training",
     request("carol", "compliance", "dataset.read_sample", dataset(), "training"), False,
     ["purpose: dataset.read_sample needs purpose review, got training"]),
    ("training read without a purpose",
     request("olivia", "operator", "dataset.read_for_training", APPROVED), False,
     ["purpose: dataset.read_for_training needs purpose training, got (missing)"]),
    # Classification.
    ("restricted dataset with one approval read for training",
     request("olivia", "operator", "dataset.read_for_training",
             {**RESTRICTED_ONE, "state": "APPROVED"}, "training"), False,
     ["classification: restricted dataset ds_2 needs 2 distinct approval(s) before "
      "dataset.read_for_training, has 1"]),
    ("restricted dataset with two approvals read for training",
     request("olivia", "operator", "dataset.read_for_training", RESTRICTED_TWO, "training"),
     True, []),
    ("restricted approvals by the same person count once",
     request("olivia", "operator", "dataset.read_for_training",
             {**RESTRICTED_TWO, "approvals": ["carol", "carol"]}, "training"), False,
     ["classification: restricted dataset ds_2 needs 2 distinct approval(s) before "
      "dataset.read_for_training, has 1"]),
    ("an approval by the uploader does not count",
     request("olivia", "operator", "dataset.read_for_training",
             {**RESTRICTED_TWO, "approvals": ["carol", "olivia"]}, "training"), False,
     ["classification: restricted dataset ds_2 needs 2 distinct approval(s) before "
      "dataset.read_for_training, has 1"]),
    ("approved dataset with no approval on record",
     request("olivia", "operator", "dataset.read_for_training",
             dataset(state="APPROVED"), "training"), False,
     ["classification: internal dataset ds_1 needs 1 distinct approval(s) before "
      "dataset.read_for_training, has 0"]),
    ("compliance reads a restricted sample",
     request("carol", "compliance", "dataset.read_sample", RESTRICTED_ONE, "review"), True, []),
    ("unknown classification",
     request("carol", "compliance", "dataset.approve", dataset(classification="secret")), False,
     ["classification: dataset ds_1 has a missing or unknown classification secret"]),
    # Export ownership.
    ("requester downloads an approved export",
     request("olivia", "operator", "model.export.download", export(state="APPROVED")), True, []),
    ("another operator downloads it",
     request("oscar", "operator", "model.export.download", export(state="APPROVED")), False,
     ["ownership: only the requester (olivia) may download export ex_1"]),
    ("export without a requester",
     request("oscar", "operator", "model.export.download",
             export(state="APPROVED", requested_by=None)), False,
     ["ownership: only the requester ((missing)) may download export ex_1"]),
    # Missing and malformed input.
    ("empty input", {}, False,
     ["action: unknown action (missing)", "input: user.name is missing or empty",
      "input: user.roles must list at least one role name"]),
    ("unknown action", request("olivia", "operator", "dataset.exfiltrate"), False,
     ["action: unknown action dataset.exfiltrate"]),
    ("action of the wrong type", {**request("olivia", "operator", "x"), "action": 7}, False,
     ["action: unknown action 7"]),
    ("no user name", {"user": {"roles": ["operator"]}, "action": "dataset.ingest"}, False,
     ["input: user.name is missing or empty"]),
    ("user name not a string", request(7, "operator", "dataset.ingest"), False,  # type: ignore[arg-type]
     ["input: user.name is missing or empty"]),
    ("user is not an object", {"user": "olivia", "action": "dataset.ingest"}, False,
     ["input: user.name is missing or empty",
      "input: user.roles must list at least one role name"]),
    ("no resource for an action on one",
     {"user": {"name": "carol", "roles": ["compliance"]}, "action": "dataset.revoke"}, False,
     ["resource: dataset.revoke needs a dataset resource, got (missing)",
      "resource: dataset.revoke needs the dataset's id",
      "state: dataset.revoke needs APPROVED, dataset is (missing)"]),
    ("resource of another type",
     request("carol", "compliance", "dataset.revoke", {**APPROVED, "type": "export"}), False,
     ["resource: dataset.revoke needs a dataset resource, got export"]),
    ("resource without an id",
     request("carol", "compliance", "dataset.revoke", {**APPROVED, "id": ""}), False,
     ["resource: dataset.revoke needs the dataset's id"]),
    ("resource is a string",
     request("carol", "compliance", "dataset.revoke", "ds_1"), False,  # type: ignore[arg-type]
     ["resource: dataset.revoke needs a dataset resource, got (missing)",
      "resource: dataset.revoke needs the dataset's id",
      "state: dataset.revoke needs APPROVED, dataset is (missing)"]),
    ("no state", request("olivia", "operator", "dataset.read_for_training",
                         {k: v for k, v in APPROVED.items() if k != "state"}, "training"), False,
     ["state: dataset.read_for_training needs APPROVED, dataset is (missing)"]),
    ("no approvals list", request("olivia", "operator", "dataset.read_for_training",
                                  {k: v for k, v in APPROVED.items() if k != "approvals"},
                                  "training"), False,
     ["classification: internal dataset ds_1 needs 1 distinct approval(s) before "
      "dataset.read_for_training, has 0"]),
    ("no classification", request("carol", "compliance", "dataset.approve",
                                  {k: v for k, v in dataset().items() if k != "classification"}),
     False, ["classification: dataset ds_1 has a missing or unknown classification (missing)"]),
]


@pytest.mark.parametrize(("document", "allowed", "reasons"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_rule(engine: EmbeddedEngine, document: dict[str, Any], allowed: bool,
              reasons: list[str]) -> None:
    decision = engine.decide(document)
    assert decision.allow is allowed, decision.reasons
    if not allowed:
        assert decision.reasons == reasons


def test_restricted_samples_are_for_compliance_only_even_if_data_grants_more(
        policy_copy: object) -> None:
    # A site that grants read_sample to operators still cannot show them restricted data.
    def grant(data: dict[str, Any]) -> None:
        data["roles"]["operator"].append("dataset.read_sample")

    site = EmbeddedEngine(policy_copy(edit_data=grant))  # type: ignore[operator]
    assert site.decide(request("olivia", "operator", "dataset.read_sample", dataset(),
                               "review")).allow
    decision = site.decide(request("oscar", "operator", "dataset.read_sample", RESTRICTED_ONE,
                                   "review"))
    assert decision.reasons == [
        "classification: dataset.read_sample on restricted dataset ds_2 is limited to compliance"]


def test_data_cannot_grant_contents_to_auditors(policy_copy: object) -> None:
    def grant(data: dict[str, Any]) -> None:
        data["roles"]["auditor"] += ["dataset.read_sample", "dataset.read_for_training"]

    site = EmbeddedEngine(policy_copy(edit_data=grant))  # type: ignore[operator]
    for action, resource, purpose in (("dataset.read_sample", dataset(), "review"),
                                      ("dataset.read_for_training", APPROVED, "training")):
        decision = site.decide(request("audra", "auditor", action, resource, purpose))
        assert decision.reasons == [f"role: auditors never read dataset contents ({action})"]


def test_site_changes_behaviour_by_editing_data(policy_copy: object) -> None:
    # Three approvals for confidential data, and auditors may read reports: no Python changes.
    def edit(data: dict[str, Any]) -> None:
        data["classifications"]["confidential"]["approvals_required"] = 3
        data["roles"]["auditor"].append("dataset.report")

    site = EmbeddedEngine(policy_copy(edit_data=edit))  # type: ignore[operator]
    confidential = dataset(classification="confidential", state="APPROVED",
                           approvals=["carol", "dmitri"])
    decision = site.decide(request("olivia", "operator", "dataset.read_for_training",
                                   confidential, "training"))
    assert decision.reasons == ["classification: confidential dataset ds_1 needs 3 distinct "
                                "approval(s) before dataset.read_for_training, has 2"]
    assert site.decide(request("audra", "auditor", "dataset.report", dataset(), "review")).allow


def test_reasons_carry_unusual_names_verbatim(engine: EmbeddedEngine) -> None:
    # Quotes, backslashes and non-ASCII text in a name must neither break the engine's output
    # nor change the decision.
    name = 'Zoë "x"], "allow": true, "y": ["\\'
    decision = engine.decide(request(name, "compliance", "dataset.approve",
                                     dataset(uploaded_by=name)))
    assert not decision.allow
    assert decision.reasons == [f"separation_of_duties: {name} uploaded dataset ds_1 and "
                                "cannot approve it"]
