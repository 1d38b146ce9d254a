"""The ``appliance`` command end to end: exit codes, one-line errors, --json output."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str, token: str | None = None
        ) -> tuple[int, str, str]:
    old = os.environ.pop("APPLIANCE_TOKEN", None)
    if token:
        os.environ["APPLIANCE_TOKEN"] = token
    try:
        code = main(list(args))
    finally:
        os.environ.pop("APPLIANCE_TOKEN", None)
        if old:
            os.environ["APPLIANCE_TOKEN"] = old
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli_home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    home = str(tmp_path / "h")
    assert run(capsys, "--home", home, "init")[0] == 0
    tokens = {}
    for name, role in (("olivia", "operator"), ("carol", "compliance"), ("audra", "auditor")):
        code, out, _ = run(capsys, "--home", home, "user", "add", name, "--role", role)
        assert code == 0
        tokens[name] = out.strip().splitlines()[-1]
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"text": f"hello {i}", "label": "a" if i % 2 else "b"})
                            + "\n" for i in range(10)))
    return {"home": home, "tokens": tokens, "data": str(data), "tmp": tmp_path}


def test_init_refuses_existing_home(cli_home: dict, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--home", cli_home["home"], "init")
    assert code == 9 and "refusing to overwrite" in err


def test_home_files_are_private(cli_home: dict) -> None:
    for path in Path(cli_home["home"]).rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


def test_loose_key_permissions_refuse_to_start(cli_home: dict,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    key = next(Path(cli_home["home"], "keys").glob("master-v*.key"))
    key.chmod(0o644)
    code, _, err = run(capsys, "--home", cli_home["home"], "dataset", "list",
                       token=cli_home["tokens"]["olivia"])
    assert code == 9 and key.name in err and "chmod" in err


def test_ingest_list_show_approve_flow(cli_home: dict, capsys: pytest.CaptureFixture[str]) -> None:
    h, t = cli_home["home"], cli_home["tokens"]
    code, out, _ = run(capsys, "--home", h, "dataset", "ingest", cli_home["data"], "--name",
                       "d", "--text-field", "text", "--label-field", "label", "--no-redact",
                       "--json", token=t["olivia"])
    assert code == 0
    dataset_id = json.loads(out)["dataset_id"]
    code, out, _ = run(capsys, "--home", h, "dataset", "list", "--json", token=t["audra"])
    assert code == 0 and json.loads(out)[0]["row_count"] == 10
    assert "hello" not in out  # metadata only
    code, _, err = run(capsys, "--home", h, "dataset", "approve", dataset_id, token=t["olivia"])
    assert code == 4 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    code, out, _ = run(capsys, "--home", h, "dataset", "sample", dataset_id, "-n", "2",
                       token=t["carol"])
    assert code == 0 and len(out.strip().splitlines()) == 2
    code, out, _ = run(capsys, "--home", h, "dataset", "approve", dataset_id, "--reason", "ok",
                       token=t["carol"])
    assert code == 0 and "APPROVED" in out


def test_bad_token_exit_code_3(cli_home: dict, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--home", cli_home["home"], "dataset", "list", token="apl_nope")
    assert code == 3 and "authentication failed" in err
    code, _, _ = run(capsys, "--home", cli_home["home"], "dataset", "list")
    assert code == 3


def test_bad_input_file(cli_home: dict, capsys: pytest.CaptureFixture[str]) -> None:
    bad = cli_home["tmp"] / "bad.jsonl"
    bad.write_bytes(b'{"text": "a", "label": "b"}\n{oops\n')
    code, _, err = run(capsys, "--home", cli_home["home"], "dataset", "ingest", str(bad),
                       "--name", "x", "--no-redact", token=cli_home["tokens"]["olivia"])
    assert code == 2 and "bad.jsonl line 2: invalid JSON: Expecting property name" in err


def test_audit_verify_and_log(cli_home: dict, capsys: pytest.CaptureFixture[str]) -> None:
    h = cli_home["home"]
    code, out, _ = run(capsys, "--home", h, "audit", "verify")
    assert code == 0 and out.startswith("OK:")
    code, out, _ = run(capsys, "--home", h, "audit", "log", "--json", "--action", "user.manage",
                       token=cli_home["tokens"]["audra"])
    assert code == 0 and len(json.loads(out)) == 3
    code, _, _ = run(capsys, "--home", h, "audit", "log", token=cli_home["tokens"]["olivia"])
    assert code == 4
    saved = cli_home["tmp"] / "cp.json"
    assert run(capsys, "--home", h, "audit", "checkpoint", "--out", str(saved),
               token=cli_home["tokens"]["audra"])[0] == 0
    code, out, _ = run(capsys, "--home", h, "audit", "verify", "--checkpoint", str(saved))
    assert code == 0


def test_policy_check_explains(cli_home: dict, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--home", cli_home["home"], "policy", "check", "dataset.approve",
                       "--as-role", "operator", "--json")
    assert code == 4 and json.loads(out)["allow"] is False and json.loads(out)["reasons"]


def test_keys_rotate_keeps_data_readable(cli_home: dict,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    h, t = cli_home["home"], cli_home["tokens"]
    code, out, _ = run(capsys, "--home", h, "dataset", "ingest", cli_home["data"], "--name", "d",
                       "--no-redact", "--json", token=t["olivia"])
    dataset_id = json.loads(out)["dataset_id"]
    old_keys = sorted(p.name for p in Path(h, "keys").glob("master-v*"))
    assert run(capsys, "--home", h, "keys", "rotate")[0] == 0
    new_keys = sorted(p.name for p in Path(h, "keys").glob("master-v*"))
    assert new_keys != old_keys and not set(old_keys) & set(new_keys)
    code, out, _ = run(capsys, "--home", h, "dataset", "sample", dataset_id, "-n", "1",
                       token=t["carol"])
    assert code == 0 and "hello" in out
