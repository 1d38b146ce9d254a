"""tools/calibrate_pii.py: the recall-first choice and the YAML block it writes."""

from __future__ import annotations

from pathlib import Path

from appliance.redaction.evaluation import SweepRow
from appliance.redaction.registry import DEFAULT_CONFIG, load_recognizer_set
from tools.calibrate_pii import _BLOCK, choose, f_beta, yaml_block


def _row(entity: str, t: float, p: float, r: float) -> SweepRow:
    return SweepRow(entity, t, False, p, r, r, 10, 10)


def test_the_choice_weighs_recall_four_times_and_prefers_the_lower_threshold() -> None:
    rows = [_row("PERSON", 0.3, 0.70, 0.95), _row("PERSON", 0.5, 0.90, 0.85),
            _row("ORGANIZATION", 0.4, 0.60, 0.80), _row("ORGANIZATION", 0.6, 0.60, 0.80)]
    chosen = choose(rows, beta=2.0)
    # F2 favours 0.95 recall at 0.70 precision over 0.85 at 0.90; F1 would not.
    assert f_beta(0.70, 0.95, 1) < f_beta(0.90, 0.85, 1)
    assert chosen["PERSON"]["threshold"] == 0.3
    assert chosen["ORGANIZATION"]["threshold"] == 0.4  # a tie: the lower one


def test_the_written_block_replaces_the_shipped_one_and_loads(tmp_path: Path) -> None:
    shipped = DEFAULT_CONFIG.read_text("utf-8")
    assert _BLOCK.search(shipped), "the calibration tool must find the thresholds block"
    block = yaml_block({"PERSON": {"threshold": 0.45}, "LOCATION": {"threshold": 0.6}},
                       1500, 4242, 2.0)
    written = tmp_path / "recognizers.yaml"
    written.write_text(_BLOCK.sub(block, shipped, count=1), "utf-8")
    loaded = load_recognizer_set(written)
    assert loaded.thresholds == {"PERSON": 0.45, "LOCATION": 0.6}
    assert loaded.recognizers and [r.name for r in loaded.recognizers] == \
        [r.name for r in load_recognizer_set(DEFAULT_CONFIG).recognizers]
