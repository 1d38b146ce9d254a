"""Fail closed: a policy that cannot load raises PolicyUnavailable; after loading, any failure
while deciding is a deny whose reason says the engine failed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.errors import PolicyUnavailable
from appliance.policy import ENGINE_ERROR, Decision, EmbeddedEngine
from appliance.policy.decision import decision_from_document, loads_strict

from .inputs import dataset, request

ALLOWED = request("carol", "compliance", "dataset.approve", dataset())


# --- a policy that cannot load ---------------------------------------------------------------

def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyUnavailable, match="does not exist"):
        EmbeddedEngine(tmp_path / "nowhere")


def test_directory_without_rego(tmp_path: Path) -> None:
    (tmp_path / "appliance").mkdir()
    (tmp_path / "appliance" / "data.json").write_text("{}")
    with pytest.raises(PolicyUnavailable, match=r"holds no Rego policy"):
        EmbeddedEngine(tmp_path)


def test_syntax_error(policy_copy: Callable[..., Path]) -> None:
    broken = policy_copy(replace={"default allow := false": "default allow := false {{{"})
    with pytest.raises(PolicyUnavailable, match="does not compile"):
        EmbeddedEngine(broken)


def test_undefined_decision(policy_copy: Callable[..., Path]) -> None:
    broken = policy_copy(replace={
        'decision := {"allow": allow, "reasons": _reasons}':
        'decision := {"allow": allow, "reasons": _reasons} if false'})
    with pytest.raises(PolicyUnavailable, match="does not produce a deny decision"):
        EmbeddedEngine(broken)


def test_decision_that_allows_an_empty_request(policy_copy: Callable[..., Path]) -> None:
    broken = policy_copy(replace={"default allow := false": "default allow := true"})
    with pytest.raises(PolicyUnavailable, match="does not produce a deny decision"):
        EmbeddedEngine(broken)


def test_malformed_decision(policy_copy: Callable[..., Path]) -> None:
    broken = policy_copy(replace={
        'decision := {"allow": allow, "reasons": _reasons}':
        'decision := {"allow": "no", "reasons": _reasons}'})
    with pytest.raises(PolicyUnavailable, match="no boolean 'allow'"):
        EmbeddedEngine(broken)


def test_invalid_data_json(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    (root / "appliance" / "data.json").write_text('{"roles": {}, "roles": {}}')
    with pytest.raises(PolicyUnavailable, match="duplicate key 'roles'"):
        EmbeddedEngine(root)


def test_data_json_not_an_object(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    (root / "appliance" / "data.json").write_text("[]")
    with pytest.raises(PolicyUnavailable, match="must hold a JSON object"):
        EmbeddedEngine(root)


def test_conflicting_data_documents(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    (root / "data.json").write_text('{"appliance": {"roles": ["admin"]}}')
    with pytest.raises(PolicyUnavailable, match=r"redefines data\.appliance\.roles"):
        EmbeddedEngine(root)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["actions"]["dataset.list"].update(state=["X"]),
     r'actions\["dataset.list"\]: unknown key state'),
    (lambda d: d["actions"]["job.read"].update(states=["DONE"]),
     r'actions\["job.read"\]: states needs a resource_type'),
    (lambda d: d["actions"]["dataset.approve"].update(distinct_approvals="yes"),
     r"distinct_approvals must be true or false"),
    (lambda d: d["actions"]["dataset.reject"].update(separation_of_duties="owner"),
     r"separation_of_duties must be uploaded_by or requested_by"),
    (lambda d: d["roles"]["admin"].append("dataset.steal"),
     r'roles\["admin"\] grants dataset.steal, which data.appliance.actions does not list'),
    (lambda d: d["classifications"]["restricted"].update(approvals_required=0),
     r"approvals_required must be a whole number of at least 1"),
    (lambda d: d.pop("classifications"), r"data.appliance.classifications must be an object"),
], ids=["misspelt key", "resource check without resource", "flag not boolean",
        "unknown separation field", "role grants unknown action", "no approvals needed",
        "missing table"])
def test_data_mistakes_refuse_to_load(policy_copy: Callable[..., Path],
                                      edit: Callable[[dict[str, Any]], None],
                                      message: str) -> None:
    with pytest.raises(PolicyUnavailable, match=message):
        EmbeddedEngine(policy_copy(edit_data=edit))


def test_world_writable_policy_file(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    rego = root / "appliance" / "authz.rego"
    rego.chmod(0o666)
    with pytest.raises(PolicyUnavailable, match=f"{rego} is writable by every user"):
        EmbeddedEngine(root)


def test_world_writable_policy_directory(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    (root / "appliance").chmod(0o777)
    with pytest.raises(PolicyUnavailable, match="chmod o-w"):
        EmbeddedEngine(root)


# --- failures while deciding ------------------------------------------------------------------

def engine_error(decision: Decision) -> bool:
    return (not decision.allow and len(decision.reasons) == 1
            and decision.reasons[0].startswith(ENGINE_ERROR))


def test_engine_exception_denies(engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    assert engine.decide(ALLOWED).allow
    compiled = engine._compiled()
    assert engine.cache is not None
    engine.cache.clear()  # a kept decision would never reach the failing engine

    def explode(*_: object) -> object:
        raise RuntimeError("rego-cpp fell over")

    monkeypatch.setattr(compiled.interpreter, "query_bundle_entrypoint", explode)
    decision = engine.decide(ALLOWED)
    assert engine_error(decision)
    assert decision.reasons == [f"{ENGINE_ERROR}RuntimeError: rego-cpp fell over"]
    assert decision.policy_hash == engine.policy_hash


@pytest.mark.parametrize("output", [
    "undefined",
    '{"expressions":[{"allow":true}]}',
    '{"expressions":[{"allow":1, "reasons":[]}]}',
    '{"expressions":[{"allow":"true", "reasons":[]}]}',
    '{"expressions":[{"allow":false, "reasons":["x"], "allow":true}]}',
    '{"expressions":[{"allow":true, "reasons":"ok"}]}',
    '{"expressions":[{"allow":true, "reasons":[1]}]}',
    '{"expressions":[true]}',
    '{"expressions":[{"allow":true, "reasons":[]}, {"allow":true, "reasons":[]}]}',
    '{"expressions":[{"allow":false, "reasons":["x"]}], "z":[{"allow":true, "reasons":[]}]}',
    '{"expressions":[{"allow":true, "reasons":["a"], "n": NaN}]}',
    "not json",
], ids=["undefined", "no reasons", "allow 1", "allow string", "duplicate allow",
        "reasons string", "reasons not strings", "not an object", "two results",
        "extra top-level key", "NaN", "garbage"])
def test_undefined_or_malformed_result_denies(engine: EmbeddedEngine,
                                              monkeypatch: pytest.MonkeyPatch,
                                              output: str) -> None:
    class Output:
        def ok(self) -> bool:
            return True

        def __str__(self) -> str:
            return output

    compiled = engine._compiled()
    monkeypatch.setattr(compiled.interpreter, "query_bundle_entrypoint",
                        lambda *_: Output())
    assert engine_error(engine.decide(ALLOWED))


def test_engine_error_output_denies(engine: EmbeddedEngine,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    class Output:
        def ok(self) -> bool:
            return False

        def __str__(self) -> str:
            return "(rego-errorseq\n  (error (errormsg 65:Recursion detected)))"

    monkeypatch.setattr(engine._compiled().interpreter, "query_bundle_entrypoint",
                        lambda *_: Output())
    decision = engine.decide(ALLOWED)
    assert engine_error(decision) and "Recursion detected" in decision.reasons[0]


def test_runtime_error_in_policy_denies(policy_copy: Callable[..., Path]) -> None:
    # A rule that conflicts only for one action: loads fine, fails on that request alone.
    root = policy_copy(replace={
        "_verb := parts[count(parts) - 1] if {":
        '_conflict := 1 if input.action == "dataset.list"\n'
        '_conflict := 2 if input.action == "dataset.list"\n'
        '_violations contains "conflict" if _conflict\n\n'
        "_verb := parts[count(parts) - 1] if {"})
    site = EmbeddedEngine(root)
    assert site.decide(ALLOWED).allow
    assert engine_error(site.decide(request("olivia", "operator", "dataset.list")))


@pytest.mark.parametrize("document", [
    {"user": {"name": "x", "roles": {"operator"}}, "action": "dataset.list"},
    {"user": {"name": "x", "roles": ["operator"]}, "action": "dataset.list", "n": float("nan")},
    {"user": {"name": "x", "roles": ["operator"]}, "action": "dataset.list", "b": b"bytes"},
    {"user": {"name": "olivia\x00", "roles": ["operator"]}, "action": "dataset.list"},
], ids=["set", "NaN", "bytes", "NUL"])
def test_input_that_is_not_json_denies(engine: EmbeddedEngine, document: dict[str, Any]) -> None:
    assert engine_error(engine.decide(document))


def test_input_tuples_and_keys_are_plain_json(engine: EmbeddedEngine) -> None:
    document = {"user": {"name": "olivia", "roles": ("operator",)}, "action": "dataset.ingest"}
    assert engine.decide(document).allow


# --- the decision contract ------------------------------------------------------------------

def test_decision_from_document() -> None:
    assert decision_from_document({"allow": True, "reasons": ["r"]}, "h") == Decision(
        True, ["r"], "h")
    denied = decision_from_document({"allow": False, "reasons": []}, "h")
    assert denied == Decision(False, ["default_deny: the policy denied without giving a reason"],
                              "h")
    for bad in (None, [], {"allow": None, "reasons": []}, {"reasons": []},
                {"allow": True, "reasons": None}):
        assert engine_error(decision_from_document(bad, "h"))


def test_loads_strict_refuses_duplicates_and_constants() -> None:
    assert loads_strict('{"a": 1}') == {"a": 1}
    for text in ('{"a": 1, "a": 2}', '{"a": NaN}', '{"a": Infinity}'):
        with pytest.raises(ValueError):
            loads_strict(text)


def test_engine_error_reason_is_short() -> None:
    reason = Decision.engine_error("x" * 5000 + "\n" * 50, "h").reasons[0]
    assert reason.startswith(ENGINE_ERROR) and len(reason) < 400 and "\n" not in reason


def test_decision_is_frozen() -> None:
    decision = Decision(False, ["r"], "h")
    with pytest.raises(AttributeError):
        decision.allow = True  # type: ignore[misc]
    assert json.loads(json.dumps(decision.as_dict())) == {"allow": False, "reasons": ["r"],
                                                           "policy_hash": "h"}
