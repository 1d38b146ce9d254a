"""Canonical JSON (RFC 8785, the JSON Canonicalization Scheme) for audit events and checkpoints.

The ``rfc8785`` package is the reference, but it is written in pure Python and costs about 40 µs
for one event; verification must hash 100,000 events a second. So :func:`canonical_json` uses the
C encoder of the standard library, configured to produce exactly RFC 8785's output for the values
an audit record may hold (``str``, ``int``, ``bool``, ``None``, lists and string-keyed objects):

- separators ``,`` and ``:`` with no whitespace (RFC 8785 3.2.1);
- strings (3.2.2.2): ``ensure_ascii=False`` leaves every character from U+0020 up as raw UTF-8 and
  escapes ``"``, ``\\``, ``\\b \\f \\n \\r \\t`` in their short form and every other control
  character as ``\\u00xx`` in lower-case hex -- the same rule as ECMAScript's
  ``JSON.stringify``. Lone surrogates cannot be UTF-8 encoded and are refused, as RFC 8785 does;
- integers (3.2.2.3) print as decimal digits, and are refused outside +-(2**53 - 1), where an
  IEEE 754 double (which RFC 8785 numbers are) would lose them. Floats are refused outright: an
  audit record has no use for them and their serialisation is where implementations differ;
- object members are sorted by key (3.2.3). RFC 8785 sorts by UTF-16 code units and Python by code
  points; the two orders agree whenever keys are ASCII, so a value with any non-ASCII key is
  handed to the reference implementation instead.

``tests/audit/test_canonical.py`` checks this encoder against ``rfc8785.dumps`` on generated
values, non-ASCII and astral keys included.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import rfc8785

from appliance.errors import InvalidInput

JsonValue: TypeAlias = (
    "str | int | bool | None | Sequence[JsonValue] | Mapping[str, JsonValue]"
)

#: The largest integer an IEEE 754 double holds exactly (RFC 8785 3.2.2.3, I-JSON RFC 7493).
MAX_SAFE_INTEGER = 2**53 - 1

_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    sort_keys=True,
    separators=(",", ":"),
    allow_nan=False,
    check_circular=False,
)


def _refuse(value: object) -> object:
    raise TypeError(f"{type(value).__name__} values cannot be canonicalised")


def _trusted_encoder() -> Callable[[Any], str]:
    """The C encoder itself, made once: ``JSONEncoder.encode`` rebuilds it on every call."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the _json accelerator
        return _ENCODER.encode
    encoder = make(None, _refuse, json.encoder.encode_basestring, None, ":", ",", True, False,
                   False)
    return lambda value: "".join(encoder(value, 0))


encode_trusted = _trusted_encoder()
"""The same encoding without the type walk, for values known to be canonicalisable (what
:func:`scan_strict` returns from ASCII text); returns ``str``."""


class CanonicalizationError(InvalidInput):
    """The value holds something RFC 8785 cannot encode the same way everywhere."""


def canonical_json(value: JsonValue) -> bytes:
    """The RFC 8785 canonical encoding of ``value``, as UTF-8 bytes."""
    if not _check(value):
        return _reference(value)
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalizationError("string holds a lone surrogate (not valid UTF-8)") from None


def reference_canonical_json(value: JsonValue) -> bytes:
    """``rfc8785.dumps``: slow, and the definition the fast encoder is tested against."""
    return _reference(value)


def _reference(value: JsonValue) -> bytes:
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(f"cannot canonicalise: {exc}") from None


def _check(value: object) -> bool:
    """Refuse what RFC 8785 cannot encode; False if a key is non-ASCII (use the reference)."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # type: ignore[operator]
            return True
        raise CanonicalizationError(f"integer {value} is outside +-(2**53 - 1)")
    if kind is list or kind is tuple:
        return all([_check(item) for item in value])  # type: ignore[attr-defined]
    if kind is dict:
        fast = True
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise CanonicalizationError(f"object key {key!r} is not a string")
            fast = _check(item) and fast and key.isascii()
        return fast
    raise CanonicalizationError(f"{kind.__name__} values cannot be canonicalised (RFC 8785)")


def _refuse_float(text: str) -> object:
    raise ValueError(f"number {text} is not an integer")


def _safe_int(text: str) -> int:
    number = int(text)
    if not -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        raise ValueError(f"integer {text} is outside +-(2**53 - 1)")
    return number


_DECODER = json.JSONDecoder(
    parse_float=_refuse_float, parse_int=_safe_int, parse_constant=_refuse_float
)
parse_strict = _DECODER.decode
"""``json.loads`` for canonical input: refuses floats, NaN/Infinity and unsafe integers, so that
everything it returns is a value :data:`encode_trusted` encodes exactly as RFC 8785 does."""
scan_strict: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
"""The scanner under :data:`parse_strict`: ``scan_strict(text, 0) -> (value, end)``; raises
``StopIteration`` or ``ValueError`` on bad input. It skips the wrapper's whitespace handling,
which canonical text never needs."""

_SHORT_INT_DECODER = json.JSONDecoder(parse_float=_refuse_float, parse_constant=_refuse_float)
scan_short_ints: Callable[[str, int], tuple[Any, int]] = (
    _SHORT_INT_DECODER.scan_once)  # type: ignore[attr-defined]
""":data:`scan_strict` with integers parsed by the C scanner itself instead of a Python hook
(a quarter of the scanner's time on an event). Exact only for text with no run of 16 or more
ASCII digits: a JSON integer literal with at most 15 digits is within +-(10**15 - 1), inside
+-(2**53 - 1), so the range check cannot fail there. Floats and NaN/Infinity are still refused.
:func:`long_digit_runs` says which lines need :data:`scan_strict`."""

#: Every ASCII digit to ``0``, a newline to itself, anything else to ``x``.
_DIGITS_ONLY = bytes(
    ord("0") if 0x30 <= byte <= 0x39 else byte if byte == 0x0A else ord("x")
    for byte in range(256)
)
_LONG_RUN = b"0" * 16


def long_digit_runs(data: bytes) -> set[int]:
    """Line numbers (from 1, lines split at ``\\n``) holding 16 or more ASCII digits in a row,
    in strings or not: the lines :data:`scan_short_ints` must not parse."""
    marked = data.translate(_DIGITS_ONLY)
    found: set[int] = set()
    line, counted = 1, 0
    position = marked.find(_LONG_RUN)
    while position >= 0:
        line += data.count(b"\n", counted, position)
        found.add(line)
        counted = data.find(b"\n", position)
        if counted < 0:
            break
        position = marked.find(_LONG_RUN, counted)
    return found

