"""The role x route matrix: every route, every role, over HTTP, against DESIGN.md's role table.

Each case gets a fresh dataset in the state the route needs, so the only variable is the role.
The expected statuses are written out here, not derived from the policy, so a policy change
that moves a boundary shows up as a failing row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.conftest import LiveServer

# One user per role; "dmitri" (compliance) never uploads, so separation of duties does not apply.
ROLES = {"operator": "oscar", "compliance": "dmitri", "auditor": "audra", "admin": "adam"}


def pending(live: LiveServer) -> str:
    return live.dataset("olivia")


def approved(live: LiveServer) -> str:
    dataset_id = live.dataset("olivia")
    response = live.client("carol").post(f"/v1/datasets/{dataset_id}/approve", json={})
    assert response.status_code == 200, response.text
    return dataset_id


def rejected(live: LiveServer) -> str:
    dataset_id = live.dataset("olivia")
    live.client("carol").post(f"/v1/datasets/{dataset_id}/reject", json={"reason": "no"})
    return dataset_id


Setup = Callable[[LiveServer], str]
CASES: list[tuple[str, str, Setup | None, dict[str, Any], dict[str, int]]] = [
    # method, path, setup, request kwargs, {role: status}
    ("GET", "/v1/datasets", None, {},
     {"operator": 200, "compliance": 200, "auditor": 200, "admin": 403}),
    ("GET", "/v1/datasets/{id}", pending, {},
     {"operator": 200, "compliance": 200, "auditor": 200, "admin": 403}),
    ("GET", "/v1/datasets/{id}/report", pending, {},
     {"operator": 403, "compliance": 200, "auditor": 403, "admin": 403}),
    ("GET", "/v1/datasets/{id}/sample", pending, {},
     {"operator": 403, "compliance": 200, "auditor": 403, "admin": 403}),
    ("GET", "/v1/datasets/{id}/review-queue", pending, {},
     {"operator": 403, "compliance": 200, "auditor": 403, "admin": 403}),
    ("POST", "/v1/datasets", None, {"upload": True},
     {"operator": 201, "compliance": 403, "auditor": 403, "admin": 403}),
    ("POST", "/v1/datasets/{id}/approve", pending, {"json": {"reason": "ok"}},
     {"operator": 403, "compliance": 200, "auditor": 403, "admin": 403}),
    ("POST", "/v1/datasets/{id}/reject", pending, {"json": {"reason": "no"}},
     {"operator": 403, "compliance": 200, "auditor": 403, "admin": 403}),
    ("POST", "/v1/datasets/{id}/revoke", approved, {"json": {"reason": "consent"}},
     {"operator": 403, "compliance": 200, "auditor": 403, "admin": 403}),
    ("DELETE", "/v1/datasets/{id}", rejected, {},
     {"operator": 403, "compliance": 200, "auditor": 403, "admin": 403}),
    ("GET", "/v1/audit/events", None, {},
     {"operator": 403, "compliance": 200, "auditor": 200, "admin": 403}),
    ("GET", "/v1/audit/verify", None, {},
     {"operator": 403, "compliance": 200, "auditor": 200, "admin": 403}),
    ("GET", "/v1/audit/export", None, {},
     {"operator": 403, "compliance": 200, "auditor": 200, "admin": 403}),
    ("GET", "/v1/users", None, {},
     {"operator": 403, "compliance": 403, "auditor": 403, "admin": 200}),
    ("POST", "/v1/users", None, {"new_user": True},
     {"operator": 403, "compliance": 403, "auditor": 403, "admin": 201}),
    ("POST", "/v1/users/{user}/revoke", None, {"victim": True},
     {"operator": 403, "compliance": 403, "auditor": 403, "admin": 200}),
]


def _params() -> list[Any]:
    out = []
    for method, path, setup, kwargs, expected in CASES:
        for role, status in expected.items():
            out.append(pytest.param(method, path, setup, kwargs, role, status,
                                    id=f"{role}-{method}-{path}"))
    return out


@pytest.mark.parametrize(("method", "path", "setup", "kwargs", "role", "status"), _params())
def test_role_route_matrix(live: LiveServer, method: str, path: str, setup: Setup | None,
                           kwargs: dict[str, Any], role: str, status: int) -> None:
    who = ROLES[role]
    url = path
    if setup is not None:
        url = url.replace("{id}", setup(live))
    request: dict[str, Any] = {}
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    if kwargs.get("new_user"):
        request["json"] = {"name": f"new-{role}", "role": "auditor"}
    if kwargs.get("victim"):
        victim = f"victim-{role}"
        created = live.client("adam").post("/v1/users", json={"name": victim, "role": "auditor"})
        assert created.status_code == 201
        url = url.replace("{user}", victim)
    if kwargs.get("upload"):
        response = live.upload(who)
    else:
        response = live.client(who).request(method, url, **request)
    assert response.status_code == status, response.text
    if status == 403:
        problem = response.json()
        assert problem["title"] == "Access denied" and problem["reasons"]
