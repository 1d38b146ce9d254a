"""The OPA server backend: the same policy and decision contract, evaluated by an OPA server.

The appliance stays the source of truth for its policy. When the engine starts it uploads the
policy directory (modules through ``PUT /v1/policies``, data through ``PUT /v1/data``) and
removes modules of an earlier upload that are no longer in the directory, so the server
evaluates exactly the files the recorded policy hash covers. OPA should therefore run with no
policy of its own in the ``appliance`` package, next to the appliance: ``opa run --server
--addr 127.0.0.1:8181``.

Nothing leaves the machine (DESIGN.md, invariant 1): the server must be on a loopback address,
and the HTTP session ignores proxy settings from the environment.

Fail closed, as the embedded engine: an unreachable server, an HTTP error, an undefined or
malformed result is a deny saying the engine failed; a server that cannot be reached or will
not take the policy when the engine starts raises :class:`PolicyUnavailable`.

Decisions are not cached by default (``cache_size=0``): the server is the decision point, an
outage must deny at once, and a server can be handed another policy behind the appliance's back.
"""

from __future__ import annotations

import ipaddress
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from appliance.errors import ConfigurationError, PolicyUnavailable
from appliance.policy.base import EngineBase
from appliance.policy.bundle import read_policy_dir
from appliance.policy.decision import ENGINE_ERROR, Decision, decision_from_document

#: The decision document, as an OPA data path.
DECISION_PATH = "appliance/authz/decision"
LOAD_ERRORS_PATH = "appliance/authz/load_errors"
#: Policy ids this engine owns on the server; others are left alone.
POLICY_ID_PREFIX = "appliance-policy/"


class OpaServerEngine(EngineBase):
    """Decide by querying an OPA server on a loopback address through opa-python-client."""

    def __init__(self, url: str, policy_dir: Path, *, timeout: float = 2.0,
                 decision_path: str = DECISION_PATH, cache_size: int = 0) -> None:
        super().__init__(read_policy_dir(policy_dir), cache_size=cache_size)
        self._host, self._port, self._ssl = _loopback_endpoint(url)
        self._url = url
        self._timeout = timeout
        self._package, _, self._rule = decision_path.rpartition("/")
        self._local = threading.local()
        self._upload()
        self._check_loaded()

    def _decide_document(self, document: dict[str, Any]) -> Decision:
        try:
            response = self._client().query_rule(
                input_data=document, package_path=self._package, rule_name=self._rule)
        except Exception as exc:  # fail closed: an unreachable or failing server denies
            return Decision.engine_error(f"OPA server at {self._url}: {type(exc).__name__}: "
                                         f"{exc}", self.policy_hash)
        if not isinstance(response, dict) or "result" not in response:
            return Decision.engine_error(f"{self._package}/{self._rule} is undefined on the OPA "
                                         f"server at {self._url}", self.policy_hash)
        return decision_from_document(response["result"], self.policy_hash)

    def _client(self) -> Any:
        """One client (one HTTP session) per thread: requests sessions are not thread-safe."""
        client = getattr(self._local, "client", None)
        if client is None:
            from opa_client import OpaClient  # imported here: requests is slow to import

            client = OpaClient(host=self._host, port=self._port, ssl=self._ssl,
                               timeout=self._timeout, retries=0)
            client._session.trust_env = False  # never route loopback traffic through a proxy
            self._local.client = client
        return client

    def _upload(self) -> None:
        client = self._client()
        if not client.check_health():
            raise PolicyUnavailable(f"no OPA server answers at {self._url}")
        try:
            # Data first, so the new rules never run against missing data.
            for document in self._policy.documents:
                for key, value in document.value.items():
                    if not isinstance(value, dict):
                        raise PolicyUnavailable(
                            f"{document.path}: data.{'.'.join((*document.mount, key))} must be "
                            "an object to be uploaded to an OPA server")
                    client.update_or_create_data(value, "/".join((*document.mount, key)))
            # Stale modules go before new ones arrive: a renamed file would otherwise define
            # the same rules twice. Requests in between are denied (undefined decision).
            current = {POLICY_ID_PREFIX + module.path for module in self._policy.modules}
            for stale in set(client.get_policies_list()) - current:
                if str(stale).startswith(POLICY_ID_PREFIX):
                    client.delete_policy(stale)
            for module in self._policy.modules:
                client.update_policy_from_string(module.source, POLICY_ID_PREFIX + module.path,
                                                 rego_compat=False)
        except PolicyUnavailable:
            raise
        except Exception as exc:
            raise PolicyUnavailable(f"the OPA server at {self._url} did not take the policy in "
                                    f"{self._policy.root}: {type(exc).__name__}: {exc}") from exc

    def _check_loaded(self) -> None:
        try:
            package, _, rule = LOAD_ERRORS_PATH.rpartition("/")
            errors = self._client().query_rule(input_data={}, package_path=package,
                                               rule_name=rule).get("result") or []
        except Exception as exc:
            raise PolicyUnavailable(f"the OPA server at {self._url} cannot evaluate the policy: "
                                    f"{type(exc).__name__}: {exc}") from exc
        if errors:
            raise PolicyUnavailable(f"the policy in {self._policy.root} rejects its own data: "
                                    f"{'; '.join(map(str, errors))}")
        smoke = self.decide({})
        if smoke.allow or smoke.reasons[0].startswith(ENGINE_ERROR):
            raise PolicyUnavailable(f"the OPA server at {self._url} does not produce a deny "
                                    f"decision for an empty request: {smoke.reasons}")


def _loopback_endpoint(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of an http(s) URL on a loopback address; anything else is refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"opa_url {url!r} must be an http:// or https:// URL")
    host = parts.hostname
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigurationError(
                f"opa_url {url!r} is not on this machine: the appliance makes no outbound "
                "connection, so the OPA server must listen on a loopback address")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ConfigurationError(f"opa_url {url!r}: {exc}") from None
    return (f"[{host}]" if ":" in host else host), port, parts.scheme == "https"
