"""What ``appliance init``, ``user add`` and ``policy check`` tell an admin about the roles: every
role the identity layer accepts, the annotator's included, with what it may do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from appliance.cli.main import main
from appliance.identity import ROLES


def help_text(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*args, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # wrapping depends on the terminal


def test_user_add_names_every_role_and_what_an_annotator_does(
        capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "user", "add")
    assert "{" + ",".join(ROLES) + "}" in text
    for role in ROLES:
        assert re.search(rf"\b{role} \(", text), role
    assert "annotator (judges the feedback campaigns it is assigned to, nothing else)" in text


def test_init_suggests_every_role(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path / "home"), "init"]) == 0
    out = capsys.readouterr().out
    assert f"next: appliance user add NAME --role {'|'.join(ROLES)}" in out
    assert "|annotator" in out


def test_policy_check_documents_campaign_resources(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "policy", "check")
    assert "owner a campaign item's assigned reviewer (an annotator): only they may read or " \
           "judge it" in text
    assert "the shipped rules do not read it" not in text  # campaign.item.* read it
    assert "campaign or campaign_item" in text and "OPEN, CLOSED" in text
