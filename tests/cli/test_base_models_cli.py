"""``appliance model base add|list``: registering a base model is an admin's act, and audited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_cli import cli_home, run  # noqa: F401  (the fixture, shared)
from tests.training.tiny_models import make_tiny_bert


@pytest.fixture
def with_admin(cli_home: dict[str, Any], capsys: pytest.CaptureFixture[str]  # noqa: F811
               ) -> dict[str, Any]:
    code, out, _ = run(capsys, "--home", cli_home["home"], "user", "add", "adam", "--role",
                       "admin")
    assert code == 0
    cli_home["tokens"]["adam"] = out.strip().splitlines()[-1]
    cli_home["model"] = make_tiny_bert(Path(cli_home["tmp"]) / "tiny-bert")
    return cli_home


def _events(home: str, action: str) -> list[Any]:
    from appliance.context import open_context

    ctx = open_context(home)
    try:
        return list(ctx.audit.query(action=action))
    finally:
        ctx.close()


def test_admin_registers_a_base_model(with_admin: dict[str, Any],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    h, t, model = with_admin["home"], with_admin["tokens"], with_admin["model"]
    code, out, err = run(capsys, "--home", h, "model", "base", "add", "tiny", str(model),
                         "--json", token=t["adam"])
    assert code == 0, err
    info = json.loads(out)
    assert info["name"] == "tiny" and info["path"] == str(model.resolve())
    assert len(info["sha256"]) == 64

    code, out, _ = run(capsys, "--home", h, "model", "base", "list", "--json",
                       token=t["olivia"])
    assert code == 0 and "tiny" in {b["name"] for b in json.loads(out)}

    [event] = [e for e in _events(h, "model.base.register") if e.actor == "adam"]
    assert event.decision == "allow" and event.role == "admin"
    assert event.resource == "base_model:tiny" and event.purpose == "administration"
    assert list(event.reasons) == ["role: admin may model.base.register"]
    assert event.details["path"] == str(model.resolve())


@pytest.mark.parametrize("who", ["olivia", "carol", "audra"])
def test_other_roles_are_refused_with_the_rule_and_audited(
        with_admin: dict[str, Any], capsys: pytest.CaptureFixture[str], who: str) -> None:
    h, t, model = with_admin["home"], with_admin["tokens"], with_admin["model"]
    code, _, err = run(capsys, "--home", h, "model", "base", "add", "tiny", str(model),
                       token=t[who])
    role = {"olivia": "operator", "carol": "compliance", "audra": "auditor"}[who]
    assert code == 4
    assert err == (f"error: {who} ({role}) may not model.base.register base_model tiny "
                   f"(role: {role} may not model.base.register)\n")

    code, out, _ = run(capsys, "--home", h, "model", "base", "list", "--json",
                       token=t["adam"])
    assert code == 0 and "tiny" not in {b["name"] for b in json.loads(out)}
    [event] = [e for e in _events(h, "model.base.register") if e.actor == who]
    assert event.decision == "deny" and event.resource == "base_model:tiny"
    assert list(event.reasons) == [f"role: {role} may not model.base.register"]


def test_registration_needs_a_token(with_admin: dict[str, Any],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--home", with_admin["home"], "model", "base", "add", "tiny",
                       str(with_admin["model"]))
    assert code == 3 and "authentication failed" in err
