# METADATA
# scope: package
# title: Tests of the appliance authorization policy
# description: |
#   Run by tests/policy/test_rego_unit.py, through appliance/policy/rego_tests.py
#   (regopy has no `opa test`, and rego-cpp 1.5 cannot evaluate `with` against
#   this policy, so the runner applies each test's `with input as` itself).
#   Hence: at most one `with input as` per test, at the top level of its body,
#   and no `with data... as`; tests of edited data live in the Python suite,
#   which loads edited copies of data.json. The file is plain `opa test` too.
package appliance.authz_test

import data.appliance.authz

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------

_pending := {
	"type": "dataset", "id": "ds_1", "state": "PENDING_REVIEW", "classification": "internal",
	"uploaded_by": "olivia", "requested_by": null, "approvals": [],
}

_approved := {
	"type": "dataset", "id": "ds_1", "state": "APPROVED", "classification": "internal",
	"uploaded_by": "olivia", "requested_by": null, "approvals": ["carol"],
}

_restricted_one := {
	"type": "dataset", "id": "ds_2", "state": "PENDING_REVIEW", "classification": "restricted",
	"uploaded_by": "olivia", "requested_by": null, "approvals": ["carol"],
}

_restricted_two := {
	"type": "dataset", "id": "ds_2", "state": "APPROVED", "classification": "restricted",
	"uploaded_by": "olivia", "requested_by": null, "approvals": ["carol", "dmitri"],
}

_export_pending := {"type": "export", "id": "ex_1", "state": "PENDING_REVIEW", "requested_by": "olivia"}

_export_approved := {"type": "export", "id": "ex_1", "state": "APPROVED", "requested_by": "olivia"}

_req(name, role, action, resource) := {
	"user": {"name": name, "roles": [role]},
	"action": action,
	"resource": resource,
}

_read(name, role, action, resource, purpose) := {
	"user": {"name": name, "roles": [role]},
	"action": action,
	"resource": resource,
	"purpose": purpose,
}

# ---------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------

test_allow_operator_ingests if {
	authz.allow with input as _req("olivia", "operator", "dataset.ingest", {})
}

test_allow_decision_names_granting_role if {
	d := authz.decision with input as _req("olivia", "operator", "dataset.ingest", {})
	d == {"allow": true, "reasons": ["role: operator may dataset.ingest"]}
}

test_deny_auditor_ingests if {
	d := authz.decision with input as _req("audra", "auditor", "dataset.ingest", {})
	d == {"allow": false, "reasons": ["role: auditor may not dataset.ingest"]}
}

test_deny_admin_reads_sample if {
	d := authz.decision with input as _read("adam", "admin", "dataset.read_sample", _pending, "review")
	not d.allow
	"role: admin may not dataset.read_sample" in d.reasons
}

test_deny_auditor_reads_sample_names_guardrail if {
	d := authz.decision with input as _read("audra", "auditor", "dataset.read_sample", _pending, "review")
	not d.allow
	"role: auditor may not dataset.read_sample" in d.reasons
	"role: auditors never read dataset contents (dataset.read_sample)" in d.reasons
}

test_deny_auditor_holding_operator_role_reads_for_training if {
	d := authz.decision with input as {
		"user": {"name": "audra", "roles": ["operator", "auditor"]},
		"action": "dataset.read_for_training", "resource": _approved, "purpose": "training",
	}
	d.reasons == ["role: auditors never read dataset contents (dataset.read_for_training)"]
}

test_deny_compliance_holding_operator_role_creates_job if {
	d := authz.decision with input as {
		"user": {"name": "carol", "roles": ["operator", "compliance"]},
		"action": "job.create", "resource": {},
	}
	d.reasons == ["role: compliance never runs jobs (job.create)"]
}

test_deny_compliance_holding_operator_role_resumes_job if {
	d := authz.decision with input as {
		"user": {"name": "carol", "roles": ["operator", "compliance"]},
		"action": "job.resume", "resource": {"type": "job", "id": "job_1", "state": "RUNNING"},
		"purpose": "training",
	}
	d.reasons == ["role: compliance never runs jobs (job.resume)"]
}

test_allow_any_granting_role_of_several if {
	authz.allow with input as {
		"user": {"name": "x", "roles": ["auditor", "admin"]},
		"action": "keys.rotate", "resource": {},
	}
}

test_allow_admin_manages_users if {
	authz.allow with input as _req("adam", "admin", "user.manage", {"type": "user", "id": "*"})
}

test_deny_operator_rotates_keys if {
	not authz.allow with input as _req("olivia", "operator", "keys.rotate", {})
}

test_allow_auditor_verifies_audit_log if {
	authz.allow with input as _req("audra", "auditor", "audit.verify", {"type": "audit", "id": "log"})
}

test_deny_unknown_role if {
	d := authz.decision with input as _req("x", "superuser", "dataset.list", {})
	d.reasons == ["role: superuser may not dataset.list"]
}

# ---------------------------------------------------------------------------
# Missing or malformed input denies
# ---------------------------------------------------------------------------

test_deny_empty_input if {
	d := authz.decision with input as {}
	not d.allow
	"input: user.name is missing or empty" in d.reasons
	"input: user.roles must list at least one role name" in d.reasons
	"action: unknown action (missing)" in d.reasons
}

test_deny_unknown_action if {
	d := authz.decision with input as _req("olivia", "operator", "dataset.steal", {})
	d.reasons == ["action: unknown action dataset.steal"]
}

test_deny_missing_user_name if {
	d := authz.decision with input as {"user": {"roles": ["operator"]}, "action": "dataset.ingest"}
	d.reasons == ["input: user.name is missing or empty"]
}

test_deny_empty_user_name if {
	not authz.allow with input as _req("", "operator", "dataset.ingest", {})
}

test_deny_roles_not_a_list if {
	d := authz.decision with input as {"user": {"name": "olivia", "roles": "operator"}, "action": "dataset.ingest"}
	d.reasons == ["input: user.roles must list at least one role name"]
}

test_deny_missing_resource if {
	d := authz.decision with input as {
		"user": {"name": "carol", "roles": ["compliance"]},
		"action": "dataset.revoke",
	}
	not d.allow
	"resource: dataset.revoke needs a dataset resource, got (missing)" in d.reasons
	"resource: dataset.revoke needs the dataset's id" in d.reasons
	"state: dataset.revoke needs APPROVED, dataset is (missing)" in d.reasons
}

test_deny_resource_of_another_type if {
	d := authz.decision with input as _req("carol", "compliance", "dataset.revoke", object.union(_approved, {"type": "export"}))
	d.reasons == ["resource: dataset.revoke needs a dataset resource, got export"]
}

test_deny_resource_not_an_object if {
	not authz.allow with input as _req("carol", "compliance", "dataset.revoke", "ds_1")
}

test_deny_missing_state if {
	d := authz.decision with input as _read("olivia", "operator", "dataset.read_for_training", object.remove(_approved, ["state"]), "training")
	d.reasons == ["state: dataset.read_for_training needs APPROVED, dataset is (missing)"]
}

test_deny_missing_classification if {
	d := authz.decision with input as _req("carol", "compliance", "dataset.approve", object.remove(_pending, ["classification"]))
	d.reasons == ["classification: dataset ds_1 has a missing or unknown classification (missing)"]
}

test_deny_unknown_classification if {
	d := authz.decision with input as _req("carol", "compliance", "dataset.approve", object.union(_pending, {"classification": "top-secret"}))
	d.reasons == ["classification: dataset ds_1 has a missing or unknown classification top-secret"]
}

# ---------------------------------------------------------------------------
# Separation of duties
# ---------------------------------------------------------------------------

test_allow_compliance_approves_others_upload if {
	authz.allow with input as _req("carol", "compliance", "dataset.approve", _pending)
}

test_deny_uploader_approves_own_dataset if {
	d := authz.decision with input as _req("olivia", "compliance", "dataset.approve", _pending)
	d.reasons == ["separation_of_duties: olivia uploaded dataset ds_1 and cannot approve it"]
}

test_deny_uploader_rejects_own_dataset if {
	d := authz.decision with input as _req("olivia", "compliance", "dataset.reject", _pending)
	d.reasons == ["separation_of_duties: olivia uploaded dataset ds_1 and cannot reject it"]
}

test_deny_operator_approves_own_dataset_names_both_rules if {
	d := authz.decision with input as _req("olivia", "operator", "dataset.approve", _pending)
	d.reasons == [
		"role: operator may not dataset.approve",
		"separation_of_duties: olivia uploaded dataset ds_1 and cannot approve it",
	]
}

test_deny_approve_without_uploaded_by if {
	d := authz.decision with input as _req("carol", "compliance", "dataset.approve", object.remove(_pending, ["uploaded_by"]))
	d.reasons == ["separation_of_duties: dataset ds_1 does not say who uploaded it (uploaded_by), so the check cannot be made"]
}

test_deny_approve_with_null_uploaded_by if {
	not authz.allow with input as _req("carol", "compliance", "dataset.approve", object.union(_pending, {"uploaded_by": null}))
}

test_deny_requester_approves_own_export if {
	d := authz.decision with input as _req("olivia", "compliance", "model.export.approve", _export_pending)
	d.reasons == ["separation_of_duties: olivia requested export ex_1 and cannot approve it"]
}

test_allow_compliance_approves_others_export if {
	authz.allow with input as _req("carol", "compliance", "model.export.approve", _export_pending)
}

test_deny_export_approve_without_requested_by if {
	d := authz.decision with input as _req("carol", "compliance", "model.export.approve", object.remove(_export_pending, ["requested_by"]))
	d.reasons == ["separation_of_duties: export ex_1 does not say who requested it (requested_by), so the check cannot be made"]
}

test_deny_same_approver_twice if {
	d := authz.decision with input as _req("carol", "compliance", "dataset.approve", _restricted_one)
	d.reasons == ["separation_of_duties: carol already approved dataset ds_2; another approval must come from someone else"]
}

test_allow_second_distinct_approver if {
	authz.allow with input as _req("dmitri", "compliance", "dataset.approve", _restricted_one)
}

# ---------------------------------------------------------------------------
# Lifecycle states
# ---------------------------------------------------------------------------

test_allow_training_read_of_approved_dataset if {
	authz.allow with input as _read("olivia", "operator", "dataset.read_for_training", _approved, "training")
}

test_deny_training_read_of_pending_dataset if {
	d := authz.decision with input as _read("olivia", "operator", "dataset.read_for_training", object.union(_pending, {"approvals": ["carol"]}), "training")
	d.reasons == ["state: dataset.read_for_training needs APPROVED, dataset is PENDING_REVIEW"]
}

test_deny_training_read_of_revoked_dataset if {
	not authz.allow with input as _read("olivia", "operator", "dataset.read_for_training", object.union(_approved, {"state": "REVOKED"}), "training")
}

test_deny_approve_approved_dataset if {
	d := authz.decision with input as _req("dmitri", "compliance", "dataset.approve", object.union(_approved, {"approvals": []}))
	d.reasons == ["state: dataset.approve needs PENDING_REVIEW, dataset is APPROVED"]
}

test_deny_reject_rejected_dataset if {
	not authz.allow with input as _req("carol", "compliance", "dataset.reject", object.union(_pending, {"state": "REJECTED"}))
}

test_allow_revoke_approved_dataset if {
	authz.allow with input as _req("carol", "compliance", "dataset.revoke", _approved)
}

test_deny_revoke_pending_dataset if {
	d := authz.decision with input as _req("carol", "compliance", "dataset.revoke", _pending)
	d.reasons == ["state: dataset.revoke needs APPROVED, dataset is PENDING_REVIEW"]
}

test_allow_delete_approved_dataset if {
	authz.allow with input as _req("carol", "compliance", "dataset.delete", _approved)
}

test_allow_delete_pending_dataset if {
	authz.allow with input as _req("carol", "compliance", "dataset.delete", _pending)
}

test_allow_delete_revoked_dataset if {
	authz.allow with input as _req("carol", "compliance", "dataset.delete", object.union(_approved, {"state": "REVOKED"}))
}

test_deny_operator_deletes_dataset if {
	d := authz.decision with input as _req("olivia", "operator", "dataset.delete", _approved)
	d.reasons == ["role: operator may not dataset.delete"]
}

test_allow_sample_while_pending if {
	authz.allow with input as _read("carol", "compliance", "dataset.read_sample", _pending, "review")
}

test_allow_sample_once_approved if {
	authz.allow with input as _read("carol", "compliance", "dataset.read_sample", _approved, "review")
}

test_deny_sample_of_rejected_dataset if {
	not authz.allow with input as _read("carol", "compliance", "dataset.read_sample", object.union(_pending, {"state": "REJECTED"}), "review")
}

# ---------------------------------------------------------------------------
# Purpose
# ---------------------------------------------------------------------------

test_deny_sample_without_review_purpose if {
	d := authz.decision with input as _read("carol", "compliance", "dataset.read_sample", _pending, "training")
	d.reasons == ["purpose: dataset.read_sample needs purpose review, got training"]
}

test_deny_training_read_without_purpose if {
	d := authz.decision with input as _req("olivia", "operator", "dataset.read_for_training", _approved)
	d.reasons == ["purpose: dataset.read_for_training needs purpose training, got (missing)"]
}

# ---------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------

test_deny_training_on_restricted_with_one_approval if {
	d := authz.decision with input as _read("olivia", "operator", "dataset.read_for_training", object.union(_restricted_one, {"state": "APPROVED"}), "training")
	d.reasons == ["classification: restricted dataset ds_2 needs 2 distinct approval(s) before dataset.read_for_training, has 1"]
}

test_allow_training_on_restricted_with_two_approvals if {
	authz.allow with input as _read("olivia", "operator", "dataset.read_for_training", _restricted_two, "training")
}

test_deny_restricted_approvals_repeated_name_counts_once if {
	not authz.allow with input as _read("olivia", "operator", "dataset.read_for_training", object.union(_restricted_two, {"approvals": ["carol", "carol"]}), "training")
}

test_deny_restricted_approval_by_uploader_does_not_count if {
	not authz.allow with input as _read("olivia", "operator", "dataset.read_for_training", object.union(_restricted_two, {"approvals": ["carol", "olivia"]}), "training")
}

test_deny_training_without_any_approval if {
	d := authz.decision with input as _read("olivia", "operator", "dataset.read_for_training", object.union(_approved, {"approvals": []}), "training")
	d.reasons == ["classification: internal dataset ds_1 needs 1 distinct approval(s) before dataset.read_for_training, has 0"]
}

test_deny_training_with_approvals_missing if {
	not authz.allow with input as _read("olivia", "operator", "dataset.read_for_training", object.remove(_approved, ["approvals"]), "training")
}

test_allow_compliance_reads_restricted_sample if {
	authz.allow with input as _read("carol", "compliance", "dataset.read_sample", _restricted_one, "review")
}

test_deny_restricted_sample_for_other_roles_even_if_granted if {
	# An operator who also holds a role granting read_sample is still refused restricted
	# samples: the classification limits the action to compliance.
	d := authz.decision with input as {
		"user": {"name": "olivia", "roles": ["operator"]},
		"action": "dataset.read_sample", "resource": _restricted_one, "purpose": "review",
	}
	"classification: dataset.read_sample on restricted dataset ds_2 is limited to compliance" in d.reasons
}

# ---------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------

test_allow_requester_downloads_approved_export if {
	authz.allow with input as _req("olivia", "operator", "model.export.download", _export_approved)
}

test_deny_download_of_pending_export if {
	d := authz.decision with input as _req("olivia", "operator", "model.export.download", _export_pending)
	d.reasons == ["state: model.export.download needs APPROVED, export is PENDING_REVIEW"]
}

test_deny_download_by_another_operator if {
	d := authz.decision with input as _req("oscar", "operator", "model.export.download", _export_approved)
	d.reasons == ["ownership: only the requester (olivia) may download export ex_1"]
}

test_allow_operator_requests_export if {
	authz.allow with input as _req("olivia", "operator", "model.export.request", {"type": "model", "id": "m_1"})
}

test_deny_compliance_downloads_export if {
	not authz.allow with input as _req("carol", "compliance", "model.export.download", object.union(_export_approved, {"requested_by": "carol"}))
}

# ---------------------------------------------------------------------------
# Base models: registering one points training at a local directory of
# weights, an administrative act (DESIGN.md: admin), not an operator's
# ---------------------------------------------------------------------------

_base := {"type": "base_model", "id": "minilm-l12"}

test_allow_admin_registers_base_model if {
	d := authz.decision with input as _read("adam", "admin", "model.base.register", _base, "administration")
	d == {"allow": true, "reasons": ["role: admin may model.base.register"]}
}

test_deny_operator_registers_base_model if {
	d := authz.decision with input as _read("olivia", "operator", "model.base.register", _base, "administration")
	d == {"allow": false, "reasons": ["role: operator may not model.base.register"]}
}

test_deny_compliance_registers_base_model if {
	d := authz.decision with input as _read("carol", "compliance", "model.base.register", _base, "administration")
	d.reasons == ["role: compliance may not model.base.register"]
}

test_deny_auditor_registers_base_model if {
	d := authz.decision with input as _read("audra", "auditor", "model.base.register", _base, "administration")
	d.reasons == ["role: auditor may not model.base.register"]
}

test_deny_base_model_registration_without_a_name if {
	d := authz.decision with input as _read("adam", "admin", "model.base.register", {"type": "base_model"}, "administration")
	d.reasons == ["resource: model.base.register needs the base_model's id"]
}

# ---------------------------------------------------------------------------
# Resuming a job: its own action, so the audit log tells a resume from a
# new job; only a job still RUNNING (interrupted) is resumed
# ---------------------------------------------------------------------------

_running_job := {"type": "job", "id": "job_1", "state": "RUNNING", "created_by": "olivia"}

test_allow_operator_resumes_running_job if {
	d := authz.decision with input as _read("olivia", "operator", "job.resume", _running_job, "training")
	d == {"allow": true, "reasons": ["role: operator may job.resume"]}
}

test_deny_resume_of_finished_job if {
	d := authz.decision with input as _read("olivia", "operator", "job.resume", object.union(_running_job, {"state": "CANCELLED"}), "training")
	d.reasons == ["state: job.resume needs RUNNING, job is CANCELLED"]
}

test_deny_resume_without_job_state if {
	d := authz.decision with input as _read("olivia", "operator", "job.resume", object.remove(_running_job, ["state"]), "training")
	d.reasons == ["state: job.resume needs RUNNING, job is (missing)"]
}

test_deny_resume_of_another_resource_type if {
	d := authz.decision with input as _read("olivia", "operator", "job.resume", object.union(_running_job, {"type": "dataset"}), "training")
	d.reasons == ["resource: job.resume needs a job resource, got dataset"]
}

test_deny_compliance_resumes_job if {
	d := authz.decision with input as _read("carol", "compliance", "job.resume", _running_job, "training")
	d.reasons == ["role: compliance may not job.resume", "role: compliance never runs jobs (job.resume)"]
}

test_deny_auditor_resumes_job if {
	d := authz.decision with input as _read("audra", "auditor", "job.resume", _running_job, "training")
	d.reasons == ["role: auditor may not job.resume"]
}

test_deny_admin_resumes_job if {
	d := authz.decision with input as _read("adam", "admin", "job.resume", _running_job, "training")
	d.reasons == ["role: admin may not job.resume"]
}

# ---------------------------------------------------------------------------
# Generation: an operator's, from its trained models and from base models.
# A model can repeat what it was trained on, so generating is flagged as a
# read of contents: an auditor is refused even where data.json grants more
# ---------------------------------------------------------------------------

_sft_model := {"type": "model", "id": "mdl_1", "created_by": "olivia"}

test_allow_operator_generates_from_a_model if {
	d := authz.decision with input as _read("oscar", "operator", "model.generate", _sft_model, "inference")
	d == {"allow": true, "reasons": ["role: operator may model.generate"]}
}

test_allow_operator_generates_from_a_base_model if {
	authz.allow with input as _read("olivia", "operator", "model.generate", {"type": "base_model", "id": "smollm2-135m-instruct"}, "inference")
}

test_deny_compliance_generates if {
	d := authz.decision with input as _read("carol", "compliance", "model.generate", _sft_model, "inference")
	d.reasons == ["role: compliance may not model.generate"]
}

test_deny_auditor_generates if {
	d := authz.decision with input as _read("audra", "auditor", "model.generate", _sft_model, "inference")
	d.reasons == ["role: auditor may not model.generate", "role: auditors never read dataset contents (model.generate)"]
}

test_deny_admin_generates if {
	d := authz.decision with input as _read("adam", "admin", "model.generate", {"type": "base_model", "id": "smollm2-135m-instruct"}, "inference")
	d.reasons == ["role: admin may not model.generate"]
}

# ---------------------------------------------------------------------------
# Scoring: a reward model's score of answers the caller sends. Operators
# score, as they predict; the texts are the caller's own, not dataset
# contents, so it is not flagged as a read of contents
# ---------------------------------------------------------------------------

_reward_model := {"type": "model", "id": "mdl_2", "created_by": "olivia"}

test_allow_operator_scores if {
	d := authz.decision with input as _read("oscar", "operator", "model.score", _reward_model, "inference")
	d == {"allow": true, "reasons": ["role: operator may model.score"]}
}

test_deny_compliance_scores if {
	d := authz.decision with input as _read("carol", "compliance", "model.score", _reward_model, "inference")
	d.reasons == ["role: compliance may not model.score"]
}

test_deny_auditor_scores if {
	d := authz.decision with input as _read("audra", "auditor", "model.score", _reward_model, "inference")
	d.reasons == ["role: auditor may not model.score"]
}

test_deny_admin_scores if {
	d := authz.decision with input as _read("adam", "admin", "model.score", _reward_model, "inference")
	d.reasons == ["role: admin may not model.score"]
}

test_deny_annotator_scores if {
	d := authz.decision with input as _read("ann", "annotator", "model.score", _reward_model, "inference")
	d.reasons == [
		"role: annotator may not model.score",
		"role: annotators only judge the campaigns they are assigned to (model.score)",
	]
}

test_deny_score_a_base_model if {
	d := authz.decision with input as _read("oscar", "operator", "model.score", {"type": "base_model", "id": "minilm-l6"}, "inference")
	d.reasons == ["resource: model.score needs a model resource, got base_model"]
}

test_deny_score_without_the_model_id if {
	d := authz.decision with input as _read("oscar", "operator", "model.score", {"type": "model"}, "inference")
	d.reasons == ["resource: model.score needs the model's id"]
}

test_deny_score_to_every_role_but_operator if {
	"model.score" in data.appliance.roles.operator
	every role in ["compliance", "auditor", "admin", "annotator"] {
		not "model.score" in data.appliance.roles[role]
	}
}

# ---------------------------------------------------------------------------
# The data catalogue
# ---------------------------------------------------------------------------

test_data_catalogue_is_consistent if {
	count(authz.load_errors) == 0
}

test_every_role_in_design_exists if {
	every role in ["operator", "compliance", "auditor", "admin"] {
		data.appliance.roles[role]
	}
}

test_no_role_grants_contents_to_auditor if {
	every action in data.appliance.roles.auditor {
		not action in {"dataset.read_sample", "dataset.read_for_training", "model.generate"}
	}
}

test_deny_reasons_are_sorted_and_deterministic if {
	d := authz.decision with input as _read("audra", "auditor", "dataset.read_for_training", _pending, "x")
	d.reasons == sort(d.reasons)
	count(d.reasons) == 5
}

test_deny_generate_from_another_resource_type if {
	d := authz.decision with input as _read("oscar", "operator", "model.generate", {"type": "dataset", "id": "ds_1"}, "inference")
	d.reasons == ["resource: model.generate needs a base_model or model resource, got dataset"]
}

test_deny_generate_without_the_model_id if {
	d := authz.decision with input as _read("oscar", "operator", "model.generate", {"type": "model"}, "inference")
	d.reasons == ["resource: model.generate needs the model's id"]
}

# ---------------------------------------------------------------------------
# Feedback campaigns and the annotator role
# ---------------------------------------------------------------------------

_campaign_open := {"type": "campaign", "id": "cmp_1", "state": "OPEN"}

_campaign_closed := {"type": "campaign", "id": "cmp_1", "state": "CLOSED"}

_item_of_ann := {"type": "campaign_item", "id": "ca_1", "state": "OPEN", "owner": "ann"}

_item_closed := {"type": "campaign_item", "id": "ca_1", "state": "CLOSED", "owner": "ann"}

test_allow_operator_creates_campaign if {
	authz.allow with input as _read("olivia", "operator", "campaign.create", {"type": "campaign", "id": "cmp_new"}, "feedback")
}

test_deny_compliance_creates_campaign if {
	d := authz.decision with input as _read("carol", "compliance", "campaign.create", {"type": "campaign", "id": "cmp_new"}, "feedback")
	d.reasons == ["role: compliance may not campaign.create"]
}

test_allow_operator_closes_open_campaign if {
	authz.allow with input as _read("olivia", "operator", "campaign.close", _campaign_open, "feedback")
}

test_deny_close_of_closed_campaign if {
	d := authz.decision with input as _read("olivia", "operator", "campaign.close", _campaign_closed, "feedback")
	d.reasons == ["state: campaign.close needs OPEN, campaign is CLOSED"]
}

test_deny_assign_on_closed_campaign if {
	d := authz.decision with input as _req("olivia", "operator", "campaign.assign", _campaign_closed)
	d.reasons == ["state: campaign.assign needs OPEN, campaign is CLOSED"]
}

test_allow_auditor_reads_results if {
	authz.allow with input as _req("audra", "auditor", "campaign.results", _campaign_closed)
}

test_allow_compliance_reads_results if {
	authz.allow with input as _req("carol", "compliance", "campaign.results", _campaign_open)
}

test_deny_annotator_reads_results if {
	d := authz.decision with input as _req("ann", "annotator", "campaign.results", _campaign_open)
	not d.allow
	"role: annotator may not campaign.results" in d.reasons
}

test_allow_assignee_reads_item if {
	d := authz.decision with input as _read("ann", "annotator", "campaign.item.read", _item_of_ann, "feedback")
	d == {"allow": true, "reasons": ["role: annotator may campaign.item.read"]}
}

test_allow_assignee_judges_item if {
	authz.allow with input as _read("ann", "annotator", "campaign.item.judge", _item_of_ann, "feedback")
}

test_deny_another_annotator_reads_item if {
	d := authz.decision with input as _read("bea", "annotator", "campaign.item.read", _item_of_ann, "feedback")
	d.reasons == ["assignment: campaign_item ca_1 is not assigned to bea"]
}

test_deny_another_annotator_judges_item if {
	d := authz.decision with input as _read("bea", "annotator", "campaign.item.judge", _item_of_ann, "feedback")
	d.reasons == ["assignment: campaign_item ca_1 is not assigned to bea"]
}

test_deny_item_without_owner if {
	d := authz.decision with input as _read("ann", "annotator", "campaign.item.read", {"type": "campaign_item", "id": "ca_1", "state": "OPEN"}, "feedback")
	d.reasons == ["assignment: campaign_item ca_1 is not assigned to ann"]
}

test_deny_judging_item_of_closed_campaign if {
	d := authz.decision with input as _read("ann", "annotator", "campaign.item.judge", _item_closed, "feedback")
	d.reasons == ["state: campaign.item.judge needs OPEN, campaign_item is CLOSED"]
}

test_deny_item_read_without_feedback_purpose if {
	d := authz.decision with input as _read("ann", "annotator", "campaign.item.read", _item_of_ann, "training")
	d.reasons == ["purpose: campaign.item.read needs purpose feedback, got training"]
}

test_deny_operator_reads_item if {
	d := authz.decision with input as _read("ann", "operator", "campaign.item.read", _item_of_ann, "feedback")
	d.reasons == ["role: operator may not campaign.item.read"]
}

test_deny_auditor_reads_item_names_guardrail if {
	d := authz.decision with input as _read("ann", "auditor", "campaign.item.read", _item_of_ann, "feedback")
	"role: auditors never read dataset contents (campaign.item.read)" in d.reasons
}

test_deny_annotator_lists_datasets_names_guardrail if {
	d := authz.decision with input as _req("ann", "annotator", "dataset.list", {})
	d.reasons == [
		"role: annotator may not dataset.list",
		"role: annotators only judge the campaigns they are assigned to (dataset.list)",
	]
}

test_deny_annotator_holding_auditor_role_reads_audit if {
	d := authz.decision with input as {
		"user": {"name": "ann", "roles": ["auditor", "annotator"]},
		"action": "audit.read", "resource": {},
	}
	d.reasons == ["role: annotators only judge the campaigns they are assigned to (audit.read)"]
}

test_allow_annotator_lists_campaigns if {
	authz.allow with input as _req("ann", "annotator", "campaign.list", {})
}

test_deny_any_annotator_grant_outside_campaigns if {
	every action in data.appliance.roles.annotator {
		startswith(action, "campaign.")
	}
}
