"""``appliance model generate`` on the local home and against the service: the same lines out.

The base is a tiny Llama trained to answer with an e-mail address, phone and card number, so the
output guard's work shows on stdout (placeholders) and stderr (the summary).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.main import main
from tests.api.conftest import LiveServer, start_training_server, stop_server
from tests.training.parrot_model import PII_FRAGMENTS, make_parrot_llama

REDACTED = "Write to <EMAIL_ADDRESS> or call <PHONE_NUMBER>, card <CREDIT_CARD>. Thanks!"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("generate-cli")
    server = start_training_server(root, "parrot", make_parrot_llama)
    yield server
    stop_server(server)
    from appliance.training.models import forget_predictors

    forget_predictors()


def run(live: LiveServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        *args: str, remote: bool = False, who: str = "olivia") -> tuple[int, str, str]:
    monkeypatch.setenv("APPLIANCE_TOKEN", live.tokens[who])
    if remote:
        monkeypatch.setenv("APPLIANCE_URL", live.url)
    else:
        monkeypatch.delenv("APPLIANCE_URL", raising=False)
    code = main(["--home", str(live.home), *args])
    out, err = capsys.readouterr()
    return code, out, err


def events(live: LiveServer, action: str) -> list[Any]:
    from appliance.context import open_context

    ctx = open_context(live.home)
    try:
        return list(ctx.audit.query(action=action, limit=1000))
    finally:
        ctx.close()


def write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines),
                    "utf-8")
    return path


@pytest.mark.parametrize("remote", [False, True], ids=["local", "remote"])
def test_a_file_is_answered_line_by_line_in_order(live: LiveServer, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  remote: bool) -> None:
    prompts = write(tmp_path / "p.jsonl", [
        {"prompt": "hello"}, "", {"messages": [{"role": "user", "content": "who do i contact"}]},
        {"prompt": "help me please", "id": 7}])
    code, out, err = run(live, capsys, monkeypatch, "model", "generate", "base:parrot",
                         "--file", str(prompts), "--max-new-tokens", "60", remote=remote)
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [{"text": REDACTED}] * 3
    assert not any(f in out for f in PII_FRAGMENTS)
    assert ("output guard: personal data redacted in 3 of 3 answers (CREDIT_CARD 3, "
            "EMAIL_ADDRESS 3, PHONE_NUMBER 3)") in err
    done = events(live, "model.generate.completed")[-1]
    assert done.details["n"] == 3 and done.actor == "olivia"


def test_one_prompt_and_sampling_options(live: LiveServer, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("model", "generate", "base:parrot", "--prompt", "hello", "--temperature", "0.7",
            "--top-p", "0.9", "--seed", "11", "--max-new-tokens", "8")
    first = run(live, capsys, monkeypatch, *args)
    second = run(live, capsys, monkeypatch, *args, remote=True)
    assert first[0] == second[0] == 0 and first[1] == second[1]  # seeded: repeatable
    [decision, _] = [e for e in events(live, "model.generate") if e.details.get("n") == 1][-2:]
    assert decision.details["temperature"] == "0.7" and decision.details["top_p"] == "0.9"
    assert decision.details["random_state"] == 11 and decision.details["max_new_tokens"] == 8
    assert events(live, "model.generate.completed")[-1].details["finish"] == ("length",)


def test_more_prompts_than_one_call_takes_are_sent_in_batches(
        live: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.training.chat import MAX_BATCH

    prompts = write(tmp_path / "many.jsonl", [{"prompt": f"hello {i}"}
                                              for i in range(MAX_BATCH + 3)])
    code, out, err = run(live, capsys, monkeypatch, "model", "generate", "base:parrot",
                         "--file", str(prompts), "--max-new-tokens", "4", remote=True)
    assert code == 0, err
    assert len(out.splitlines()) == MAX_BATCH + 3
    sizes = [e.details["n"] for e in events(live, "model.generate.completed")][-2:]
    assert sizes == [MAX_BATCH, 3]


@pytest.mark.parametrize(("line", "says"), [
    ("{not json", "malformed JSON"),
    ('["hello"]', "needs a 'prompt' string or a 'messages' list"),
    ('{"text": "hello"}', "needs a 'prompt' string or a 'messages' list"),
    ('{"prompt": "a", "messages": []}', "needs a 'prompt' string or a 'messages' list"),
    ('{"prompt": 3}', "'prompt' must be a string"),
    ('{"prompt": "  "}', "the prompt is empty"),
    ('{"messages": "hello"}', "'messages' must be a list"),
    ('{"messages": [{"role": "robot", "content": "x"}]}', "message 1: role must be one of"),
    ('{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}',
     "the last message must be the user's"),
    ('{"messages": [{"role": "user"}]}', "message 1 must be an object with exactly"),
])
def test_a_malformed_line_names_the_file_and_line(live: LiveServer, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  line: str, says: str) -> None:
    prompts = write(tmp_path / "bad.jsonl", [{"prompt": "hello"}, line])
    before = len(events(live, "model.generate"))
    code, out, err = run(live, capsys, monkeypatch, "model", "generate", "base:parrot",
                         "--file", str(prompts))
    assert code == 2 and out == ""
    assert err.strip() == f"error: {prompts}:2: {says}" or (
        err.startswith(f"error: {prompts}:2: ") and says in err), err
    assert len(events(live, "model.generate")) == before  # nothing was asked for


def test_an_empty_file_and_a_bad_model_name(live: LiveServer, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    empty = write(tmp_path / "empty.jsonl", ["", "  "])
    code, _, err = run(live, capsys, monkeypatch, "model", "generate", "base:parrot",
                       "--file", str(empty))
    assert code == 2 and "no prompts" in err
    code, _, err = run(live, capsys, monkeypatch, "model", "generate", "parrot",
                       "--prompt", "hi")
    assert code == 2 and "give a trained model id (mdl_...) or a registered base" in err
    code, _, err = run(live, capsys, monkeypatch, "model", "generate", "base:nope",
                       "--prompt", "hi", remote=True)
    assert code != 0 and "no base model 'nope'" in err


@pytest.mark.parametrize("remote", [False, True], ids=["local", "remote"])
def test_an_auditor_is_refused(live: LiveServer, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch, remote: bool) -> None:
    code, out, err = run(live, capsys, monkeypatch, "model", "generate", "base:parrot",
                         "--prompt", "hello", who="audra", remote=remote)
    assert code == 4 and out == ""
    assert "may not model.generate" in err
