"""The remote CLI client: the same results and the same errors as the local service layer."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from appliance import datasets as ds
from appliance.cli.remote import LocalBackend, RemoteClient, backend
from appliance.errors import AccessDenied, AuthenticationFailed, Conflict, NotFound
from tests.api.conftest import RECORDS, LiveServer, jsonl

SPEC = ds.parse_spec({"task": "classification", "text_field": "text", "label_field": "label",
                      "redact": False})


@pytest.fixture
def remote(live: LiveServer) -> Iterator[dict[str, RemoteClient]]:
    clients = {who: RemoteClient(live.url, live.tokens[who])
               for who in ("olivia", "carol", "audra", "adam")}
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture
def local(live: LiveServer) -> Iterator[dict[str, LocalBackend]]:
    from appliance.context import open_context
    from appliance.gate import Principal

    ctx = open_context(live.home)
    yield {"olivia": LocalBackend(ctx, Principal("olivia", "operator")),
           "carol": LocalBackend(ctx, Principal("carol", "compliance")),
           "audra": LocalBackend(ctx, Principal("audra", "auditor"))}
    ctx.close()


def test_remote_and_local_return_the_same(remote: dict[str, RemoteClient],
                                          local: dict[str, LocalBackend]) -> None:
    data = jsonl(RECORDS)
    result = remote["olivia"].ingest_stream(io.BytesIO(data), name="r.jsonl", fmt="jsonl",
                                            spec=SPEC, total_bytes=len(data))
    assert result.rows == len(RECORDS)
    dataset_id = result.dataset_id
    assert remote["olivia"].show_dataset(dataset_id) == local["olivia"].show_dataset(dataset_id)
    assert remote["carol"].get_report(dataset_id) == local["carol"].get_report(dataset_id)
    assert remote["carol"].sample_records(dataset_id, 4) == \
        local["carol"].sample_records(dataset_id, 4)
    assert remote["olivia"].list_datasets(ds.PENDING) == local["olivia"].list_datasets(ds.PENDING)
    approved = remote["carol"].approve_dataset(dataset_id, "fine")
    assert approved == local["carol"].show_dataset(dataset_id)
    assert approved.state == ds.APPROVED
    events = remote["audra"].audit_query(resource=f"dataset:{dataset_id}", limit=None)
    assert events == local["audra"].audit_query(resource=f"dataset:{dataset_id}", limit=None)


def test_remote_errors_are_the_local_errors(remote: dict[str, RemoteClient],
                                            live: LiveServer) -> None:
    dataset_id = live.dataset("olivia")
    with pytest.raises(AccessDenied) as denied:
        remote["olivia"].approve_dataset(dataset_id)
    assert denied.value.exit_code == 4 and any("separation_of_duties" in r
                                               for r in denied.value.reasons)
    with pytest.raises(NotFound):
        remote["carol"].show_dataset("ds_000000000000")
    remote["carol"].reject_dataset(dataset_id, "no")
    with pytest.raises((Conflict, AccessDenied)):
        remote["carol"].reject_dataset(dataset_id, "again")
    with pytest.raises(AuthenticationFailed) as failed:
        RemoteClient(live.url, "apl_wrong").list_datasets()
    assert failed.value.exit_code == 3


def test_remote_audit_export_and_verify(remote: dict[str, RemoteClient]) -> None:
    out = io.StringIO()
    remote["audra"].audit_export("csv", out)
    assert out.getvalue().startswith("seq,")
    assert remote["audra"].audit_verify()["ok"] is True


def test_backend_follows_appliance_url(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    monkeypatch.setenv("APPLIANCE_URL", live.url)
    monkeypatch.setenv("APPLIANCE_TOKEN", live.tokens["audra"])
    chosen = backend(argparse.Namespace(home=None, token=None))
    assert isinstance(chosen, RemoteClient)
    assert chosen.list_datasets() is not None
    monkeypatch.delenv("APPLIANCE_URL")
    local = backend(argparse.Namespace(home=str(live.home), token=live.tokens["audra"]))
    assert isinstance(local, LocalBackend) and local.principal.name == "audra"
