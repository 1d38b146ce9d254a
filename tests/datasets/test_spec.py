"""Dataset specs: validation at load, dotted paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.datasets.spec import del_path, get_path, load_spec_file, parse_spec, set_path
from appliance.errors import InvalidInput


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"task": "classification", "text_field": "t"}, "--label-field"),
        ({"task": "sft", "prompt_field": "p"}, "--response-field"),
        ({"task": "nope"}, "task"),
        ({"classification": "secret"}, "classification must be one of"),
        ({"text_field": "t", "drop_fields": ["t"]}, "both dropped and used"),
        ({"operators": {"PERSON": "shred"}}, "operators.PERSON"),
    ],
)
def test_invalid_specs_are_refused(data: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match="invalid dataset spec") as err:
        parse_spec(data)
    assert message in str(err.value)


def test_spec_files_toml_and_yaml(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text('task = "sft"\nprompt_field = "q.text"\nresponse_field = "a"\n')
    spec = parse_spec(load_spec_file(toml))
    assert spec.text_fields() == ["q.text", "a"]
    yml = tmp_path / "s.yaml"
    yml.write_text("task: classification\ntext_field: body\nlabel_field: y\n"
                   "operators: {PERSON: pseudonym}\n")
    assert parse_spec(load_spec_file(yml)).operator_for("body") == {"PERSON": "pseudonym"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(InvalidInput, match="must be a mapping"):
        load_spec_file(bad)


def test_dotted_paths() -> None:
    record: dict = {"a": {"b": {"c": 1}}, "x": 2}
    assert get_path(record, "a.b.c") == 1 and get_path(record, "a.z") is None
    set_path(record, "a.b.d", 3)
    set_path(record, "n.m", 4)
    del_path(record, "x")
    del_path(record, "missing.path")
    assert record == {"a": {"b": {"c": 1, "d": 3}}, "n": {"m": 4}}
