"""Console sessions and forms over plain HTTP (no visitor needed): cookies, CSRF, redirects.

httpx, like a browser on a non-loopback host, keeps Secure cookies to https; these tests carry
the session cookie by hand.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveServer

COOKIE = "appliance_session"


class Visitor:
    """A minimal cookie-carrying client for one console session."""

    def __init__(self, site: LiveServer) -> None:
        self.http = httpx.Client(base_url=site.url, follow_redirects=False, trust_env=False,
                                 headers={"Accept": "text/html"}, timeout=60)
        self.sid: str | None = None
        self.csrf = ""

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Cookie": f"{COOKIE}={self.sid}"} if self.sid else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        self.http.cookies.clear()
        if COOKIE in response.cookies:
            self.sid = response.cookies[COOKIE]
        found = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def sign_in(self, token: str, next_path: str = "/") -> httpx.Response:
        self.request("GET", "/signin")
        return self.request("POST", "/signin", data={"token": token, "csrf_token": self.csrf,
                                                     "next": next_path})


@pytest.fixture
def visitor(site: LiveServer) -> Visitor:
    return Visitor(site)


def test_sign_in_replaces_the_session_id_and_never_stores_the_token(
    site: LiveServer, visitor: Visitor
) -> None:
    visitor.request("GET", "/signin")
    before = visitor.sid
    signed_in = visitor.request("POST", "/signin", data={
        "token": site.tokens["carol"], "csrf_token": visitor.csrf, "next": "/"})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/review"
    assert visitor.sid and visitor.sid != before  # no session fixation
    cookie = signed_in.headers["set-cookie"]
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert flag in cookie
    assert site.tokens["carol"] not in cookie
    assert visitor.request("GET", "/review").status_code == 200
    stale = Visitor(site)
    stale.sid = before
    assert stale.request("GET", "/review").status_code == 303  # the pre-sign-in id is dead


def test_forms_without_the_csrf_token_are_refused(site: LiveServer, visitor: Visitor) -> None:
    dataset_id = site.dataset("olivia")
    visitor.sign_in(site.tokens["carol"])
    visitor.request("GET", f"/datasets/{dataset_id}")
    for token in ("", "forged"):
        refused = visitor.request("POST", f"/datasets/{dataset_id}/review", data={
            "decision": "approve", "reason": "ok", "csrf_token": token})
        assert refused.status_code == 403 and "Form rejected" in refused.text
    assert site.client("carol").get(f"/v1/datasets/{dataset_id}").json()["state"] == \
        "PENDING_REVIEW"
    ok = visitor.request("POST", f"/datasets/{dataset_id}/review", data={
        "decision": "approve", "reason": "ok", "csrf_token": visitor.csrf})
    assert ok.status_code == 303


def test_sign_in_form_needs_its_csrf_token(site: LiveServer, visitor: Visitor) -> None:
    visitor.request("GET", "/signin")
    refused = visitor.request("POST", "/signin", data={"token": site.tokens["carol"],
                                                       "csrf_token": "nope"})
    assert refused.status_code == 403


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "\\\\evil"])
def test_sign_in_never_redirects_off_site(site: LiveServer, visitor: Visitor,
                                          target: str) -> None:
    response = visitor.sign_in(site.tokens["audra"], target)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_revoking_a_user_ends_their_console_session(site: LiveServer, visitor: Visitor) -> None:
    token = site.client("adam").post("/v1/users", json={"name": "short.lived",
                                                        "role": "auditor"}).json()["token"]
    visitor.sign_in(token)
    assert visitor.request("GET", "/audit").status_code == 200
    site.client("adam").post("/v1/users/short.lived/revoke")
    assert visitor.request("GET", "/audit").status_code == 303


def test_sign_out_needs_csrf_and_ends_the_session(site: LiveServer, visitor: Visitor) -> None:
    visitor.sign_in(site.tokens["audra"])
    visitor.request("GET", "/audit")
    assert visitor.request("POST", "/signout", data={"csrf_token": "x"}).status_code == 403
    out = visitor.request("POST", "/signout", data={"csrf_token": visitor.csrf})
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    assert visitor.request("GET", "/audit").status_code == 303


def test_pages_carry_a_strict_content_security_policy(site: LiveServer,
                                                      visitor: Visitor) -> None:
    page = visitor.request("GET", "/signin")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text):
        assert visitor.request("GET", asset).status_code == 200
    assert not re.search(r'(?:href|src)="(?:https?:)?//', page.text)


def test_console_denials_render_as_pages_with_reasons(site: LiveServer,
                                                      visitor: Visitor) -> None:
    visitor.sign_in(site.tokens["olivia"])
    denied = visitor.request("GET", "/audit")
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("text/html")
    assert "Access denied" in denied.text and "role: operator may not audit.read" in denied.text


def test_every_console_page_renders_for_its_role(site: LiveServer) -> None:
    dataset_id = site.dataset("olivia")
    pages = {"carol": ["/review", "/datasets", f"/datasets/{dataset_id}",
                       f"/datasets/{dataset_id}/sample", "/audit"],
             "olivia": ["/datasets", f"/datasets/{dataset_id}"],
             "audra": ["/audit", "/datasets", f"/datasets/{dataset_id}", "/audit?page=2"],
             "adam": ["/users"]}
    for who, paths in pages.items():
        visitor = Visitor(site)
        visitor.sign_in(site.tokens[who])
        for path in paths:
            response = visitor.request("GET", path)
            assert response.status_code == 200, (who, path, response.text[:300])


def test_navigation_lists_each_roles_pages(site: LiveServer) -> None:
    from appliance.context import open_context
    from appliance.identity import add_user

    ctx = open_context(site.home)
    try:
        _, annotator = add_user(ctx, "nadia", "annotator")
    finally:
        ctx.close()
    tokens = {**site.tokens, "nadia": annotator}
    # campaigns: run by operators, their results read by compliance and auditors (the policy's
    # campaign.list/show/results), judged by annotators; never an admin's
    expected = {"carol": ["/review", "/datasets", "/exports", "/campaigns", "/audit"],
                "olivia": ["/datasets", "/jobs", "/models", "/chat", "/campaigns", "/exports"],
                "audra": ["/audit", "/datasets", "/jobs", "/models", "/campaigns", "/exports"],
                "adam": ["/users", "/base-models", "/keys"],
                "nadia": ["/campaigns"]}
    for who, links in expected.items():
        visitor = Visitor(site)
        visitor.sign_in(tokens[who])
        page = visitor.request("GET", links[0])
        nav = page.text.split('<nav aria-label="Main">')[1].split("</nav>")[0]
        assert re.findall(r'href="([^"]+)"', nav) == links, who
        for link in links:  # every page in the menu opens for the role
            assert visitor.request("GET", link).status_code == 200, (who, link)


def test_auditor_menu_links_every_page_the_policy_lets_it_open(site: LiveServer) -> None:
    from appliance.api.web.console import NAV

    visitor = Visitor(site)
    visitor.sign_in(site.tokens["audra"])
    linked = {href for href, _ in NAV["auditor"]}
    for path in ("/audit", "/datasets", "/jobs", "/models", "/campaigns", "/exports"):
        assert visitor.request("GET", path).status_code == 200, path
        assert path in linked, path
    for path in ("/users", "/keys", "/base-models"):  # and none it may not
        assert visitor.request("GET", path).status_code == 403, path
        assert path not in linked


def test_admin_sees_base_models_and_key_versions_but_no_key_material(site: LiveServer) -> None:
    from appliance.context import open_context

    visitor = Visitor(site)
    visitor.sign_in(site.tokens["adam"])
    keys = visitor.request("GET", "/keys")
    assert keys.status_code == 200
    assert "v1" in keys.text and "current" in keys.text and "UTC" in keys.text
    from appliance.training.registry import list_base_models

    ctx = open_context(site.home)
    try:
        material = ctx.keyring.key(ctx.keyring.current_version)
        bases = [b.name for b in list_base_models(ctx)]
    finally:
        ctx.close()
    for form in (material.hex(), material.hex().upper()):
        assert form not in keys.text
    import base64
    assert base64.b64encode(material).decode() not in keys.text
    listing = visitor.request("GET", "/base-models")
    assert listing.status_code == 200
    assert all(name in listing.text for name in bases) and "table" in listing.text
    olivia = Visitor(site)
    olivia.sign_in(site.tokens["olivia"])
    assert olivia.request("GET", "/keys").status_code == 403  # the policy decides


def test_sample_pages_through_every_record_one_audited_read_per_page(
    site: LiveServer, visitor: Visitor
) -> None:
    records = [{"text": f"ticket number {i}", "label": "ab"[i % 2]} for i in range(45)]
    dataset_id = site.dataset("olivia", records, name="paging.jsonl")
    rows = site.client("carol").get(f"/v1/datasets/{dataset_id}").json()["row_count"]
    visitor.sign_in(site.tokens["carol"])

    def sample_reads() -> list[dict[str, Any]]:
        body = site.client("audra").get("/v1/audit/events", params={
            "action": "dataset.read_sample", "limit": 1000}).json()
        events = body["events"] if isinstance(body, dict) else body  # a page, or a bare list
        return [e for e in events
                if e["action"] == "dataset.read_sample" and dataset_id in e["resource"]]

    assert sample_reads() == []
    seen = 0
    page = visitor.request("GET", f"/datasets/{dataset_id}/sample?size=20")
    pages = 0
    while True:
        pages += 1
        assert page.status_code == 200
        seen += page.text.count("<tr><td class=\"num\">")
        found = re.search(r'href="([^"]+)">Next page', page.text)
        if not found:
            break
        page = visitor.request("GET", found.group(1).replace("&amp;", "&"))
    assert seen == rows and pages == -(-rows // 20)
    assert 'rel="prev"' in page.text  # the last page links back
    reads = sample_reads()
    assert len(reads) == pages  # one gate read per page
    offsets = sorted(e["details"].get("offset", 0) for e in reads)
    assert offsets == [i * 20 for i in range(pages)]


def test_sample_marks_each_replacement_and_lists_low_confidence_first(
    site: LiveServer, visitor: Visitor
) -> None:
    records = [{"text": "Please phone +44 20 7946 0958 about my refund", "label": "a"},
               {"text": "Block card 4111 1111 1111 1112 now, my card number was stolen",
                "label": "b"},
               {"text": "nothing to hide here", "label": "a"}]
    dataset_id = site.dataset("olivia", records, name="marks.jsonl", redact="true")
    visitor.sign_in(site.tokens["carol"])
    page = visitor.request("GET", f"/datasets/{dataset_id}/sample")
    assert page.status_code == 200
    scored = re.findall(r'<mark class="redaction( borderline)?" title="([A-Z_]+), score '
                        r'([\d.]+)"[^>]*>&lt;\2&gt;<span class="score">\3</span></mark>', page.text)
    found = {entity: float(score) for _, entity, score in scored}
    assert found["CREDIT_CARD"] == pytest.approx(0.6) and found["PHONE_NUMBER"] > 0.7
    assert [b for b, entity, _ in scored if entity == "CREDIT_CARD"] == [" borderline"]
    assert "4111" not in page.text and "7946" not in page.text

    queue = visitor.request("GET", f"/datasets/{dataset_id}/sample?order=low-confidence")
    assert queue.status_code == 200
    scores = [float(s) for s in re.findall(r'data-score="([\d.]+)"', queue.text)]
    assert scores and scores == sorted(scores) and scores[0] == pytest.approx(0.6)
    assert "<td>Block card <mark class=\"redaction borderline\" title=\"CREDIT_CARD" in queue.text
    assert "4111" not in queue.text

    api = site.client("carol").get(f"/v1/datasets/{dataset_id}/review-queue", params={"n": 1})
    assert api.status_code == 200
    [first] = api.json()["redactions"]
    assert (first["entity"], first["replaced"], first["before"]) == (
        "CREDIT_CARD", "<CREDIT_CARD>", "Block card ")
