"""The OPA server backend: same contract as the embedded engine, over HTTP on loopback.

Most tests run against tests/policy/fake_opa.py (real HTTP, regopy behind it). The live tests
at the end run against a real OPA server at the configured URL, and are skipped, saying so,
when none answers there.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.errors import PolicyUnavailable
from appliance.policy import ENGINE_ERROR, EmbeddedEngine, OpaServerEngine

from .fake_opa import FakeOpa
from .inputs import dataset, export, request
from .test_rules import CASES

PROBES = [c[1] for c in CASES] + [
    request("olivia", "operator", "dataset.ingest"),
    request("carol", "compliance", "model.export.approve", export()),
    request('Zoë "q" \\', "compliance", "dataset.approve", dataset(uploaded_by='Zoë "q" \\')),
]


@pytest.fixture
def fake() -> Iterator[FakeOpa]:
    server = FakeOpa().start()
    yield server
    server.stop()


def test_uploads_the_policy_directory(fake: FakeOpa, policy_dir: Path) -> None:
    engine = OpaServerEngine(fake.url, policy_dir)
    assert set(fake.modules) == {"appliance-policy/appliance/authz.rego"}  # tests stay home
    assert fake.modules["appliance-policy/appliance/authz.rego"] == (
        policy_dir / "appliance" / "authz.rego").read_text()
    assert set(fake.data["appliance"]) == {"roles", "actions", "classifications"}
    assert engine.policy_hash == EmbeddedEngine(policy_dir).policy_hash


def test_decides_as_the_embedded_engine(fake: FakeOpa, engine: EmbeddedEngine,
                                        policy_dir: Path) -> None:
    remote = OpaServerEngine(fake.url, policy_dir)
    for document in PROBES:
        assert remote.decide(document) == engine.decide(document), document


def test_removes_its_stale_modules_only(fake: FakeOpa, policy_dir: Path) -> None:
    fake.modules["appliance-policy/appliance/renamed.rego"] = "package appliance.authz\n"
    fake.modules["someone-else/policy.rego"] = "package other\n"
    OpaServerEngine(fake.url, policy_dir)
    assert set(fake.modules) == {"appliance-policy/appliance/authz.rego",
                                 "someone-else/policy.rego"}
    # Stale modules go first, so a renamed file never defines its rules twice.
    first_put = next(i for i, r in enumerate(fake.requests) if r.startswith("PUT /v1/policies"))
    first_delete = fake.requests.index(
        "DELETE /v1/policies/appliance-policy/appliance/renamed.rego")
    assert first_delete < first_put


def test_unreachable_server_at_start(policy_dir: Path) -> None:
    server = FakeOpa()
    url = server.url
    server.stop()  # bound, never served, now closed
    with pytest.raises(PolicyUnavailable, match="no OPA server answers"):
        OpaServerEngine(url, policy_dir)


def test_policy_refused_by_the_server(fake: FakeOpa,
                                      policy_copy: Callable[..., Path]) -> None:
    root = policy_copy(replace={"default allow := false":
                                "default allow := false\n# syntax error here"})
    with pytest.raises(PolicyUnavailable, match="did not take the policy"):
        OpaServerEngine(fake.url, root)


def test_data_mistakes_refuse_to_load(fake: FakeOpa, policy_copy: Callable[..., Path]) -> None:
    root = policy_copy(edit_data=lambda d: d["roles"]["admin"].append("dataset.steal"))
    with pytest.raises(PolicyUnavailable, match="grants dataset.steal"):
        OpaServerEngine(fake.url, root)


def test_server_gone_denies(policy_dir: Path) -> None:
    server = FakeOpa().start()
    engine = OpaServerEngine(server.url, policy_dir)
    assert engine.decide(request("olivia", "operator", "dataset.ingest")).allow
    server.stop()
    decision = engine.decide(request("olivia", "operator", "dataset.ingest"))
    assert not decision.allow and decision.reasons[0].startswith(ENGINE_ERROR)
    assert decision.policy_hash == engine.policy_hash


def test_server_error_denies(fake: FakeOpa, policy_dir: Path) -> None:
    engine = OpaServerEngine(fake.url, policy_dir)
    fake.fail_queries = True
    decision = engine.decide(request("olivia", "operator", "dataset.ingest"))
    assert not decision.allow and decision.reasons[0].startswith(f"{ENGINE_ERROR}OPA server")


def test_undefined_decision_denies(fake: FakeOpa, policy_dir: Path) -> None:
    engine = OpaServerEngine(fake.url, policy_dir)
    fake.modules.clear()
    decision = engine.decide(request("olivia", "operator", "dataset.ingest"))
    assert decision.reasons == [f"{ENGINE_ERROR}appliance/authz/decision is undefined on the "
                                f"OPA server at {fake.url}"]


def test_proxy_settings_are_ignored(fake: FakeOpa, policy_dir: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the environment would take loopback traffic off the machine.
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    engine = OpaServerEngine(fake.url, policy_dir)
    assert engine.decide(request("olivia", "operator", "dataset.ingest")).allow


def test_threads_decide_at_once(fake: FakeOpa, policy_dir: Path, engine: EmbeddedEngine) -> None:
    remote = OpaServerEngine(fake.url, policy_dir)
    documents = PROBES[:12]
    with ThreadPoolExecutor(max_workers=4) as pool:
        decisions = list(pool.map(remote.decide, documents))
    assert decisions == [engine.decide(d) for d in documents]


# --- a real OPA server, when one is running -------------------------------------------------

def _live_url() -> str:
    return Settings().opa_url


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=0.5):  # noqa: S310
            return True
    except OSError:
        return False


live = pytest.mark.skipif(
    not _reachable(_live_url()),
    reason=f"no OPA server reachable at {_live_url()} (set APPLIANCE_OPA_URL, or start one: "
           "opa run --server --addr 127.0.0.1:8181)")


@live
def test_live_opa_decides_as_the_embedded_engine(engine: EmbeddedEngine,
                                                  policy_dir: Path) -> None:
    remote = OpaServerEngine(_live_url(), policy_dir)
    assert remote.policy_hash == engine.policy_hash
    for document in PROBES:
        assert remote.decide(document) == engine.decide(document), document
