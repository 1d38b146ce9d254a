"""Cleaning steps and their counts."""

from __future__ import annotations

from pathlib import Path

from appliance.datasets.clean import Cleaner
from appliance.datasets.spec import parse_spec


def cleaner(tmp_path: Path, **cleaning: object) -> Cleaner:
    spec = parse_spec({"task": "classification", "text_field": "t", "label_field": "y",
                       "cleaning": cleaning})
    return Cleaner(spec, tmp_path)


def test_nfkc_and_whitespace(tmp_path: Path) -> None:
    c = cleaner(tmp_path)
    out = c.clean({"t": "  ｆｕｌｌ\u3000width \n\t text ", "y": "a"})
    assert out == {"t": "full width text", "y": "a"}
    assert c.counts["nfkc_changed"] == 1 and c.counts["whitespace_changed"] == 1


def test_missing_drop_and_fill(tmp_path: Path) -> None:
    c = cleaner(tmp_path)
    assert c.clean({"t": "x"}) is None and c.clean({"t": "x", "y": "  "}) is None
    assert c.counts["dropped_missing"] == 2
    f = cleaner(tmp_path, missing="fill")
    assert f.clean({"t": "x"}) == {"t": "x", "y": ""}
    assert f.counts["filled_missing"] == 1


def test_exact_and_normalised_duplicates(tmp_path: Path) -> None:
    c = cleaner(tmp_path)
    assert c.clean({"t": "Hello  World", "y": "a"}) is not None
    assert c.clean({"t": "hello world", "y": "a"}) is None  # normalised duplicate
    assert c.clean({"t": "hello world", "y": "b"}) is not None  # different label: kept
    exact = cleaner(tmp_path, dedupe="exact")
    assert exact.clean({"t": "Hello", "y": "a"}) is not None
    assert exact.clean({"t": "hello", "y": "a"}) is not None
    assert exact.clean({"t": "hello", "y": "a"}) is None
    assert c.counts["dropped_duplicate"] == 1 and exact.counts["dropped_duplicate"] == 1


def test_length_limit_reject_or_truncate(tmp_path: Path) -> None:
    reject = cleaner(tmp_path, max_chars=5)
    assert reject.clean({"t": "abcdefgh", "y": "a"}) is None
    assert reject.counts["dropped_too_long"] == 1
    truncate = cleaner(tmp_path, max_chars=5, over_length="truncate")
    assert truncate.clean({"t": "abcdefgh", "y": "a"}) == {"t": "abcde", "y": "a"}


def test_lowercase_and_scratch_file_removed(tmp_path: Path) -> None:
    c = cleaner(tmp_path, lowercase=True)
    assert c.clean({"t": "MiXeD", "y": "A"}) == {"t": "mixed", "y": "A"}
    c.close()
    assert list(tmp_path.iterdir()) == []
