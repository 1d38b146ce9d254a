"""``appliance model score MODEL --file JSONL`` on the local home and against the service: one
``{"score": ...}`` line per input line, in order; a bad line is named and nothing is scored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.main import main
from tests.api.conftest import LiveServer, start_training_server, stop_server
from tests.api.test_score_http import BAD, GOOD, train_reward_model


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    live = start_training_server(tmp_path_factory.mktemp("score-cli"))
    try:
        yield live, train_reward_model(live.home)
    finally:
        stop_server(live)
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


def write(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines),
                    "utf-8")
    return path


def score_events(live: LiveServer) -> list[Any]:
    from appliance.context import open_context

    ctx = open_context(live.home)
    try:
        return [e for e in ctx.audit.query(action="model.score", limit=1000)
                if e.details.get("call") == "score"]
    finally:
        ctx.close()


@pytest.mark.parametrize("remote", [False, True], ids=["local", "remote"])
def test_one_score_per_line_in_order(scored: tuple[LiveServer, str], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch, remote: bool) -> None:
    live, model_id = scored
    turns = {"prompt": [{"role": "user", "content": "my card was stolen"}],
             "response": BAD["response"], "id": 7}
    items = write(tmp_path / "items.jsonl", [GOOD, "", BAD, turns])
    before = len(score_events(live))
    code, out, err = run(live, capsys, monkeypatch, "model", "score", model_id,
                         "--file", str(items), remote=remote)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [set(line) for line in lines] == [{"score"}] * 3
    good, bad, again = (line["score"] for line in lines)
    assert good > bad and again == pytest.approx(bad, abs=1e-4)
    events = score_events(live)
    assert len(events) == before + 1 and events[-1].details["items"] == 3


@pytest.mark.parametrize(("line", "says"), [
    ("{not json", "malformed JSON"),
    ('["hello"]', "needs a 'prompt' and a 'response'"),
    ('{"prompt": "hi"}', "needs a 'prompt' and a 'response'"),
    ('{"prompt": "  ", "response": "x"}', "'prompt' must be a non-empty string"),
    ('{"prompt": [{"role": "assistant", "content": "x"}], "response": "y"}',
     "turns ending with the user's"),
    ('{"prompt": "hi", "response": 3}', "'response' must be a non-empty string"),
])
def test_a_malformed_line_names_the_file_and_line(scored: tuple[LiveServer, str],
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  line: str, says: str) -> None:
    live, model_id = scored
    items = write(tmp_path / "bad.jsonl", [GOOD, line])
    before = len(score_events(live))
    code, out, err = run(live, capsys, monkeypatch, "model", "score", model_id,
                         "--file", str(items))
    assert code == 2 and out == ""
    assert err.startswith(f"error: {items}:2: ") and says in err, err
    assert len(score_events(live)) == before  # nothing was scored


def test_an_empty_file_and_a_missing_one(scored: tuple[LiveServer, str], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    live, model_id = scored
    empty = write(tmp_path / "empty.jsonl", ["", "  "])
    code, _, err = run(live, capsys, monkeypatch, "model", "score", model_id,
                       "--file", str(empty))
    assert code == 2 and "nothing to score" in err
    code, _, err = run(live, capsys, monkeypatch, "model", "score", model_id,
                       "--file", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "nope.jsonl" in err


@pytest.mark.parametrize("remote", [False, True], ids=["local", "remote"])
def test_an_auditor_is_refused(scored: tuple[LiveServer, str], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch, remote: bool) -> None:
    live, model_id = scored
    items = write(tmp_path / "items.jsonl", [GOOD])
    code, out, err = run(live, capsys, monkeypatch, "model", "score", model_id,
                         "--file", str(items), who="audra", remote=remote)
    assert code == 4 and out == ""
    assert "may not model.score" in err
