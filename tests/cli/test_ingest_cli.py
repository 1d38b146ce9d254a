"""``appliance dataset ingest`` and ``report``: what the operator and the reviewer are told."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli import test_cli

run = test_cli.run
cli_home = test_cli.cli_home  # the fixture: a home with olivia, carol and audra


def test_directory_is_named_as_such(cli_home: dict, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--home", cli_home["home"], "dataset", "ingest",
                       str(cli_home["tmp"]), "--name", "x", "--no-redact",
                       token=cli_home["tokens"]["olivia"])
    assert code == 2 and "is a directory; give one JSONL or CSV file" in err
    assert "no such file" not in err


def test_warnings_progress_and_field_table(cli_home: dict,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = cli_home["tmp"] / "tickets.jsonl"
    records: list[dict[str, Any]] = [{"text": f"t{i}", "category": i, "ref": f"r{i}"}
                                     for i in range(3)]
    records.append({"text": "t9", "category": None, "ref": "r9"})
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    args = ("--home", cli_home["home"], "dataset", "ingest", str(data), "--name", "tickets",
            "--label-field", "category", "--text-field", "text", "--keep-field", "ref",
            "--no-redact")
    code, out, err = run(capsys, *args, token=cli_home["tokens"]["olivia"])
    assert code == 0
    # stderr is not a terminal here: plain progress lines, no bar.
    assert "ingest tickets: read 4 records, " in err and "\r" not in err
    assert "warning: 1 of 4 records dropped: 1 missing 'category' (label field)" in err
    assert ("warning: label field 'category' holds numbers in 3 records; they are stored as "
            "given") in err
    table = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert table["ref"].split()[1:5] == ["as", "given", "(redaction", "off)"]
    code, _, err = run(capsys, *args, token=cli_home["tokens"]["olivia"])
    assert code == 0 and "warning: the name 'tickets' is already used by ds_" in err
    assert "warning: the same content is already stored as ds_" in err


def test_no_progress_is_silent(cli_home: dict, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--home", cli_home["home"], "dataset", "ingest", cli_home["data"],
                       "--name", "d", "--no-redact", "--no-progress",
                       token=cli_home["tokens"]["olivia"])
    assert code == 0 and err == ""


@pytest.mark.slow
def test_report_flags_kept_pii_and_lists_fields(cli_home: dict,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = cli_home["tmp"] / "extra.jsonl"
    data.write_text("".join(json.dumps(
        {"text": f"my invoice {i} is wrong", "category": "billing",
         "customer_email": "maria.gonzalez@example.com", "owner": f"agent{i}@example.com",
         "note": "call Maria Gonzalez at +1 (415) 555-0134, card 4111 1111 1111 1111"}) + "\n"
        for i in range(3)))
    h = cli_home["home"]
    code, out, err = run(capsys, "--home", h, "dataset", "ingest", str(data), "--name", "extra",
                         "--task", "classification", "--text-field", "text", "--label-field",
                         "category", "--keep-field", "owner", "--no-progress", "--json",
                         token=cli_home["tokens"]["olivia"])
    assert code == 0, err
    result = json.loads(out)
    assert result["fields"]["customer_email"]["action"] == "redacted"
    assert "kept field 'owner' has 3 values that look like PII (EMAIL_ADDRESS 3)" in err
    code, out, _ = run(capsys, "--home", h, "dataset", "report", result["dataset_id"],
                       token=cli_home["tokens"]["carol"])
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines() if line[:1].isalpha()}
    assert "redacted" in rows["customer_email"] and "EMAIL_ADDRESS 3" in rows["customer_email"]
    assert "kept as given" in rows["owner"] and "FLAG: looks like PII" in rows["owner"]
    assert "records with PII redacted: 3" in out
    assert "maria" not in out.lower() and "agent0" not in out
    code, out, _ = run(capsys, "--home", h, "dataset", "sample", result["dataset_id"],
                       token=cli_home["tokens"]["carol"])
    assert "maria" not in out.lower() and "555-0134" not in out and "4111" not in out
    assert "agent0@example.com" in out  # kept as given, as asked (and flagged)


def test_messages_field_ingests_a_chat_file(cli_home: dict, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """``--task sft --messages-field``: every turn's content redacted, its role kept."""
    monkeypatch.setenv("APPLIANCE_NER_BACKEND", "none")  # the pattern recognizers: fast
    email = "maria.gonzalez@example.com"
    data = cli_home["tmp"] / "chats.jsonl"
    data.write_text("".join(json.dumps({"id": i, "turns": [
        {"role": "user", "content": f"my card {i} was stolen, write to {email}"},
        {"role": "assistant", "content": "block the card"}]}) + "\n" for i in range(3)))
    h, tokens = cli_home["home"], cli_home["tokens"]
    code, out, err = run(capsys, "--home", h, "dataset", "ingest", str(data), "--name", "chats",
                         "--task", "sft", "--messages-field", "turns", "--keep-field", "id",
                         "--no-progress", "--json", token=tokens["olivia"])
    assert code == 0, err
    result = json.loads(out)
    assert result["rows"] == 3 and result["state"] == "PENDING_REVIEW"
    assert result["fields"]["turns.content"]["action"] == "redacted"
    assert result["fields"]["turns.role"]["action"] == "kept"
    code, out, _ = run(capsys, "--home", h, "dataset", "sample", result["dataset_id"],
                       token=tokens["carol"])
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and email not in out and len(records) == 3
    assert all([t["role"] for t in r["turns"]] == ["user", "assistant"] for r in records)
    assert all("<EMAIL_ADDRESS>" in r["turns"][0]["content"] for r in records)
    code, out, _ = run(capsys, "--home", h, "dataset", "sample", result["dataset_id"],
                       "--low-confidence", "-n", "2", token=tokens["carol"])
    queued = out.splitlines()
    assert code == 0 and len(queued) == 2 and email not in out
    assert all(" EMAIL_ADDRESS " in q and "turns.content" in q and "[<EMAIL_ADDRESS>]" in q
               for q in queued)
    # a chat field and a prompt/response pair at once: one line, exit 2, nothing stored
    code, _, err = run(capsys, "--home", h, "dataset", "ingest", str(data), "--name", "bad",
                       "--task", "sft", "--messages-field", "turns", "--prompt-field", "id",
                       "--no-progress", token=tokens["olivia"])
    assert code == 2 and "takes no prompt or response field" in err
    code, out, _ = run(capsys, "--home", h, "dataset", "list", "--json", token=tokens["audra"])
    assert [d["name"] for d in json.loads(out)] == ["chats"]
