"""The same ``appliance dataset`` commands, locally and against a live server: same output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.main import main
from appliance.errors import Conflict, NotFound


def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str,
        url: str | None, token: str) -> tuple[int, str, str]:
    monkeypatch.setenv("APPLIANCE_TOKEN", token)
    if url:
        monkeypatch.setenv("APPLIANCE_URL", url)
    else:
        monkeypatch.delenv("APPLIANCE_URL", raising=False)
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_remote_and_local_cli_agree(live: Any, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "t.jsonl"
    data.write_text("".join(json.dumps({"text": f"note {i}", "label": "a"}) + "\n"
                            for i in range(5)))
    home = str(live.home)
    olivia, carol = live.tokens["olivia"], live.tokens["carol"]
    code, out, _ = cli(capsys, monkeypatch, "dataset", "ingest", str(data), "--name", "r",
                       "--no-redact", "--json", url=live.url, token=olivia)
    assert code == 0
    dataset_id = json.loads(out)["dataset_id"]
    remote_show = cli(capsys, monkeypatch, "dataset", "show", dataset_id, "--json",
                      url=live.url, token=carol)
    local_show = cli(capsys, monkeypatch, "--home", home, "dataset", "show", dataset_id,
                     "--json", url=None, token=carol)
    assert remote_show[0] == local_show[0] == 0
    assert json.loads(remote_show[1]) == json.loads(local_show[1])
    denied_remote = cli(capsys, monkeypatch, "dataset", "approve", dataset_id, url=live.url,
                        token=olivia)
    denied_local = cli(capsys, monkeypatch, "--home", home, "dataset", "approve", dataset_id,
                       url=None, token=olivia)
    assert denied_remote[0] == denied_local[0] == 4
    code, out, _ = cli(capsys, monkeypatch, "dataset", "approve", dataset_id, url=live.url,
                       token=carol)
    assert code == 0 and "APPROVED" in out


def test_training_commands_agree_remote_and_local(live: Any,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``job``, ``model`` and ``export`` go through the same backend: same output, same exit."""
    pending = live.dataset("olivia")
    olivia = live.tokens["olivia"]
    commands = [
        (["job", "list", "--json"], 0),
        (["job", "show", "job_000000000000"], NotFound.exit_code),
        (["job", "run", "--dataset", pending, "--task", "classification"], Conflict.exit_code),
        (["model", "list", "--json"], 0),
        (["model", "show", "mdl_000000000000"], NotFound.exit_code),
        (["export", "list", "--json"], 0),
        (["export", "reject", "exp_000000000000"], NotFound.exit_code),
    ]
    for args, expected in commands:
        remote = cli(capsys, monkeypatch, *args, url=live.url, token=olivia)
        local = cli(capsys, monkeypatch, "--home", str(live.home), *args, url=None, token=olivia)
        assert remote == local, args
        assert remote[0] == expected, (args, remote)
