"""The evaluator's arithmetic on hand-made cases (rules: appliance.redaction.evaluation)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.errors import InvalidInput
from appliance.redaction.evaluation import canonical_label, evaluate

TEXT = "Anna Berg met Bob in Oslo."  # Anna Berg 0-9, Bob 14-17, Oslo 21-25
GOLD = [{"text": TEXT, "spans": [{"start": 0, "end": 9, "label": "PER"},
                                 {"start": 14, "end": 17, "label": "PERSON"},
                                 {"start": 21, "end": 25, "label": "GPE"}]}]


def _pred(*spans: tuple[int, int, str]) -> list[list[dict[str, object]]]:
    return [[{"start": s, "end": e, "entity_type": t, "score": 1.0} for s, e, t in spans]]


def test_exact_predictions_score_one() -> None:
    table = evaluate(GOLD, _pred((0, 9, "PERSON"), (14, 17, "PERSON"), (21, 25, "LOCATION")))
    row = table.to_dict()["overall"]
    assert row["precision"] == row["recall"] == row["f1"] == 1.0
    assert row["strict_f1"] == 1.0


def test_overlap_counts_where_strict_does_not() -> None:
    # "Anna" only (overlap, not exact); "Bob" exact; Oslo missed; one false positive "met".
    table = evaluate(GOLD, _pred((0, 4, "PERSON"), (14, 17, "PERSON"), (10, 13, "PERSON")))
    person = table.to_dict()["labels"]["PERSON"]
    assert (person["gold"], person["predicted"]) == (2, 3)
    assert person["recall"] == 1.0                     # both gold persons overlapped
    assert person["precision"] == round(2 / 3, 4)      # "met" overlaps nothing
    assert person["strict_recall"] == 0.5              # only Bob exact
    assert person["strict_precision"] == round(1 / 3, 4)
    assert person["f1"] == round(2 * (2 / 3) * 1 / (2 / 3 + 1), 4)
    loc = table.to_dict()["labels"]["LOCATION"]
    assert (loc["recall"], loc["precision"], loc["f1"]) == (0.0, 0.0, 0.0)
    overall = table.to_dict()["overall"]
    assert overall["recall"] == round(2 / 3, 4) and overall["precision"] == round(2 / 3, 4)


def test_wrong_type_counts_only_for_any_label_recall() -> None:
    table = evaluate(GOLD, _pred((21, 25, "ORGANIZATION")))
    d = table.to_dict()
    assert d["labels"]["LOCATION"]["recall"] == 0.0
    assert d["labels"]["LOCATION"]["any_label_recall"] == 1.0
    assert d["labels"]["ORGANIZATION"]["precision"] == 0.0
    assert d["overall"]["any_label_recall"] == round(1 / 3, 4)


def test_empty_predictions_and_rendering() -> None:
    table = evaluate(GOLD, [[]])
    assert table.to_dict()["overall"]["f1"] == 0.0
    text = table.render()
    assert "overall" in text and "strictF1" in text


def test_reads_jsonl_files(tmp_path: Path) -> None:
    gold, pred = tmp_path / "gold.jsonl", tmp_path / "pred.jsonl"
    gold.write_text("\n".join(json.dumps(g) for g in GOLD) + "\n", "utf-8")
    pred.write_text(json.dumps({"spans": _pred((14, 17, "PERSON"))[0]}) + "\n", "utf-8")
    assert evaluate(gold, pred).to_dict()["labels"]["PERSON"]["recall"] == 0.5


def test_line_count_mismatch_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="1 gold records but 2"):
        evaluate(GOLD, [[], []])


def test_label_aliases() -> None:
    assert canonical_label("per") == "PERSON"
    assert canonical_label("STREET_ADDRESS") == "LOCATION"
    assert canonical_label("EMAIL") == "EMAIL_ADDRESS"
    assert canonical_label("US_BANK_NUMBER") == "BANK_ACCOUNT"
    assert canonical_label("SOMETHING_ELSE") == "SOMETHING_ELSE"
