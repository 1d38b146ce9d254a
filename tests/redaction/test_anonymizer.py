"""Operators, per-field configuration, pseudonym numbering, the report and its chart."""

from __future__ import annotations

import pickle
import xml.etree.ElementTree as ET

import pytest

from appliance.errors import ConfigurationError
from appliance.redaction import Redactor, RedactorConfig, render_chart_svg
from appliance.redaction.analyzer import PiiSpan

KEY = b"k" * 32


def spans(*items: tuple[int, int, str]) -> list[PiiSpan]:
    return [PiiSpan(s, e, t, 1.0) for s, e, t in items]


TEXT = "Anna Berg <anna@x.org> and Bob"  # Anna Berg 0-9, e-mail 10-22, Bob 27-30
FOUND = spans((0, 9, "PERSON"), (11, 21, "EMAIL_ADDRESS"), (27, 30, "PERSON"))


def test_placeholder_is_the_default() -> None:
    out = Redactor(None).redact_batch([TEXT], "body", spans=[FOUND])[0]
    assert out.text == "<PERSON> <<EMAIL_ADDRESS>> and <PERSON>" and not out.dropped


def test_mask_keeps_length() -> None:
    out = Redactor(None, {"EMAIL_ADDRESS": "mask"}).redact_batch([TEXT], "b", spans=[FOUND])[0]
    assert "<**********>" in out.text and len(out.text) > 0


def test_pseudonyms_are_numbered_by_first_appearance_and_stable() -> None:
    r = Redactor(None, default_operator="pseudonym", pseudonym_key=KEY)
    texts = ["Bob and Anna", "anna  again", "Carl"]
    found = [spans((0, 3, "PERSON"), (8, 12, "PERSON")), spans((0, 5, "PERSON")),
             spans((0, 4, "PERSON"))]
    out = [x.text for x in r.redact_batch(texts, "body", spans=found)]
    assert out == ["<PERSON_1> and <PERSON_2>", "<PERSON_2> again", "<PERSON_3>"]


def test_pseudonyms_differ_across_dataset_keys() -> None:
    a = Redactor(None, default_operator="pseudonym", pseudonym_key=KEY)
    b = Redactor(None, default_operator="pseudonym", pseudonym_key=b"z" * 32)
    a._pseudonyms.pseudonym("PERSON", "Zed")  # type: ignore[union-attr]
    assert a._pseudonyms._numbers != b._pseudonyms._numbers  # type: ignore[union-attr]


def test_pseudonym_needs_a_key_and_operators_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="pseudonym key"):
        Redactor(None, {"PERSON": "pseudonym"})
    with pytest.raises(ConfigurationError, match="unknown operator"):
        Redactor(None, {"PERSON": "shred"})


def test_drop_removes_the_record() -> None:
    r = Redactor(None, {"EMAIL_ADDRESS": "drop"})
    out = r.redact_batch([TEXT, "nothing"], "body", spans=[FOUND, []])
    assert out[0].dropped and out[0].text == "" and out[1].text == "nothing"
    assert r.report.to_dict()["fields"]["body"]["records_dropped"] == 1


def test_operators_per_field() -> None:
    r = Redactor(None, field_operators={"prompt": {"PERSON": "mask"}})
    found = spans((0, 3, "PERSON"))
    assert r.redact_batch(["Bob"], "prompt", spans=[found])[0].text == "***"
    assert r.redact_batch(["Bob"], "response", spans=[found])[0].text == "<PERSON>"


def test_report_counts_and_never_holds_pii(full_analyzer) -> None:  # type: ignore[no-untyped-def]
    r = Redactor(full_analyzer)
    texts = ["Contact Anna Berg at anna.berg@example.com", "The weather was fine all week.",
             "Call +44 20 7946 0958"]
    r.redact_batch(texts, "body")
    d = r.report.to_dict()
    assert d["fields"]["body"]["texts"] == 3 and d["fields"]["body"]["texts_touched"] == 2
    assert d["entities"]["EMAIL_ADDRESS"] == 1 and d["entities"]["PHONE_NUMBER"] == 1
    dumped = repr(d) + render_chart_svg(r.report)
    for secret in ("Anna", "Berg", "anna.berg", "7946"):
        assert secret not in dumped


def test_chart_is_valid_svg_with_escaped_labels() -> None:
    r = Redactor(None)
    r.redact_batch(["Bob"], "a<b>&c", spans=[spans((0, 3, "PERSON"))])
    root = ET.fromstring(render_chart_svg(r.report))  # noqa: S314 - our own output
    assert root.tag.endswith("svg")
    empty = render_chart_svg(Redactor(None).report)
    assert ET.fromstring(empty).tag.endswith("svg")  # noqa: S314


def test_config_is_picklable_for_worker_processes() -> None:
    config = RedactorConfig(ner_backend="none", operators={"PERSON": "mask"}, pseudonym_key=KEY)
    assert pickle.loads(pickle.dumps(config)) == config  # noqa: S301 - round-trip of our own
    assert "k" * 8 not in repr(config)


def test_worker_split_matches_single_process() -> None:
    from appliance.redaction import analyze_texts, build_redactor

    config = RedactorConfig(ner_backend="none", default_operator="pseudonym", pseudonym_key=KEY)
    texts = ["mail a@example.com", "again a@example.com", "b@example.com"]
    parent = build_redactor(config)
    shipped = pickle.loads(pickle.dumps(config))  # noqa: S301 - what a pool does
    remote_spans = analyze_texts(shipped, texts)
    out = [x.text for x in parent.redact_batch(texts, "t", spans=remote_spans)]
    assert out == ["mail <EMAIL_ADDRESS_1>", "again <EMAIL_ADDRESS_1>", "<EMAIL_ADDRESS_2>"]
