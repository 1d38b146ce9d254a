"""Failed-authentication limits: per token and per client, without locking out valid tokens;
the client behind a trusted reverse proxy, and only a trusted one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from appliance.api.ratelimit import FailureLimiter, client_address
from tests.api.conftest import LiveServer, make_home, start_server, stop_server

TRUSTED = "127.0.0.1"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home, tokens = make_home(tmp_path_factory.mktemp("ratelimit"))
    config = home / "config.json"
    saved = json.loads(config.read_text("utf-8"))
    saved["trusted_proxies"] = [TRUSTED]
    config.write_text(json.dumps(saved), "utf-8")
    server = start_server(home)
    server.tokens = tokens
    yield server
    stop_server(server)


@pytest.fixture
def live(limited: LiveServer) -> Iterator[LiveServer]:
    """A fresh limiter per test: 3 failures a minute per client, 2 an hour per token."""
    limited.app.state.limiter = FailureLimiter("3/minute", "2/hour")
    yield limited


def _get(live: LiveServer, token: str | None, via: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if via:
        headers["X-Forwarded-For"] = via
    return live.client().get("/v1/datasets", headers=headers)


def _audit(live: LiveServer, action: str) -> list[dict[str, Any]]:
    return [event for segment in sorted((live.home / "audit").glob("segment-*"))
            for line in segment.read_text("utf-8").splitlines()
            if (event := json.loads(line))["action"] == action]


def test_a_known_token_works_while_its_address_is_limited(live: LiveServer) -> None:
    good = live.tokens["olivia"]
    assert _get(live, good).status_code == 200  # olivia has used her token before
    codes = [_get(live, f"apl_guess{i}").status_code for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]  # the guesser is limited ...
    assert _get(live, good).status_code == 200  # ... olivia, on the same address, is not
    assert _get(live, "apl_guess9").status_code == 429  # nor has the guesser gained a guess


def test_a_limited_client_gets_no_more_guesses(live: LiveServer) -> None:
    before = len(_audit(live, "auth.login"))
    for i in range(20):
        _get(live, f"apl_many{i}")
    # Only the first three were checked (and audited); the rest were refused unchecked.
    assert len(_audit(live, "auth.login")) - before == 3
    throttled = _audit(live, "auth.throttle")[-1]
    assert throttled["resource"] == "client:127.0.0.1"
    assert throttled["details"]["limited"] == "client"
    assert "apl_many" not in json.dumps(throttled)


def test_a_token_that_failed_too_often_is_refused_from_any_address(live: LiveServer) -> None:
    stale = "apl_revoked-or-expired"
    assert [_get(live, stale, via=f"10.0.0.{i}").status_code for i in range(3)] == [401, 401, 429]
    refused = _get(live, stale, via="10.0.0.99")  # a fresh address, the same token
    assert refused.status_code == 429 and "with this token" in refused.json()["detail"]
    assert _get(live, "apl_other", via="10.0.0.99").status_code == 401  # the address is not


def test_a_trusted_proxy_header_names_the_client(live: LiveServer) -> None:
    # The test client connects from 127.0.0.1, configured as the trusted proxy: each forwarded
    # address is a client of its own, so one limited client does not limit the next.
    assert [_get(live, f"apl_a{i}", via="10.1.1.1").status_code for i in range(4)] == \
        [401, 401, 401, 429]
    assert _get(live, "apl_b", via="10.2.2.2").status_code == 401
    assert _get(live, None, via="10.1.1.1").status_code == 429
    assert _audit(live, "auth.throttle")[-1]["resource"] == "client:10.1.1.1"


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored() -> None:
    assert client_address("192.0.2.7", ["10.9.9.9"], ["127.0.0.1"]) == "192.0.2.7"
    assert client_address("192.0.2.7", ["10.9.9.9"], []) == "192.0.2.7"


def test_only_the_hops_trusted_proxies_added_count() -> None:
    trusted = ["10.0.0.0/8"]
    # The client wrote "1.2.3.4" itself; the proxy chain 10.0.0.2 -> 10.0.0.1 saw 198.51.100.5.
    assert client_address("10.0.0.1", ["1.2.3.4, 198.51.100.5, 10.0.0.2"], trusted) == \
        "198.51.100.5"
    assert client_address("10.0.0.1", ["1.2.3.4", "198.51.100.5"], trusted) == "198.51.100.5"
    assert client_address("10.0.0.1", ["garbage"], trusted) == "10.0.0.1"
    assert client_address("10.0.0.1", [], trusted) == "10.0.0.1"


def test_untrusted_peers_cannot_escape_their_limit_by_spoofing(
        limited: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = limited.app.state.pool.settings
    monkeypatch.setattr(settings, "trusted_proxies", ["192.0.2.1"])  # not the test client
    limited.app.state.limiter = FailureLimiter("3/minute", "2/hour")
    codes = [_get(limited, f"apl_s{i}", via=f"10.3.3.{i}").status_code for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]  # every spoofed address counted as 127.0.0.1


def test_the_limiter_never_holds_a_token() -> None:
    limiter = FailureLimiter("1/minute", "1/hour")
    limiter.record_failure("127.0.0.1", "apl_secret-value")
    limiter.record_success("apl_good-value")
    memory = repr(vars(limiter)) + repr(limiter._known) + repr(limiter._windows.storage.__dict__)
    assert "apl_secret-value" not in memory and "apl_good-value" not in memory


def test_console_sign_in_is_limited_the_same_way(live: LiveServer) -> None:
    from tests.web.test_console_http import Visitor

    carol = Visitor(live)
    assert carol.sign_in(live.tokens["carol"]).status_code == 303  # carol's token is now known
    guesser = Visitor(live)
    codes = [guesser.sign_in(f"apl_console_guess{i}").status_code for i in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    assert "apl_console_guess" not in guesser.request("GET", "/signin").text
    # carol signs in again from the same (limited) address: her token is still checked
    again = Visitor(live)
    assert again.sign_in(live.tokens["carol"]).status_code == 303
    assert guesser.sign_in("apl_console_guess9").status_code == 429
