"""The embedded policy engine: Rego evaluated in-process by regopy (rego-cpp).

The policy directory is read and hashed once; each thread compiles it once into a bundle with
the decision entrypoint and then evaluates every request against that bundle
(``query_bundle_entrypoint``), which costs a small fraction of a plain ``Interpreter.query``.
rego-cpp interpreters are not shared between threads: each thread gets its own interpreter and
bundle, compiled from the same in-memory sources, so every thread decides under the same policy
hash.

Fail closed: anything that goes wrong while deciding (input that is not JSON, an engine error,
an undefined or malformed result) is a deny whose reason starts with "policy engine error:".
A policy that cannot be compiled, or that fails its own load-time checks, raises
:class:`PolicyUnavailable` when the engine is created, not on the first request.

Known rego-cpp 1.5 limits, worked around in ``policies/``: ``with data... as`` aborts the
process (Rego tests replace input only), and ``sprintf("%s", ...)`` of a string computed by
a builtin embeds it with its JSON quotes (reason texts use ``concat``).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regopy import Bundle, Input, Interpreter
from regopy.rego_shared import rego as _c

from appliance.errors import PolicyUnavailable
from appliance.policy.base import EngineBase
from appliance.policy.bundle import read_policy_dir
from appliance.policy.cache import DEFAULT_CACHE_SIZE
from appliance.policy.decision import (
    ENGINE_ERROR,
    Decision,
    decision_from_document,
    loads_strict,
)

#: The decision document, as a bundle entrypoint (slashes, no ``data.`` prefix).
DECISION_ENTRYPOINT = "appliance/authz/decision"
#: A set of strings the policy may define to reject its own data at load time.
LOAD_ERRORS_ENTRYPOINT = "appliance/authz/load_errors"

_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


@dataclass
class _Compiled:
    interpreter: Interpreter
    bundle: Bundle


class EmbeddedEngine(EngineBase):
    """Decide with regopy against a bundle compiled once per thread."""

    def __init__(self, policy_dir: Path, *, entrypoint: str = DECISION_ENTRYPOINT,
                 cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        super().__init__(read_policy_dir(policy_dir), cache_size=cache_size)
        self._entrypoint = entrypoint
        self._data_json = json.dumps(self._policy.data(), ensure_ascii=False)
        self._local = threading.local()
        compiled = self._compile()
        self._check_loaded(compiled)
        self._local.compiled = compiled

    def _decide_document(self, document: dict[str, Any]) -> Decision:
        try:
            text = self._evaluate(self._compiled(), self._entrypoint, document)
        except Exception as exc:  # fail closed: whatever broke, this request is denied
            return Decision.engine_error(f"{type(exc).__name__}: {exc}", self.policy_hash)
        return self._parse(text)

    def _compiled(self) -> _Compiled:
        compiled: _Compiled | None = getattr(self._local, "compiled", None)
        if compiled is None:
            compiled = self._compile()
            self._local.compiled = compiled
        return compiled

    def _compile(self) -> _Compiled:
        interpreter = Interpreter()
        try:
            interpreter.add_data_json(self._data_json)
            for module in self._policy.modules:
                interpreter.add_module(module.path, module.source)
            bundle = interpreter.build(None, [self._entrypoint, LOAD_ERRORS_ENTRYPOINT])
        except Exception as exc:
            raise PolicyUnavailable(
                f"the policy in {self._policy.root} does not compile: {_first_lines(exc)}"
            ) from None
        if not bundle.ok():
            raise PolicyUnavailable(f"the policy in {self._policy.root} does not compile")
        return _Compiled(interpreter, bundle)

    def _check_loaded(self, compiled: _Compiled) -> None:
        """Refuse a policy that reports errors in its data, or that cannot produce a decision."""
        root = self._policy.root
        try:
            text = self._evaluate(compiled, LOAD_ERRORS_ENTRYPOINT, {})
            errors = [] if text == "undefined" else _expression(loads_strict(text))
            smoke = self._parse(self._evaluate(compiled, self._entrypoint, {}))
        except Exception as exc:
            raise PolicyUnavailable(f"the policy in {root} fails to evaluate: "
                                    f"{_first_lines(exc)}") from None
        if errors:
            raise PolicyUnavailable(f"the policy in {root} rejects its own data: "
                                    f"{'; '.join(map(str, errors))}")
        if smoke.allow or smoke.reasons[0].startswith(ENGINE_ERROR):
            raise PolicyUnavailable(
                f"the policy in {root} does not produce a deny decision for an empty "
                f"request at {self._entrypoint}: {smoke.reasons}")

    @staticmethod
    def _evaluate(compiled: _Compiled, entrypoint: str, document: dict[str, Any]) -> str:
        compiled.interpreter.set_input(rego_input(document))
        output = compiled.interpreter.query_bundle_entrypoint(compiled.bundle, entrypoint)
        if not output.ok():
            raise RuntimeError(f"evaluation failed: {_first_lines(str(output))}")
        return str(output)

    def _parse(self, text: str) -> Decision:
        if text == "undefined":
            return Decision.engine_error(f"{self._entrypoint} is undefined", self.policy_hash)
        try:
            document = _expression(loads_strict(text))
        except ValueError as exc:
            return Decision.engine_error(f"unreadable engine output: {exc}", self.policy_hash)
        return decision_from_document(document, self.policy_hash)


def rego_input(document: Any) -> Input:
    """``regopy.Input(document)``, built in a third of the time.

    regopy's own builder wraps every node in a Python helper that copies the string into a
    ctypes buffer and walks ``isinstance`` checks against abstract base classes; this one calls
    the same C functions of rego-cpp directly on plain JSON types (what
    :func:`~appliance.policy.decision.canonical_input_text` guarantees). Every string is passed
    in its JSON-escaped form: rego-cpp keeps strings as the text of their JSON token and writes
    them back verbatim in its output, so a raw quote, backslash or control character would
    break that output; escaped, they mean what they would mean had the input been parsed from
    JSON text (``set_input_term``, which is slower still).
    """
    handle = _c.regoNewInput()
    if not handle:
        raise RuntimeError("rego-cpp could not allocate an input")
    made = Input.__new__(Input)
    made._impl = handle  # regopy's Input frees it when collected
    if _add(handle, document):
        raise RuntimeError("rego-cpp refused the input")
    return made


def _add(handle: int, value: Any) -> int:
    """Push one JSON value onto the input under construction; non-zero on a rego-cpp error."""
    kind = type(value)
    if kind is str:
        return _c.regoInputString(handle, _escape(value).encode("utf-8"))
    if kind is dict:
        for key, item in value.items():
            if (_c.regoInputString(handle, _escape(key).encode("utf-8")) or _add(handle, item)
                    or _c.regoInputObjectItem(handle)):
                return 1
        return int(_c.regoInputObject(handle, len(value)))
    if kind is list:
        for item in value:
            if _add(handle, item):
                return 1
        return int(_c.regoInputArray(handle, len(value)))
    if kind is bool:
        return int(_c.regoInputBoolean(handle, value))
    if kind is int:
        return int(_c.regoInputInt(handle, value))
    if kind is float:
        return int(_c.regoInputFloat(handle, value))
    if value is None:
        return int(_c.regoInputNull(handle))
    raise TypeError(f"{kind.__name__} is not a JSON type")


def _escape(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _expression(output: Any) -> Any:
    """The single value of an entrypoint query: ``{"expressions": [value]}``."""
    if not isinstance(output, dict) or set(output) != {"expressions"}:
        raise ValueError("expected exactly one result")
    expressions = output["expressions"]
    if not isinstance(expressions, list) or len(expressions) != 1:
        raise ValueError("expected exactly one expression")
    return expressions[0]


def _first_lines(error: object, limit: int = 6) -> str:
    """rego-cpp errors end in a dump of the syntax tree; the first lines say what is wrong."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " | ".join(lines[:limit])
