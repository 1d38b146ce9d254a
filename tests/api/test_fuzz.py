"""Fuzz every operation of the OpenAPI schema with schemathesis against the live server.

Checks: no 5xx, every status code, content type, header and body as the schema documents them,
and invalid input refused with a 4xx. Bounded: a few dozen examples per operation, each request
sent as the role that the operation is for (so requests get past authorization and exercise the
handlers, not only the 403 path).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from tests.api.conftest import LiveServer

EXAMPLES = int(os.environ.get("APPLIANCE_FUZZ_EXAMPLES", "25"))


def operations(live: LiveServer) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def role_for(method: str, path: str) -> str:
    if path.startswith("/v1/users"):
        return "adam"
    if path.startswith("/v1/audit"):
        return "audra"
    if method == "POST" and path == "/v1/datasets":
        return "olivia"
    return "dmitri"


CHECKS = [
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]


def free_text(schema: Any) -> bool:
    """Whether a parameter schema accepts any string: then any query value is valid on the wire."""
    if not isinstance(schema, dict):
        return False
    if "anyOf" in schema:
        return any(free_text(branch) for branch in schema["anyOf"])
    return schema.get("type") == "string" and not (
        schema.keys() & {"enum", "const", "pattern", "format", "minLength", "maxLength"})


def still_invalid(case: Any, declared: set[str], text_params: set[str]) -> bool:
    """Whether a negative case stays invalid once sent with our bearer token.

    The token replaces any mutated ``Authorization`` header (401s are tested on their own), and
    an extra query parameter whose value is an empty list is never put on the wire. A query
    parameter that takes any text stays valid whatever type its value is given: ``[true]``
    and ``true`` both go on the wire as ``?name=true``, a valid string.
    """
    mutations = [m for m in getattr(case.meta.phase.data, "mutations", ())
                 if m.parameter != "Authorization"
                 and not (getattr(m.parameter_location, "value", None) == "query"
                          and m.keywords == ("type",) and m.parameter in text_params)]
    if not mutations:
        return False
    if all(m.keywords == ("additionalProperties",) and
           getattr(m.parameter_location, "value", None) == "query" for m in mutations):
        extra = {k: v for k, v in (case.query or {}).items() if k not in declared}
        return any(v not in ([], None) for v in extra.values())
    return True


def fuzz(live: LiveServer, operation: Any, mode: GenerationMode) -> None:
    who = role_for(operation.method.upper(), operation.path)
    headers = {"Authorization": f"Bearer {live.tokens[who]}"}

    declared = {p.name for p in operation.query}
    text_params = {p.name for p in operation.query if free_text(p.definition.get("schema"))}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        if mode == GenerationMode.NEGATIVE and not still_invalid(case, declared, text_params):
            return
        response = case.call(base_url=live.url, headers=headers, timeout=60)
        assert response.status_code < 500, response.text[:500]
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schema_holds_under_fuzzing(live: LiveServer, mode: GenerationMode) -> None:
    failures: list[str] = []
    for operation in operations(live):
        try:
            fuzz(live, operation, mode)
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # no parameters, so nothing to make invalid
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
