"""The fast RFC 8785 encoder against the reference ``rfc8785`` package."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.audit.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalizationError,
    canonical_json,
    encode_trusted,
    parse_strict,
)

# Characters chosen to hit every branch of RFC 8785's string rule and its key order: controls
# (short and \u escapes), quote and backslash, DEL, non-ASCII BMP, the U+E000-U+FFFF block that
# sorts differently in UTF-16, and astral characters (surrogate pairs in UTF-16).
_CHARS = st.one_of(
    st.characters(min_codepoint=0, max_codepoint=0x7F),
    st.sampled_from(["\"", "\\", "\x7f", "\u2028", "é", "\ue000", "\uffff", "😀", "\U00010000"]),
    st.characters(blacklist_categories=("Cs",)),
)
_TEXT = st.text(_CHARS, max_size=12)
_SCALARS = st.one_of(
    st.none(), st.booleans(), _TEXT,
    st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(_TEXT, inner, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_fast_encoder_matches_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


_ASCII_KEYS = st.text(st.characters(max_codepoint=0x7F), max_size=8)
_ASCII_KEYED = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(_ASCII_KEYS, inner, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(_ASCII_KEYED)
def test_trusted_encoder_matches_rfc8785_when_keys_are_ascii(value: Any) -> None:
    """What the writer relies on: validated events have ASCII keys and no floats."""
    assert encode_trusted(value).encode() == rfc8785.dumps(value)


@settings(max_examples=150, deadline=None)
@given(_VALUES, st.sampled_from(["rfc8785", "escaped", "spaced", "unsorted"]))
def test_verifier_fast_path_accepts_exactly_what_rfc8785_accepts(value: Any, form: str) -> None:
    """What the verifier relies on: for ASCII text, comparing it with the C encoder's output of
    its parse accepts a line if and only if it is the RFC 8785 encoding of that parse."""
    text = {
        "rfc8785": lambda: rfc8785.dumps(value).decode(),
        "escaped": lambda: json.dumps(value, sort_keys=True, separators=(",", ":")),
        "spaced": lambda: json.dumps(value, sort_keys=True),
        "unsorted": lambda: json.dumps(value, separators=(",", ":")),
    }[form]()
    if not text.isascii():
        return
    parsed = parse_strict(text)
    assert (encode_trusted(parsed) == text) == (rfc8785.dumps(parsed) == text.encode())


@pytest.mark.parametrize("value, expected", [
    ({"b": 1, "a": [True, None, "x"]}, b'{"a":[true,null,"x"],"b":1}'),
    ("\x00\x08\t\n\x0b\x0c\r\x1f\"\\/\x7f", b'"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\\"\\\\/\x7f"'),
    ("é€😀", "\"é€😀\"".encode()),
    ({"\ue000": 1, "😀": 2}, '{"😀":2,"\ue000":1}'.encode()),  # UTF-16 order, not code points
    (-MAX_SAFE_INTEGER, b"-9007199254740991"),
])
def test_known_encodings(value: Any, expected: bytes) -> None:
    assert canonical_json(value) == expected == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [
    1.5, float("nan"), MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, {1: "x"}, {"a": b"x"},
    "\ud800", {"k": {1.0}},
])
def test_refuses_what_rfc8785_cannot_encode_identically(value: Any) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_json(value)


@pytest.mark.parametrize("text", ["1.0", "[1e3]", "NaN", "[Infinity]", "9007199254740992"])
def test_strict_parser_refuses_floats_and_unsafe_integers(text: str) -> None:
    with pytest.raises(ValueError):
        parse_strict(text)
