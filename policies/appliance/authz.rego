# METADATA
# scope: package
# title: Appliance authorization
# description: |
#   The one decision point for every action on the appliance. Callers read
#   `data.appliance.authz.decision`, an object {"allow": bool, "reasons": [string]}.
#   The input document is described in docs/internals.md (policy section):
#   {"user": {"name", "roles"}, "action", "resource": {"type", "id", "state",
#   "classification", "uploaded_by", "requested_by", "approvals"}, "purpose"}.
#
#   Model: default deny. A request is allowed only when a role of the user grants
#   the action (data.appliance.roles) and no check below is violated. What each
#   action demands of its resource (type, state, purpose, separation of duties,
#   classification, approvals) is declared in data.appliance.actions, and what a
#   classification demands in data.appliance.classifications, so a site changes
#   behaviour by editing data.json or this file, never Python.
#
#   Each check is written as the negation of a positive helper rule
#   (`not _state_ok`), so a missing or malformed input field makes the check
#   fail and the request is denied, instead of the rule silently not applying.
#
#   A failed check adds its constant name to `_violations`, and `allow` looks
#   only at those names. The human-readable reason is built separately, in
#   `_reason[name]`, only for the checks that failed: if building a text ever
#   fails (a data value of the wrong type, say), the request is still denied
#   and a generic reason names the check. Each reason starts with the rule that
#   produced it ("role:", "state:", "separation_of_duties:", ...).
#
#   Reason texts are built with concat, never sprintf("%s") of a computed
#   string: rego-cpp 1.5 embeds such a string with its JSON quotes (see
#   tests/policy/test_regopy_quirks.py). Rules are
#   kept cheap to evaluate (no iteration over the data tables, no functions on
#   the allow path) because every request pays for them.
package appliance.authz

# ---------------------------------------------------------------------------
# The decision
# ---------------------------------------------------------------------------

# METADATA
# title: Default deny
# description: Nothing is allowed unless the allow rule below proves it.
default allow := false

# METADATA
# title: Allow
# description: |
#   Allowed when some role of the user grants the action and no check is
#   violated. The positive grant is required on its own, so nothing that is
#   not granted can be allowed, whatever the checks make of the input.
allow if {
	_role_grants_action
	count(_violations) == 0
}

# METADATA
# title: Decision
# description: |
#   The document every caller reads. On allow, the one reason says which role
#   granted the action; on deny, the reasons name every violated check, sorted,
#   so the same request always produces the same reasons.
decision := {"allow": allow, "reasons": _reasons}

_reasons := [concat("", ["role: ", concat(", ", sort(_granting_roles)), " may ", input.action])] if {
	allow
} else := [reason | some reason in sort(deny)] if {
	# The comprehension copies sort()'s result: rego-cpp 1.5 returns sort() of a set as a
	# value that compares unequal to any array and cannot be indexed.
	count(deny) > 0
} else := ["default_deny: no rule allows this request"]

# METADATA
# title: Deny reasons
# description: One human-readable reason per violated check.
deny contains msg if {
	some name in _violations
	msg := _reason[name]
}

# METADATA
# title: Fallback deny reason
# description: A violated check whose reason could not be built is still named, never silent.
deny contains msg if {
	some name in _violations
	not _reason[name]
	msg := concat("", [name, ": denied (the reason text could not be built; check data.json)"])
}

# ---------------------------------------------------------------------------
# Input: who is asking, and for what
# ---------------------------------------------------------------------------

# METADATA
# title: User name
# description: The caller's name, when it is a non-empty string; separation of duties compares it with the resource.
_user_name := name if {
	name := input.user.name
	is_string(name)
	name != ""
}

# METADATA
# title: User has roles
# description: True when the caller has at least one role name.
_has_roles if {
	some role in input.user.roles
	is_string(role)
}

# METADATA
# title: Action specification
# description: What data.appliance.actions demands of this action; undefined for unknown actions.
_spec := data.appliance.actions[input.action]

# METADATA
# title: Input names the user
# description: Violated when the caller's name is missing or empty.
_violations contains "input.user" if not _user_name

_reason["input.user"] := "input: user.name is missing or empty" if "input.user" in _violations

# METADATA
# title: Input lists roles
# description: Violated when the caller has no role names.
_violations contains "input.roles" if not _has_roles

_reason["input.roles"] := "input: user.roles must list at least one role name" if "input.roles" in _violations

# METADATA
# title: Known action
# description: Violated by any action the catalogue in data.appliance.actions does not list.
_violations contains "action" if not _spec

_reason["action"] := concat("", ["action: unknown action ", _text(object.get(input, "action", null))]) if {
	"action" in _violations
}

# ---------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------

# METADATA
# title: Granting roles
# description: The user's roles whose entry in data.appliance.roles lists the action.
_granting_roles contains role if {
	some role in input.user.roles
	input.action in data.appliance.roles[role]
}

# METADATA
# title: Role grants action
# description: True when at least one of the user's roles grants the action.
_role_grants_action if count(_granting_roles) > 0

# METADATA
# title: Role
# description: Violated by a known action that none of the user's roles grants.
_violations contains "role" if {
	_spec
	_has_roles
	not _role_grants_action
}

_reason["role"] := concat("", ["role: ", concat(", ", sort(_user_roles)), " may not ", input.action]) if {
	"role" in _violations
}

_user_roles contains role if {
	some role in input.user.roles
	is_string(role)
}

# METADATA
# title: Reads contents
# description: |
#   True for actions that read dataset contents. The two dataset reads are named
#   here, not only flagged in data.json, so that a data edit cannot quietly hand
#   contents to auditors (DESIGN.md: auditors never read dataset contents);
#   data.json may flag more with "contents": true. (Comparisons, not a set
#   literal: rego-cpp builds a literal set again on every request.)
_reads_contents if input.action == "dataset.read_sample"

_reads_contents if input.action == "dataset.read_for_training"

_reads_contents if _spec.contents == true

# METADATA
# title: Auditors never read contents
# description: |
#   A guardrail from DESIGN.md that data.json cannot override: anyone holding
#   the auditor role is refused dataset contents, whatever else they hold.
_violations contains "role.auditor" if {
	_reads_contents
	"auditor" in input.user.roles
}

_reason["role.auditor"] := concat("", ["role: auditors never read dataset contents (", input.action, ")"]) if {
	"role.auditor" in _violations
}

# METADATA
# title: Compliance never runs jobs
# description: |
#   A guardrail from DESIGN.md that data.json cannot override: reviewers do
#   not train on the data they review, so they neither start a job (job.create)
#   nor take over an interrupted one (job.resume), whatever role grants it.
_violations contains "role.compliance" if {
	_runs_job
	"compliance" in input.user.roles
}

_reason["role.compliance"] := concat("", ["role: compliance never runs jobs (", input.action, ")"]) if {
	"role.compliance" in _violations
}

# Starting a job and taking over an interrupted one both run it. (Comparisons, not a set
# literal: rego-cpp builds a literal set again on every request.)
_runs_job if input.action == "job.create"

_runs_job if input.action == "job.resume"

# ---------------------------------------------------------------------------
# The resource
# ---------------------------------------------------------------------------

# METADATA
# title: Resource checks
# description: |
#   The checks on the resource (its type and id, state, separation of duties,
#   classification, ownership) apply to the actions that declare a
#   resource_type in data.json, and only to those: actions on no particular
#   resource (dataset.list, audit.read, ...) skip them. An action that declares
#   states or separation of duties without a resource_type is refused by the
#   catalogue check (test_data_catalogue_is_consistent, and the engine when it
#   loads the policy).
_violations contains name if {
	_on_a_resource
	some name in _resource_violations
}

# METADATA
# title: Resource types
# description: |
#   The types of resource an action acts on: its resource_type, or the list in
#   its resource_types (model.generate: a trained model or a base model).
_resource_types contains kind if {
	kind := _spec.resource_type
	is_string(kind)
}

_resource_types contains kind if {
	some kind in _spec.resource_types
	is_string(kind)
}

# METADATA
# title: Acts on a resource
# description: True for an action that declares the type(s) of resource it acts on.
_on_a_resource if count(_resource_types) > 0

# The resource's type as reason texts name it: its own when it is one the action accepts, else
# the accepted types ("model or base_model").
_type_label := input.resource.type if {
	_resource_type_ok
} else := concat(" or ", sort(_resource_types))

# METADATA
# title: Resource id
# description: The resource's id, when it is a non-empty string.
_resource_id := id if {
	id := input.resource.id
	is_string(id)
	id != ""
}

# METADATA
# title: Resource type matches
# description: True when the resource is of the type the action acts on.
_resource_type_ok if input.resource.type in _resource_types

# METADATA
# title: Resource type
# description: Violated by an action whose resource is missing or of another type.
_resource_violations contains "resource.type" if not _resource_type_ok

_reason["resource.type"] := concat("", [
	"resource: ", input.action, " needs a ", _type_label,
	" resource, got ", _text(object.get(input, ["resource", "type"], null)),
]) if "resource.type" in _violations

# METADATA
# title: Resource id required
# description: Violated by an action on a resource whose id is missing, since nothing could be audited against it.
_resource_violations contains "resource.id" if not _resource_id

_reason["resource.id"] := concat("", ["resource: ", input.action, " needs the ", _type_label, "'s id"]) if {
	"resource.id" in _violations
}

# "dataset ds_1", or "the dataset" when the id is missing: used in reason texts.
_resource_label := concat(" ", [_type_label, _resource_id]) if {
	_resource_id
} else := concat(" ", ["the", _type_label])

# ---------------------------------------------------------------------------
# Lifecycle state
# ---------------------------------------------------------------------------

# METADATA
# title: State allows action
# description: True when the resource's state is one the action accepts.
_state_ok if input.resource.state in _spec.states

# METADATA
# title: State
# description: |
#   Violated when the resource is not in a state the action accepts: only
#   APPROVED datasets are read for training, approve and reject need
#   PENDING_REVIEW, revoke needs APPROVED, and an export is downloaded only
#   once APPROVED. Delete (crypto-shredding) has no state rule: an erasure
#   request cannot wait for a review to finish.
_resource_violations contains "state" if {
	_spec.states
	not _state_ok
}

_reason["state"] := concat("", [
	"state: ", input.action, " needs ", concat(" or ", _spec.states), ", ",
	_type_label, " is ", _text(object.get(input, ["resource", "state"], null)),
]) if "state" in _violations

# ---------------------------------------------------------------------------
# Purpose
# ---------------------------------------------------------------------------

# METADATA
# title: Purpose allows action
# description: True when the declared purpose is one the action accepts.
_purpose_ok if input.purpose in _spec.purposes

# METADATA
# title: Purpose
# description: |
#   Violated by a read of dataset contents whose declared purpose does not
#   match the action (purpose limitation): samples are read to review, data to
#   train.
_violations contains "purpose" if {
	_spec.purposes
	not _purpose_ok
}

_reason["purpose"] := concat("", [
	"purpose: ", input.action, " needs purpose ", concat(" or ", _spec.purposes),
	", got ", _text(object.get(input, "purpose", null)),
]) if "purpose" in _violations

# ---------------------------------------------------------------------------
# Separation of duties
# ---------------------------------------------------------------------------

# The resource field naming who must not decide on it: uploaded_by, requested_by.
_sod_field := _spec.separation_of_duties

# METADATA
# title: Resource owner
# description: Who uploaded or requested the resource, when the resource says so.
_sod_owner := owner if {
	owner := input.resource[_sod_field]
	is_string(owner)
	owner != ""
}

# METADATA
# title: Not the caller's own resource
# description: True when the resource names who uploaded or requested it, and that is someone else.
_sod_clear if _sod_owner != _user_name

# METADATA
# title: Separation of duties
# description: |
#   Nobody approves or rejects a dataset they uploaded (resource.uploaded_by),
#   nor an export they requested (resource.requested_by). A resource that does
#   not say who uploaded or requested it is denied too: the check cannot be made.
_resource_violations contains "separation_of_duties" if {
	_sod_field
	not _sod_clear
}

_reason["separation_of_duties"] := _sod_reason if "separation_of_duties" in _violations

_sod_done := {"uploaded_by": "uploaded", "requested_by": "requested"}

# Ref-head rules cannot carry `else` in OPA, so the text is chosen here.
_sod_reason := concat("", [
	"separation_of_duties: ", _user_name, " ", _sod_done[_sod_field], " ",
	_resource_label, " and cannot ", _verb, " it",
]) if {
	_sod_owner == _user_name
} else := concat("", [
	"separation_of_duties: ", _resource_label, " does not say who ",
	object.get(_sod_done, _sod_field, "created"), " it (", _sod_field,
	"), so the check cannot be made",
]) if {
	not _sod_owner
} else := "separation_of_duties: the check needs the caller's name"

# The verb of the action, for reason texts: "approve" in "dataset.approve".
_verb := parts[count(parts) - 1] if {
	parts := split(input.action, ".")
}

# METADATA
# title: Distinct approvers
# description: |
#   A second approval (restricted data) must come from a different person:
#   whoever is already listed in resource.approvals cannot approve again.
_resource_violations contains "separation_of_duties.approvals" if {
	_spec.distinct_approvals == true
	_user_name in input.resource.approvals
}

_reason["separation_of_duties.approvals"] := concat("", [
	"separation_of_duties: ", _user_name, " already approved ", _resource_label,
	"; another approval must come from someone else",
]) if "separation_of_duties.approvals" in _violations

# ---------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------

# METADATA
# title: Classification specification
# description: |
#   What data.appliance.classifications demands of the dataset's classification.
#   Looked up only for actions flagged "needs_classification" in data.json;
#   classification rules apply to those actions.
_class := data.appliance.classifications[input.resource.classification] if {
	_spec.needs_classification == true
}

# METADATA
# title: Known classification
# description: Violated by reviewing, approving or reading a dataset whose classification is missing or unknown.
_resource_violations contains "classification" if {
	_spec.needs_classification == true
	not _class
}

_reason["classification"] := concat("", [
	"classification: ", _resource_label, " has a missing or unknown classification ",
	_text(object.get(input, ["resource", "classification"], null)),
]) if "classification" in _violations

# METADATA
# title: Approvers counted
# description: |
#   Distinct names in resource.approvals, not counting the uploader (who can
#   never approve their own dataset, so such an entry is not a valid approval).
_approvers contains name if {
	some name in input.resource.approvals
	is_string(name)
	name != ""
	name != object.get(input.resource, "uploaded_by", null)
}

# METADATA
# title: Enough approvals
# description: True when the dataset has as many distinct approvals as its classification requires.
_enough_approvals if count(_approvers) >= _class.approvals_required

# METADATA
# title: Approvals for training
# description: |
#   An APPROVED dataset counts as approved for training only with the number of
#   distinct approvals its classification requires: one for public, internal
#   and confidential data, two for restricted data (four-eyes principle).
_resource_violations contains "classification.approvals" if {
	_spec.needs_approvals == true
	_class
	not _enough_approvals
}

_reason["classification.approvals"] := concat("", [
	"classification: ", input.resource.classification, " ", _resource_label, " needs ",
	sprintf("%v", [_class.approvals_required]), " distinct approval(s) before ",
	input.action, ", has ", sprintf("%d", [count(_approvers)]),
]) if "classification.approvals" in _violations

# METADATA
# title: Roles allowed by classification
# description: True when one of the user's roles is among those the classification reserves this action for.
_class_roles_ok if {
	some role in input.user.roles
	role in _class.limited_to_roles[input.action]
}

# METADATA
# title: Classification limits roles
# description: Violated by an action a classification reserves for some roles (restricted samples are read by compliance only).
_resource_violations contains "classification.roles" if {
	_class.limited_to_roles[input.action]
	not _class_roles_ok
}

_reason["classification.roles"] := concat("", [
	"classification: ", input.action, " on ", input.resource.classification, " ",
	_resource_label, " is limited to ", concat(" or ", _class.limited_to_roles[input.action]),
]) if "classification.roles" in _violations

# ---------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------

# METADATA
# title: Caller requested it
# description: True when the resource names its requester and that is the caller.
_is_requester if input.resource.requested_by == _user_name

# METADATA
# title: Requester only
# description: |
#   An approved export is downloaded only by the person who requested it, so the
#   approval covers one named recipient and the audit trail stays one to one.
_resource_violations contains "ownership" if {
	_spec.requester_only == true
	not _is_requester
}

_reason["ownership"] := concat("", [
	"ownership: only the requester (", _text(object.get(input, ["resource", "requested_by"], null)),
	") may ", _verb, " ", _resource_label,
]) if "ownership" in _violations

# ---------------------------------------------------------------------------
# Feedback campaigns
# ---------------------------------------------------------------------------

# METADATA
# title: Caller is the assignee
# description: True when the resource (a campaign item assigned to one reviewer) names its owner and that is the caller.
_is_assignee if input.resource.owner == _user_name

# METADATA
# title: Assignee only
# description: |
#   A campaign item is shown to and judged by the one reviewer it is assigned
#   to (resource.owner): another annotator's item, or an item whose owner is
#   missing, is refused. The reason names the caller, never the assignee.
_resource_violations contains "assignment" if {
	_spec.assignee_only == true
	not _is_assignee
}

_reason["assignment"] := concat("", [
	"assignment: ", _resource_label, " is not assigned to ", _text(object.get(input.user, "name", null)),
]) if "assignment" in _violations

# METADATA
# title: Annotator actions
# description: |
#   What an annotator may ever do: list the campaigns it is assigned to, read
#   and judge its items. Named here, not only in data.json, so that a data edit
#   cannot hand an annotator datasets, models, jobs or the audit log (DESIGN.md).
#   (Comparisons, not a set literal: rego-cpp builds a literal set again on every request.)
_annotator_action if input.action == "campaign.list"

_annotator_action if input.action == "campaign.item.read"

_annotator_action if input.action == "campaign.item.judge"

# METADATA
# title: Annotators judge and nothing else
# description: |
#   A guardrail that data.json cannot override: anyone holding the annotator
#   role is refused every action but the three above, whatever else they hold.
_violations contains "role.annotator" if {
	"annotator" in input.user.roles
	not _annotator_action
}

_reason["role.annotator"] := concat("", ["role: annotators only judge the campaigns they are assigned to (", _text(object.get(input, "action", null)), ")"]) if {
	"role.annotator" in _violations
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# An input value shown in a reason text: strings as they are, anything
# missing as "(missing)", other values as JSON. Only reason texts call it.
_text(value) := value if {
	is_string(value)
	value != ""
} else := "(missing)" if {
	value in {null, ""}
} else := sprintf("%v", [value])

# ---------------------------------------------------------------------------
# Load-time checks of data.json
# ---------------------------------------------------------------------------

_action_keys := {
	"resource_type", "resource_types", "states", "purposes", "contents", "separation_of_duties",
	"distinct_approvals", "needs_classification", "needs_approvals", "requester_only", "assignee_only",
}

_flag_keys := {"contents", "distinct_approvals", "needs_classification", "needs_approvals", "requester_only", "assignee_only"}

_list_keys := {"states", "purposes", "resource_types"}

# Keys that only mean something for an action on a resource.
_resource_keys := {
	"states", "separation_of_duties", "distinct_approvals", "needs_classification",
	"needs_approvals", "requester_only", "assignee_only",
}

_class_keys := {"approvals_required", "limited_to_roles"}

# METADATA
# title: Load errors
# description: |
#   Mistakes in data.json that would make a check silently not apply (a
#   misspelt key, a flag that is not a boolean, a resource check on an action
#   without a resource_type, a role granting an unknown action). Both engines
#   refuse to load a policy while this set is not empty.
load_errors contains "data.appliance.actions must be an object" if not is_object(data.appliance.actions)

load_errors contains "data.appliance.roles must be an object" if not is_object(data.appliance.roles)

load_errors contains "data.appliance.classifications must be an object" if {
	not is_object(data.appliance.classifications)
}

load_errors contains msg if {
	some action, spec in data.appliance.actions
	not is_object(spec)
	msg := concat("", ["data.appliance.actions[\"", action, "\"] must be an object"])
}

load_errors contains msg if {
	some action, spec in data.appliance.actions
	some key, _ in spec
	not key in _action_keys
	msg := concat("", ["data.appliance.actions[\"", action, "\"]: unknown key ", key])
}

load_errors contains msg if {
	some action, spec in data.appliance.actions
	some key in _flag_keys
	not is_boolean(object.get(spec, key, false))
	msg := concat("", ["data.appliance.actions[\"", action, "\"].", key, " must be true or false"])
}

load_errors contains msg if {
	some action, spec in data.appliance.actions
	some key in _list_keys
	not _string_list(object.get(spec, key, []))
	msg := concat("", ["data.appliance.actions[\"", action, "\"].", key, " must be a list of strings"])
}

load_errors contains msg if {
	some action, spec in data.appliance.actions
	not is_string(object.get(spec, "resource_type", ""))
	msg := concat("", ["data.appliance.actions[\"", action, "\"].resource_type must be a string"])
}

load_errors contains msg if {
	some action, spec in data.appliance.actions
	field := spec.separation_of_duties
	not field in {"uploaded_by", "requested_by"}
	msg := concat("", ["data.appliance.actions[\"", action, "\"].separation_of_duties must be uploaded_by or requested_by"])
}

load_errors contains msg if {
	some action, spec in data.appliance.actions
	not spec.resource_type
	not spec.resource_types
	some key, _ in spec
	key in _resource_keys
	msg := concat("", ["data.appliance.actions[\"", action, "\"]: ", key, " needs a resource_type"])
}

load_errors contains msg if {
	some role, actions in data.appliance.roles
	not _string_list(actions)
	msg := concat("", ["data.appliance.roles[\"", role, "\"] must be a list of action names"])
}

load_errors contains msg if {
	some role, actions in data.appliance.roles
	some action in actions
	not data.appliance.actions[action]
	msg := concat("", ["data.appliance.roles[\"", role, "\"] grants ", action, ", which data.appliance.actions does not list"])
}

load_errors contains msg if {
	some name, class in data.appliance.classifications
	some key, _ in class
	not key in _class_keys
	msg := concat("", ["data.appliance.classifications[\"", name, "\"]: unknown key ", key])
}

load_errors contains msg if {
	some name, class in data.appliance.classifications
	not _positive_integer(class.approvals_required)
	msg := concat("", ["data.appliance.classifications[\"", name, "\"].approvals_required must be a whole number of at least 1"])
}

load_errors contains msg if {
	some name, class in data.appliance.classifications
	some action, roles in object.get(class, "limited_to_roles", {})
	not _string_list(roles)
	msg := concat("", ["data.appliance.classifications[\"", name, "\"].limited_to_roles[\"", action, "\"] must be a list of role names"])
}

_string_list(value) if {
	is_array(value)
	every item in value {
		is_string(item)
	}
}

_positive_integer(value) if {
	is_number(value)
	value >= 1
	round(value) == value
}
