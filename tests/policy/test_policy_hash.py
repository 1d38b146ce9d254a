"""The policy hash: SHA-256 over the policy files and data, recorded on every decision."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from appliance.policy import EmbeddedEngine, read_policy_dir

from .inputs import request


def test_hash_is_stable_and_on_every_decision(engine: EmbeddedEngine, policy_dir: Path) -> None:
    assert engine.policy_hash == read_policy_dir(policy_dir).policy_hash
    assert engine.policy_hash.startswith("sha256:") and len(engine.policy_hash) == 71
    for document in (request("olivia", "operator", "dataset.ingest"), {}, {"x": {1}}):
        assert engine.decide(document).policy_hash == engine.policy_hash


def test_hash_changes_when_a_rule_changes(policy_copy: Callable[..., Path],
                                          policy_dir: Path) -> None:
    edited = policy_copy(replace={'"role: compliance never runs jobs ("':
                                  '"role: compliance never runs training jobs ("'})
    assert read_policy_dir(edited).policy_hash != read_policy_dir(policy_dir).policy_hash


def test_hash_changes_when_data_changes(policy_copy: Callable[..., Path],
                                        policy_dir: Path) -> None:
    edited = policy_copy(edit_data=lambda d: d["roles"]["admin"].remove("policy.check"))
    assert read_policy_dir(edited).policy_hash != read_policy_dir(policy_dir).policy_hash


def test_hash_changes_when_a_file_moves(policy_copy: Callable[..., Path],
                                        policy_dir: Path) -> None:
    root = policy_copy()
    (root / "appliance" / "authz.rego").rename(root / "appliance" / "rules.rego")
    assert read_policy_dir(root).policy_hash != read_policy_dir(policy_dir).policy_hash


def test_hash_ignores_tests_and_other_files(policy_copy: Callable[..., Path],
                                            policy_dir: Path) -> None:
    root = policy_copy()
    (root / "appliance" / "authz_test.rego").write_text("package appliance.authz_test\n")
    (root / "README.md").write_text("notes")
    (root / ".git").mkdir()
    (root / ".git" / "x.rego").write_text("package junk\n")
    assert read_policy_dir(root).policy_hash == read_policy_dir(policy_dir).policy_hash


def test_engine_records_the_hash_of_what_it_loaded(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    loaded = EmbeddedEngine(root)
    before = loaded.policy_hash
    rego = root / "appliance" / "authz.rego"
    rego.write_text(rego.read_text().replace("compliance never runs jobs", "no jobs"))
    # The engine keeps deciding with, and reporting, the policy it compiled.
    decision = loaded.decide(request("carol", ["operator", "compliance"], "job.create"))
    assert decision.policy_hash == before
    assert decision.reasons == ["role: compliance never runs jobs (job.create)"]
    assert EmbeddedEngine(root).policy_hash != before
