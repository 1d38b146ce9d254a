"""The Rego unit tests beside the policies (``*_test.rego``), run with regopy.

Each ``test_`` rule is one pytest case. They all run once, in a child process, through
appliance/policy/rego_tests.py; the cases below read the results.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from appliance.policy import default_policy_dir
from appliance.policy.rego_tests import (
    RegoTest,
    RegoTestResult,
    discover_rego_tests,
    run_rego_tests,
)

POLICY_DIR = default_policy_dir()
assert POLICY_DIR is not None
TESTS = discover_rego_tests(POLICY_DIR)


@pytest.fixture(scope="module")
def results() -> dict[str, RegoTestResult]:
    return {r.test.id: r for r in run_rego_tests(POLICY_DIR)}


def test_every_policy_has_tests_beside_it(policy_dir: Path) -> None:
    for rego in policy_dir.rglob("*.rego"):
        if not rego.name.endswith("_test.rego"):
            assert rego.with_name(rego.stem + "_test.rego").is_file(), rego
    assert len(TESTS) >= 60
    names = [t.name for t in TESTS]
    assert all(n.startswith(("test_allow_", "test_deny_")) for n in names
               if n not in {"test_data_catalogue_is_consistent",
                            "test_every_role_in_design_exists",
                            "test_no_role_grants_contents_to_auditor"})


@pytest.mark.parametrize("test", TESTS, ids=[t.name for t in TESTS])
def test_rego(results: dict[str, RegoTestResult], test: RegoTest) -> None:
    result = results[test.id]
    assert result.passed, result.detail


def _mutant(tmp_path: Path, old: str, new: str) -> Path:
    assert POLICY_DIR is not None
    root = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, root)
    rego = root / "appliance" / "authz.rego"
    source = rego.read_text()
    assert old in source
    rego.write_text(source.replace(old, new))
    return root


def test_the_rego_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    # Separation of duties switched off: the tests that cover it must fail, and only those.
    root = _mutant(tmp_path, "_sod_clear if _sod_owner != _user_name", "_sod_clear := true")
    failed = {r.test.name for r in run_rego_tests(root, isolated=False) if not r.passed}
    assert failed == {
        "test_deny_uploader_approves_own_dataset", "test_deny_uploader_rejects_own_dataset",
        "test_deny_operator_approves_own_dataset_names_both_rules",
        "test_deny_approve_without_uploaded_by", "test_deny_approve_with_null_uploaded_by",
        "test_deny_requester_approves_own_export",
        "test_deny_export_approve_without_requested_by",
    }


@pytest.mark.parametrize(("body", "problem"), [
    ('authz.allow with data.appliance.roles as {}', "no other `with`"),
    ('authz.allow with input as {}\n\tauthz.allow with input as {"a": 1}', "one `with input as`"),
    ('every x in [1] {\n\t\tauthz.allow with input as {}\n\t}', "top level"),
])
def test_runner_refuses_what_regopy_cannot_run(
        policy_copy: Callable[..., Path], body: str, problem: str) -> None:
    root = policy_copy()
    (root / "appliance" / "extra_test.rego").write_text(
        "package appliance.extra_test\n\nimport data.appliance.authz\n\n"
        f"test_allow_refused if {{\n\t{body}\n}}\n\ntest_allow_plain if {{\n\ttrue\n}}\n")
    results = {r.test.name: r for r in run_rego_tests(root, isolated=False)
               if r.test.path == "appliance/extra_test.rego"}
    assert not results["test_allow_refused"].passed
    assert problem in results["test_allow_refused"].detail
    assert results["test_allow_plain"].passed


def test_false_and_undefined_tests_fail(policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    (root / "appliance" / "extra_test.rego").write_text(
        "package appliance.extra_test\n\nimport data.appliance.authz\n\n"
        'test_allow_wrong if {\n\tauthz.allow with input as {"action": "dataset.list"}\n}\n\n'
        "test_deny_false if {\n\tfalse\n}\n")
    results = [r for r in run_rego_tests(root, isolated=False)
               if r.test.path == "appliance/extra_test.rego"]
    assert [(r.test.name, r.passed) for r in results] == [("test_allow_wrong", False),
                                                          ("test_deny_false", False)]


def test_a_crash_is_reported_not_inherited(policy_copy: Callable[..., Path]) -> None:
    # rego-cpp aborts the process on some `with data... as`: the child dies, the caller reports
    # it and lives on.
    root = policy_copy()
    (root / "appliance" / "crash.rego").write_text(
        "package appliance.crash\n\n"
        "allow if input.action in data.appliance.roles.operator\n\n"
        'boom if {\n\tallow with input as {"action": "z"}'
        ' with data.appliance.roles as {"operator": ["z"]}\n}\n')
    (root / "appliance" / "crash_test.rego").write_text(
        "package appliance.crash_test\n\ntest_allow_boom if {\n\tdata.appliance.crash.boom\n}\n")
    results = {r.test.id: r for r in run_rego_tests(root)}
    assert not any(r.passed for r in results.values())
    # The module is part of the policy, so compiling the first test file already aborts.
    first = results["appliance/authz_test.rego::test_allow_operator_ingests"]
    assert first.detail.startswith("the Rego engine crashed running this file (exit -6)")
    assert results["appliance/crash_test.rego::test_allow_boom"].detail.startswith("not run")
