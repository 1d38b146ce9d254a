"""``appliance pii evaluate --thresholds``: the precision/recall trade-off at other thresholds,
computed on one run of the detectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appliance.cli.main import main
from appliance.errors import InvalidInput
from appliance.redaction.evaluation import threshold_sweep

TEXT = "We met in March and again on 3 May 2021; the invoice is 77 pages long."
GOLD = [{"text": TEXT, "spans": [{"start": 10, "end": 15, "label": "DATE_TIME"},
                                 {"start": 29, "end": 39, "label": "DATE_TIME"}]}]


def test_a_lower_threshold_finds_the_cued_month_a_higher_one_loses_it(
        pattern_analyzer: Any) -> None:
    rows = {(r.entity, r.threshold): r
            for r in threshold_sweep(GOLD, pattern_analyzer, (0.35, 0.5, 0.7))}
    # "in March" scores 0.4 (a month after a cue word); "3 May 2021" 0.65 before any boost.
    assert rows[("DATE_TIME", 0.35)].recall == 1.0 and rows[("DATE_TIME", 0.35)].configured
    assert rows[("DATE_TIME", 0.5)].recall == 0.5 and not rows[("DATE_TIME", 0.5)].configured
    assert rows[("DATE_TIME", 0.7)].predicted <= rows[("DATE_TIME", 0.5)].predicted
    # the sweep never changes what the analyzer returns afterwards
    assert [s.entity_type for s in pattern_analyzer.analyze(TEXT)] == ["DATE_TIME"] * 2


def test_thresholds_outside_zero_one_are_refused(pattern_analyzer: Any) -> None:
    with pytest.raises(InvalidInput, match=r"\[0, 1\]"):
        threshold_sweep(GOLD, pattern_analyzer, (0.5, 1.5))


def test_the_command_prints_the_trade_off(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_NER_BACKEND", "none")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps(GOLD[0]) + "\n")
    assert main(["--home", str(tmp_path / "none"), "pii", "evaluate", str(gold),
                 "--thresholds", "0.35,0.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    sweep = {(r["entity"], r["threshold"]): r["recall"] for r in out["thresholds"]}
    assert sweep == {("DATE_TIME", 0.35): 1.0, ("DATE_TIME", 0.5): 0.5}
    assert main(["--home", str(tmp_path / "none"), "pii", "evaluate", str(gold),
                 "--thresholds", "low"]) == 2
    assert "--thresholds wants numbers" in capsys.readouterr().err
