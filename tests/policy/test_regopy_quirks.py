"""rego-cpp 1.5 behaviours the policy and the engine work around, pinned so that an upgrade
that fixes one shows up here (then the workaround it names can go)."""

from __future__ import annotations

import json

from regopy import Input, Interpreter, rego_shared

from appliance.policy.embedded import rego_input


def _query(module: str, rule: str, value: object = None, *, escaped: bool = False) -> str:
    """The raw output text: regopy's Output would try to parse it, and fail on the broken ones."""
    interpreter = Interpreter()
    interpreter.add_module("t.rego", "package t\n" + module)
    if value is not None:
        interpreter.set_input(rego_input(value) if escaped else Input(value))
    output = rego_shared.rego_query(interpreter._impl, f"data.t.{rule}")
    try:
        return str(rego_shared.rego_output_string(output))
    finally:
        rego_shared.rego_free_output(output)


def test_sprintf_of_a_computed_string_keeps_its_quotes() -> None:
    # Why authz.rego builds reasons with concat, never sprintf("%s", [computed]).
    out = _query('x := sprintf("r: %s", [concat(",", ["a", "b"])])', "x")
    assert out == '{"expressions":["r: "a,b""]}'


def test_sort_of_a_set_does_not_compare_as_an_array() -> None:
    # Why authz.rego copies sort(deny) through a comprehension.
    module = ('s contains "a" if true\n'
              "direct if sort(s) == [\"a\"]\n"
              "copied if [x | some x in sort(s)] == [\"a\"]\n")
    assert _query(module, "direct") == "undefined"
    assert _query(module, "copied") == '{"expressions":[true]}'


def test_raw_input_strings_are_written_back_unescaped() -> None:
    # Why EmbeddedEngine passes strings in their JSON-escaped form (rego_input).
    name = 'a"b\\c'
    raw = _query("x := input.n", "x", {"n": name})
    assert raw == '{"expressions":["a"b\\c"]}'
    escaped = _query("x := input.n", "x", {"n": name}, escaped=True)
    assert json.loads(escaped)["expressions"] == [name]
