"""Recall-first resolution of overlapping spans and per-entity thresholds (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest
from presidio_analyzer import RecognizerResult

from appliance.errors import ConfigurationError
from appliance.redaction.analyzer import _resolve
from appliance.redaction.registry import load_recognizer_set

TEXT = "abcdefghijklmnopqrstuvwxyz0123456789"
HEAD = "version: 1\nrecognizers:\n  - {name: IpRecognizer, entity: IP_ADDRESS}\n"


def _r(entity: str, start: int, end: int, score: float) -> RecognizerResult:
    return RecognizerResult(entity, start, end, score)


def _spans(results: list[RecognizerResult]) -> list[tuple[str, int, int, float]]:
    return [(r.entity_type, r.start, r.end, r.score) for r in results]


def test_overlapping_detectors_of_different_types_leave_no_character_in_clear() -> None:
    # NER says ORGANIZATION over 0-12, a pattern says URL over 8-20: nothing of 0-20 stays clear,
    # the pattern keeps its type on its characters, the NER the rest.
    got = _resolve(TEXT, [_r("URL", 8, 20, 0.6)], [_r("ORGANIZATION", 0, 12, 0.9)])
    assert _spans(got) == [("ORGANIZATION", 0, 8, 0.9), ("URL", 8, 20, 0.6)]


def test_overlapping_patterns_union_under_the_higher_score() -> None:
    got = _resolve(TEXT, [_r("UK_NHS", 0, 12, 0.5), _r("PHONE_NUMBER", 2, 14, 0.7)], [])
    assert _spans(got) == [("PHONE_NUMBER", 0, 14, 0.7)]
    got = _resolve(TEXT, [], [_r("PERSON", 0, 5, 0.6), _r("LOCATION", 3, 9, 0.8)])
    assert _spans(got) == [("LOCATION", 0, 9, 0.8)]


def test_a_ner_span_bridging_two_patterns_does_not_retype_them() -> None:
    text = "2019-12-30, NHS 748 950 2705"
    got = _resolve(text, [_r("DATE_TIME", 0, 10, 0.95), _r("UK_NHS", 16, 28, 0.6)],
                   [_r("PERSON", 0, 28, 0.9)])
    assert [(text[r.start : r.end], r.entity_type) for r in got] == [
        ("2019-12-30", "DATE_TIME"), (", NHS ", "PERSON"), ("748 950 2705", "UK_NHS")]
    # a piece with nothing alphanumeric left is not a span
    got = _resolve(text, [_r("DATE_TIME", 0, 10, 0.95), _r("UK_NHS", 12, 28, 0.6)],
                   [_r("PERSON", 0, 28, 0.9)])
    assert [r.entity_type for r in got] == ["DATE_TIME", "UK_NHS"]


def test_touching_spans_do_not_merge() -> None:
    got = _resolve(TEXT, [_r("EMAIL_ADDRESS", 5, 10, 1.0)], [_r("PERSON", 0, 5, 0.9)])
    assert _spans(got) == [("PERSON", 0, 5, 0.9), ("EMAIL_ADDRESS", 5, 10, 1.0)]


def test_per_entity_thresholds_are_read_and_defaulted(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(HEAD + "score_threshold: 0.4\nner: {min_score: 0.6}\n"
                    "thresholds: {PERSON: 0.3, IP_ADDRESS: 0.8}\n", "utf-8")
    limits = load_recognizer_set(path).entity_thresholds(("PERSON", "LOCATION"))
    assert limits == {"IP_ADDRESS": 0.8, "PERSON": 0.3, "LOCATION": 0.6}


@pytest.mark.parametrize(("thresholds", "message"), [
    ("{PERSONN: 0.5}", "unknown entity 'PERSONN'"),
    ("{PERSON: 1.5}", "thresholds.PERSON must be a number between 0 and 1"),
    ("{PERSON: -0.1}", "thresholds.PERSON must be a number between 0 and 1"),
    ("{PERSON: high}", "thresholds.PERSON must be a number between 0 and 1"),
    ("{PERSON: true}", "thresholds.PERSON must be a number between 0 and 1"),
    ("[0.5]", "thresholds must be a mapping"),
])
def test_bad_thresholds_are_a_configuration_error(tmp_path: Path, thresholds: str,
                                                  message: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(HEAD + f"thresholds: {thresholds}\n", "utf-8")
    with pytest.raises(ConfigurationError, match=message):
        load_recognizer_set(path)


def test_the_analyzer_applies_each_entitys_threshold(tmp_path: Path) -> None:
    from appliance.redaction.analyzer import PiiAnalyzer

    path = tmp_path / "r.yaml"
    text = "ip 10.0.0.1"
    path.write_text(HEAD + "thresholds: {IP_ADDRESS: 0.0}\n", "utf-8")
    low = PiiAnalyzer(load_recognizer_set(path))
    [span] = low.analyze(text)
    assert text[span.start : span.end] == "10.0.0.1"
    assert span.score < 1.0  # so a threshold above it exists
    path.write_text(HEAD + f"thresholds: {{IP_ADDRESS: {span.score + 0.01:.4f}}}\n", "utf-8")
    assert PiiAnalyzer(load_recognizer_set(path)).analyze(text) == []


def test_the_shipped_set_has_valid_thresholds() -> None:
    limits = load_recognizer_set().entity_thresholds(("PERSON", "LOCATION", "ORGANIZATION"))
    assert all(0 <= v <= 1 for v in limits.values()) and "PERSON" in limits


def _located(text: str, *parts: str) -> list[RecognizerResult]:
    out, cursor = [], 0
    for part in parts:
        start = text.index(part, cursor)
        out.append(_r("LOCATION", start, start + len(part), 0.9))
        cursor = start + len(part)
    return out


def test_the_parts_of_one_address_become_one_placeholder() -> None:
    from appliance.redaction.analyzer import join_addresses

    text = "Ship to: Maria Lopez\n221B Baker Street\nLondon NW1 6XE\nUnited Kingdom"
    parts = _located(text, "221B Baker Street", "London", "NW1 6XE", "United Kingdom")
    parts[1].score = 0.62
    person = _r("PERSON", 9, 20, 1.0)
    got = join_addresses(text, [person, *parts])
    assert _spans(got) == [("PERSON", 9, 20, 1.0),
                           ("LOCATION", text.index("221B"), len(text), 0.62)]
    inline = "Billing address: 1600 Amphitheatre Parkway, Mountain View, CA 94043, USA."
    got = join_addresses(inline, _located(inline, "1600 Amphitheatre Parkway",
                                          "Mountain View, CA 94043", "USA"))
    assert [inline[r.start : r.end] for r in got] == [
        "1600 Amphitheatre Parkway, Mountain View, CA 94043, USA"]


def test_a_list_of_places_or_parts_apart_stay_separate() -> None:
    from appliance.redaction.analyzer import join_addresses

    places = "Offices in Paris, London and Rome"
    assert len(join_addresses(places, _located(places, "Paris", "London", "Rome"))) == 3
    apart = "Flat 2, 10 Mill Lane; then Leeds"  # ";" and words between: not one address
    assert len(join_addresses(apart, _located(apart, "Flat 2, 10 Mill Lane", "Leeds"))) == 2
    blank = "10 Mill Lane\n\nLeeds LS1 4AP"  # a blank line ends the address
    assert len(join_addresses(blank, _located(blank, "10 Mill Lane", "Leeds LS1 4AP"))) == 2
