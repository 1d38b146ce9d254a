"""``appliance audit log|export`` for auditors: newest first, filters, downloads, verify ranges."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import cli_home, run

__all__ = ["cli_home"]


def test_log_is_newest_first_with_a_flag_to_reverse(
        cli_home: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    h, audra = cli_home["home"], cli_home["tokens"]["audra"]
    code, out, _ = run(capsys, "--home", h, "audit", "log", "--json", token=audra)
    seqs = [e["seq"] for e in json.loads(out)]
    assert code == 0 and seqs == sorted(seqs, reverse=True) and seqs[-1] == 1
    assert json.loads(out)[0]["action"] == "audit.read"  # this very query, on top
    code, out, _ = run(capsys, "--home", h, "audit", "log", "--json", "--oldest-first",
                       "--limit", "3", token=audra)
    assert [e["seq"] for e in json.loads(out)] == [1, 2, 3]
    code, out, _ = run(capsys, "--home", h, "audit", "log", "--limit", "2", token=audra)
    rows = out.splitlines()
    assert rows[0].split()[0] == "SEQ" and int(rows[2].split()[0]) > int(rows[3].split()[0])


def test_log_pages_newest_first_without_repeats(
        cli_home: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    h, audra = cli_home["home"], cli_home["tokens"]["audra"]
    for _ in range(4):  # each query is an audit.read event: ten events in all
        run(capsys, "--home", h, "audit", "log", "--limit", "1", token=audra)
    _, out, _ = run(capsys, "--home", h, "audit", "log", "--json", "--limit", "3", token=audra)
    first = [e["seq"] for e in json.loads(out)]
    _, out, _ = run(capsys, "--home", h, "audit", "log", "--json", "--limit", "3", "--offset",
                    "3", "--up-to-seq", str(first[0]), token=audra)
    assert [e["seq"] for e in json.loads(out)] == [first[-1] - 1, first[-1] - 2, first[-1] - 3]
    _, out, _ = run(capsys, "--home", h, "audit", "log", "--json", "--limit", "3", "--offset",
                    "3", token=audra)
    assert [e["seq"] for e in json.loads(out)][0] == first[-1] + 1  # unanchored: it shifts


def test_log_prefix_and_substring_filters(
        cli_home: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    h, audra = cli_home["home"], cli_home["tokens"]["audra"]
    code, out, _ = run(capsys, "--home", h, "audit", "log", "--json", "--action-prefix", "user.",
                       token=audra)
    assert code == 0 and {e["action"] for e in json.loads(out)} == {"user.manage"}
    code, out, _ = run(capsys, "--home", h, "audit", "log", "--json", "--resource-contains",
                       "olivia", token=audra)
    assert code == 0 and json.loads(out)
    assert all("olivia" in e["resource"] for e in json.loads(out))
    code, out, _ = run(capsys, "--home", h, "audit", "log", "--json", "--action", "user.",
                       token=audra)
    assert code == 0 and json.loads(out) == []  # plain --action stays an exact match
    with pytest.raises(SystemExit):  # argparse: the spellings exclude each other
        run(capsys, "--home", h, "audit", "log", "--action", "a", "--action-prefix", "b",
            token=audra)
    assert "not allowed with argument" in capsys.readouterr().err


def test_export_honours_filters_and_order(
        cli_home: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    h, audra = cli_home["home"], cli_home["tokens"]["audra"]
    out_file = cli_home["tmp"] / "users.csv"
    code, _, _ = run(capsys, "--home", h, "audit", "export", "--format", "csv", "--out",
                     str(out_file), "--action-prefix", "user.", token=audra)
    rows = list(csv.DictReader(io.StringIO(out_file.read_text("utf-8"))))
    assert code == 0 and len(rows) == 3 and {r["action"] for r in rows} == {"user.manage"}
    assert [int(r["seq"]) for r in rows] == sorted((int(r["seq"]) for r in rows), reverse=True)
    code, out, _ = run(capsys, "--home", h, "audit", "export", "--oldest-first",
                       "--actor-contains", "aud", token=audra)
    events = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and events and all("aud" in e["actor"] for e in events)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)


def test_verify_names_the_whole_removed_range(
        cli_home: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    h, audra = cli_home["home"], cli_home["tokens"]["audra"]
    for _ in range(6):  # one event, one checkpoint each
        run(capsys, "--home", h, "audit", "log", "--limit", "1", token=audra)
    segment = sorted((Path(h) / "audit").glob("segment-*.jsonl"))[-1]
    lines = segment.read_bytes().splitlines(keepends=True)
    total = len(lines)
    segment.write_bytes(b"".join(lines[:-5]))
    code, _, err = run(capsys, "--home", h, "audit", "verify")
    assert code != 0
    assert (f"events {total - 4}-{total} were removed (5 events; the latest checkpoint covers "
            f"{total}, the log ends at {total - 5})") in err
