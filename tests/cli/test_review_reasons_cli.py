"""A reviewer's reason is kept redacted, shown by ``dataset show`` and tied to its audit event."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import cli_home, run

__all__ = ["cli_home"]
REASON = "approved after talking to Maria Gonzalez"
KEPT = "approved after talking to <PERSON>"


def ingest(cli_home: dict[str, Any], capsys: pytest.CaptureFixture[str], name: str) -> str:
    code, out, err = run(capsys, "--home", cli_home["home"], "dataset", "ingest",
                         cli_home["data"], "--name", name, "--text-field", "text",
                         "--label-field", "label", "--no-redact", "--json",
                         token=cli_home["tokens"]["olivia"])
    assert code == 0, err
    return str(json.loads(out)["dataset_id"])


def test_approve_reason_is_redacted_shown_and_audited(
        cli_home: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    h, t = cli_home["home"], cli_home["tokens"]
    dataset_id = ingest(cli_home, capsys, "d")
    code, _, err = run(capsys, "--home", h, "dataset", "approve", dataset_id, "--reason", REASON,
                       token=t["carol"])
    assert code == 0, err
    code, out, _ = run(capsys, "--home", h, "dataset", "show", dataset_id, token=t["audra"])
    assert code == 0 and f"approve by carol: {KEPT}" in out and "Gonzalez" not in out
    code, out, _ = run(capsys, "--home", h, "dataset", "show", dataset_id, "--json",
                       token=t["audra"])
    review = json.loads(out)["reviews"][0]
    digest = hashlib.sha256(KEPT.encode()).hexdigest()
    assert review["reason"] == KEPT and review["reason_sha256"] == digest
    code, out, _ = run(capsys, "--home", h, "audit", "log", "--json", "--action",
                       "dataset.approve", "--decision", "allow", token=t["audra"])
    details = json.loads(out)[0]["details"]
    assert details == {"reason_given": True, "reason_sha256": digest}
    # nothing in the home holds the name: not the database, not the log
    conn = sqlite3.connect(Path(h) / "appliance.db")
    reasons = [r[0] for r in conn.execute("SELECT reason FROM dataset_reviews")]
    conn.close()
    assert reasons == [KEPT]
    for path in (Path(h) / "audit").glob("*.jsonl"):
        assert b"Gonzalez" not in path.read_bytes()


def test_reject_reason_is_redacted_and_a_too_long_one_changes_nothing(
        cli_home: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    h, t = cli_home["home"], cli_home["tokens"]
    dataset_id = ingest(cli_home, capsys, "r")
    code, _, err = run(capsys, "--home", h, "dataset", "reject", dataset_id, "--reason",
                       "x" * 2001, token=t["carol"])
    assert code == 2 and "a review reason is at most 2000 characters, got 2001" in err
    code, out, _ = run(capsys, "--home", h, "dataset", "show", dataset_id, "--json",
                       token=t["audra"])
    assert json.loads(out)["state"] == "PENDING_REVIEW" and json.loads(out)["reviews"] == []
    code, _, _ = run(capsys, "--home", h, "dataset", "reject", dataset_id, "--reason",
                     "labels are wrong, ask maria.gonzalez@example.com", token=t["carol"])
    assert code == 0
    code, out, _ = run(capsys, "--home", h, "dataset", "show", dataset_id, "--json",
                       token=t["audra"])
    review = json.loads(out)["reviews"][0]
    assert review["decision"] == "reject"
    assert review["reason"] == "labels are wrong, ask <EMAIL_ADDRESS>"
