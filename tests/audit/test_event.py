"""What an audit event may hold, and that an unverifiable one cannot be constructed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest
import rfc8785

from appliance.audit.event import GENESIS_HASH, AuditEvent, AuditRecord
from appliance.errors import IntegrityError, InvalidInput

from .conftest import event_fields

TIME = "2025-01-01T00:00:00.000000Z"


def sealed(**overrides: Any) -> AuditEvent:
    return AuditEvent.seal(AuditRecord(**event_fields(**overrides)), seq=1, time=TIME,
                           prev_hash=GENESIS_HASH)


def test_hash_is_sha256_of_rfc8785_without_hash() -> None:
    event = sealed()
    stored = json.loads(event.to_line())
    claimed = stored.pop("hash")
    assert claimed == event.hash == hashlib.sha256(rfc8785.dumps(stored)).hexdigest()
    assert stored["prev_hash"] == "0" * 64


def test_non_ascii_text_is_hashed_as_rfc8785_says() -> None:
    event = sealed(actor="José Ñúñez", reasons=["naïve ☃ reason", "emoji 😀"],
                   resource="dataset:données")
    stored = json.loads(event.to_line())
    del stored["hash"]
    assert event.hash == hashlib.sha256(rfc8785.dumps(stored)).hexdigest()
    assert "José".encode() in event.to_line()  # raw UTF-8, not \u escapes
    assert AuditEvent.from_line(event.to_line()) == event


def test_round_trips_through_its_line() -> None:
    event = sealed()
    assert AuditEvent.from_line(event.to_line()) == event
    assert AuditEvent.from_dict(event.as_dict()) == event


@pytest.mark.parametrize("change", [
    {"hash": "0" * 64},
    {"decision": "allow"},
    {"actor": "mallory"},
    {"seq": 2},
    {"prev_hash": "1" * 64},
])
def test_an_event_whose_hash_does_not_match_cannot_be_constructed(
    change: dict[str, Any],
) -> None:
    data = {**sealed().as_dict(), **change}
    with pytest.raises(IntegrityError, match="hash expected"):
        AuditEvent.from_dict(data)


@pytest.mark.parametrize("missing", ["hash", "prev_hash", "seq", "time"])
def test_an_event_without_its_chain_fields_cannot_be_constructed(missing: str) -> None:
    data = sealed().as_dict()
    del data[missing]
    with pytest.raises(InvalidInput, match="missing"):
        AuditEvent.from_dict(data)


@pytest.mark.parametrize("field, value", [
    ("seq", 0), ("seq", True), ("time", "2025-01-01T00:00:00Z"),
    ("time", "2025-13-01T00:00:00.000000Z"),
    ("prev_hash", "0" * 63), ("hash", "A" * 64),
])
def test_chain_fields_are_checked(field: str, value: Any) -> None:
    data = {**sealed().as_dict(), field: value}
    with pytest.raises(InvalidInput):
        AuditEvent.from_dict(data)


def test_non_canonical_line_is_refused() -> None:
    line = json.dumps(sealed().as_dict()).encode()
    with pytest.raises(IntegrityError, match="canonical"):
        AuditEvent.from_line(line)


def test_events_are_immutable() -> None:
    event = sealed()
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.decision = "deny"  # type: ignore[misc]
    with pytest.raises(TypeError):
        event.details["object_id"] = "other"  # type: ignore[index]


@pytest.mark.parametrize("key", [
    "token", "api_token", "password", "password_hash", "db_passphrase", "secret", "client_secret",
    "key", "private_key", "signing_key", "apikey", "credentials", "session_cookie", "pin", "otp",
    "seed", "mnemonic", "private_key_id",
])
def test_details_refuse_keys_named_like_secrets(key: str) -> None:
    with pytest.raises(InvalidInput, match="names a secret"):
        AuditRecord(**event_fields(details={key: "x"}))


@pytest.mark.parametrize("key", [
    "key_id", "key_version", "token_id", "token_hash", "token_sha256", "keyring_version",
    "object_id", "content_hash", "monkey", "tokens_issued", "credential_fingerprint",
])
def test_details_allow_references_to_secrets(key: str) -> None:
    AuditRecord(**event_fields(details={key: "abc123"}))


@pytest.mark.parametrize("value", [
    "Jane Doe lives at 1 Main St", "x" * 129, "line\nbreak", 1.5, {"nested": "dict"},
    2**53, ["ok", "not ok"], ["x"] * 65, b"bytes",
])
def test_details_hold_ids_hashes_numbers_and_codes_only(value: Any) -> None:
    with pytest.raises(InvalidInput):
        AuditRecord(**event_fields(details={"value": value}))


@pytest.mark.parametrize("value", [
    "ds_0123", "sha256:" + "f" * 64, 42, -1, True, None, ["a", "b", 3],
    "2025-01-01T00:00:00+00:00",
])
def test_details_accept(value: Any) -> None:
    record = AuditRecord(**event_fields(details={"value": value}))
    assert record.details["value"] == (tuple(value) if isinstance(value, list) else value)


@pytest.mark.parametrize("field, value", [
    ("decision", "maybe"), ("actor", ""), ("actor", "a" * 129), ("actor", "bob\n"),
    ("role", "Operator"), ("action", "Dataset Read"), ("resource", "x" * 257),
    ("reasons", "a string, not a list"), ("reasons", ["ok\x00"]), ("reasons", ["r"] * 33),
    ("policy_hash", "not a hash"), ("details", ["not", "a", "mapping"]),
    ("details", {f"k{i}": i for i in range(33)}), ("details", {"Bad-Key": 1}),
])
def test_fields_are_validated(field: str, value: Any) -> None:
    with pytest.raises(InvalidInput):
        AuditRecord(**event_fields(**{field: value}))


def test_unknown_and_missing_fields_are_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown"):
        AuditRecord.from_fields({**event_fields(), "token": "apl_x"})
    fields = event_fields()
    del fields["actor"]
    with pytest.raises(InvalidInput, match="incomplete"):
        AuditRecord.from_fields(fields)
