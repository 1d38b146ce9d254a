"""The console's review form: the reason is kept redacted and shown on the dataset page."""

from __future__ import annotations

from tests.api.conftest import LiveServer
from tests.web.test_console_http import Visitor


def test_console_reject_reason_is_redacted_and_shown(site: LiveServer) -> None:
    dataset_id = site.dataset("olivia")
    carol = Visitor(site)
    carol.sign_in(site.tokens["carol"])
    assert carol.request("GET", f"/datasets/{dataset_id}").status_code == 200
    done = carol.request("POST", f"/datasets/{dataset_id}/review", data={
        "csrf_token": carol.csrf, "decision": "reject",
        "reason": "Maria Gonzalez asked us to wait"})
    assert done.status_code == 303
    page = carol.request("GET", f"/datasets/{dataset_id}").text
    assert 'id="reviews"' in page and "&lt;PERSON&gt; asked us to wait" in page
    assert "Gonzalez" not in page and "reason sha256" in page
    auditor = Visitor(site)
    auditor.sign_in(site.tokens["audra"])
    assert "&lt;PERSON&gt; asked us to wait" in auditor.request(
        "GET", f"/datasets/{dataset_id}").text


def test_console_audit_page_shows_the_reason_hash_in_the_events_details(
        site: LiveServer) -> None:
    import hashlib

    dataset_id = site.dataset("olivia")
    response = site.client("carol").post(f"/v1/datasets/{dataset_id}/approve",
                                         json={"reason": "fine, said Maria Gonzalez"})
    assert response.status_code == 200, response.text
    digest = hashlib.sha256(b"fine, said <PERSON>").hexdigest()
    auditor = Visitor(site)
    auditor.sign_in(site.tokens["audra"])
    page = auditor.request("GET", "/audit", params={
        "action": "dataset.approve", "resource": f"dataset:{dataset_id}"}).text
    assert f"<code>reason_sha256={digest}</code>" in page and "Gonzalez" not in page
