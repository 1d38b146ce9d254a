"""Choosing the engine from the settings, and finding the policy directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.errors import ConfigurationError, InvalidInput, PolicyUnavailable
from appliance.policy import (
    EmbeddedEngine,
    PolicyEngine,
    build_input,
    explain,
    load_engine,
    resolve_policy_dir,
)
from appliance.policy.opa_server import _loopback_endpoint


def settings(tmp_path: Path, **fields: object) -> Settings:
    return Settings(home=tmp_path, **fields)  # type: ignore[arg-type]


def test_embedded_by_default(tmp_path: Path, policy_dir: Path) -> None:
    engine = load_engine(settings(tmp_path))
    assert isinstance(engine, EmbeddedEngine) and isinstance(engine, PolicyEngine)
    assert resolve_policy_dir(settings(tmp_path)) == policy_dir


def test_policy_dir_setting(tmp_path: Path, policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    engine = load_engine(settings(tmp_path, policy_dir=root))
    assert isinstance(engine, EmbeddedEngine) and engine.policy.root == root


def test_policy_dir_from_environment(tmp_path: Path, policy_copy: Callable[..., Path],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = policy_copy()
    monkeypatch.setenv("APPLIANCE_POLICY_DIR", str(root))
    assert resolve_policy_dir(Settings(home=tmp_path)) == root


def test_missing_policy_dir_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(PolicyUnavailable, match="does not exist"):
        load_engine(settings(tmp_path, policy_dir=tmp_path / "nowhere"))


def test_compiled_engine_is_reused_until_a_file_changes(
        tmp_path: Path, policy_copy: Callable[..., Path]) -> None:
    root = policy_copy()
    first = load_engine(settings(tmp_path, policy_dir=root))
    assert load_engine(settings(tmp_path, policy_dir=root)) is first
    data = root / "appliance" / "data.json"
    document = json.loads(data.read_text())
    document["roles"]["admin"].append("audit.read")
    data.write_text(json.dumps(document))
    reloaded = load_engine(settings(tmp_path, policy_dir=root))
    assert reloaded is not first and reloaded.policy_hash != first.policy_hash


@pytest.mark.parametrize("url", ["http://10.0.0.5:8181", "http://opa.internal:8181",
                                 "https://example.com", "ftp://127.0.0.1", "127.0.0.1:8181"])
def test_opa_backend_refuses_non_loopback_urls(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigurationError):
        load_engine(settings(tmp_path, policy_backend="opa", opa_url=url))


@pytest.mark.parametrize(("url", "endpoint"), [
    ("http://127.0.0.1:8181", ("127.0.0.1", 8181, False)),
    ("http://localhost:9000/", ("localhost", 9000, False)),
    ("https://[::1]:8443", ("[::1]", 8443, True)),
    ("http://127.8.9.10", ("127.8.9.10", 80, False)),
])
def test_loopback_urls(url: str, endpoint: tuple[str, int, bool]) -> None:
    assert _loopback_endpoint(url) == endpoint


def test_explain(engine: EmbeddedEngine) -> None:
    resource = {"type": "dataset", "id": "ds_1", "state": "PENDING_REVIEW",
                "classification": "internal", "uploaded_by": "bob"}
    denied = explain(engine, "dataset.approve", "compliance", resource, user="bob")
    assert denied.reasons == ["separation_of_duties: bob uploaded dataset ds_1 and cannot "
                              "approve it"]
    allowed = explain(engine, "dataset.approve", "compliance",
                      '{"type": "dataset", "id": "ds_1", "state": "PENDING_REVIEW", '
                      '"classification": "internal", "uploaded_by": "bob"}')
    assert allowed.allow and allowed.policy_hash == engine.policy_hash
    assert explain(engine, "dataset.list", "auditor").allow
    assert explain(engine, "dataset.read_sample", "operator", resource,
                   purpose="review").reasons == ["role: operator may not dataset.read_sample"]


@pytest.mark.parametrize("resource", ["{not json", "[1, 2]", "3"])
def test_explain_refuses_bad_resource(engine: EmbeddedEngine, resource: str) -> None:
    with pytest.raises(InvalidInput, match="--resource"):
        explain(engine, "dataset.show", "auditor", resource)


def test_build_input() -> None:
    assert build_input(user="u", roles=("operator",), action="a") == {
        "user": {"name": "u", "roles": ["operator"]}, "action": "a", "resource": {}}
    assert build_input(user="u", roles=["r"], action="a", resource={"id": "x"},
                       purpose="review")["purpose"] == "review"
