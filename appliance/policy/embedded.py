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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regopy import Bundle, Input, Interpreter

from appliance.errors import PolicyUnavailable
from appliance.policy.bundle import PolicyBundle, read_policy_dir
from appliance.policy.decision import (
    ENGINE_ERROR,
    Decision,
    decision_from_document,
    loads_strict,
    normalize_input,
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


class EmbeddedEngine:
    """Decide with regopy against a bundle compiled once per thread."""

    def __init__(self, policy_dir: Path, *, entrypoint: str = DECISION_ENTRYPOINT) -> None:
        self._policy = read_policy_dir(policy_dir)
        self._entrypoint = entrypoint
        self._data_json = json.dumps(self._policy.data(), ensure_ascii=False)
        self._local = threading.local()
        compiled = self._compile()
        self._check_loaded(compiled)
        self._local.compiled = compiled

    @property
    def policy_hash(self) -> str:
        return self._policy.policy_hash

    @property
    def policy(self) -> PolicyBundle:
        """The policy files and data this engine was built from."""
        return self._policy

    def decide(self, policy_input: Mapping[str, Any], /) -> Decision:
        try:
            document, _ = normalize_input(policy_input)
        except ValueError as exc:
            return Decision.engine_error(str(exc), self.policy_hash)
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
        compiled.interpreter.set_input(Input(rego_value(document)))
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


def rego_value(value: Any) -> Any:
    """A JSON value ready for ``regopy.Input``: every string in its JSON-escaped form.

    rego-cpp keeps strings as the text of their JSON token and writes them back verbatim in
    its output. Input built from Python strings would carry a raw quote, backslash or control
    character into that output and break it; escaped, they mean what they would mean had the
    input been parsed from JSON text (``set_input_term``), which is about twice as slow.
    """
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, dict):
        return {_escape(k): rego_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rego_value(v) for v in value]
    return value


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
