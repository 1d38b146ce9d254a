"""The console in a real browser: sign-in, review-and-approve, and the audit viewer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import LiveServer
from tests.web.conftest import shot, sign_in

pytestmark = pytest.mark.browser

SAMPLE = Path(__file__).resolve().parents[2] / "appliance" / "demo" / "sample_tickets.jsonl"


def upload_tickets(site: LiveServer, n: int = 60) -> str:
    """The demo's support tickets, redacted for real, as olivia."""
    lines = SAMPLE.read_bytes().splitlines(keepends=True)[:n]
    response = site.client("olivia").post(
        "/v1/datasets", content=b"".join(lines),
        params={"name": "support-tickets.jsonl", "task": "classification",
                "text_field": "text", "label_field": "category",
                "keep_field": ["ticket_id", "channel"]})
    assert response.status_code == 201, response.text
    return str(response.json()["dataset_id"])


def test_sign_in_and_sign_out(page: Any, site: LiveServer) -> None:
    page.goto(f"{site.url}/review")
    assert page.url.startswith(f"{site.url}/signin")
    shot(page, "01-signin")

    page.fill("#token", "apl_this-is-not-a-token")
    page.click("button[type=submit]")
    assert "authentication failed" in page.locator(".alert").inner_text()

    page.fill("#token", site.tokens["carol"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/review")  # back where the browser wanted to go
    assert page.locator(".who-name").inner_text() == "carol"

    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["appliance_session"]
    assert (session["httpOnly"], session["secure"], session["sameSite"]) == (True, True, "Strict")
    assert site.tokens["carol"] not in json.dumps(list(cookies.values()))
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
    shot(page, "02-signed-in-review-queue")

    page.click("text=Sign out")
    page.wait_for_url(f"{site.url}/signin")
    page.goto(f"{site.url}/review")
    assert page.url.startswith(f"{site.url}/signin")  # the old session is gone


def test_review_and_approve(page: Any, site: LiveServer) -> None:
    dataset_id = upload_tickets(site)
    sign_in(page, site, "carol")
    page.wait_for_url(f"{site.url}/review")
    page.click(f"a[href='/datasets/{dataset_id}']")
    page.wait_for_url(f"{site.url}/datasets/{dataset_id}")
    assert page.locator("svg.chart rect.chart-bar").count() > 0  # entity counts per field
    assert "records_in" not in page.content()  # cleaning labels are humanised
    assert page.locator("table.compact").inner_text().count("records in") == 1
    shot(page, "03-dataset-redaction-report")

    page.click("text=Read redacted sample")
    page.wait_for_url(f"{site.url}/datasets/{dataset_id}/sample")
    assert page.locator("table.records tbody tr").count() == 20
    assert page.locator("mark").count() > 0  # placeholders such as <PERSON> highlighted
    original = [json.loads(line)["text"] for line in SAMPLE.read_text("utf-8").splitlines()]
    shown = page.locator("table.records").inner_text()
    assert not any(text in shown for text in original[:20] if "@" in text)
    shot(page, "04-redacted-sample")

    page.click("text=Back to dataset")
    page.fill("#reason", "Names, e-mail addresses and card numbers are redacted; fit for training.")
    page.click("button[value=approve]")
    page.wait_for_url(f"{site.url}/datasets/{dataset_id}")
    assert "is now APPROVED" in page.locator(".flash").inner_text()
    assert page.locator(".badge.big").inner_text() == "APPROVED"
    shot(page, "05-dataset-approved")
    state = site.client("carol").get(f"/v1/datasets/{dataset_id}").json()
    assert (state["state"], state["approvals"]) == ("APPROVED", ["carol"])


def test_operator_is_refused_approval_with_reasons(page: Any, site: LiveServer) -> None:
    dataset_id = site.dataset("olivia")
    sign_in(page, site, "olivia")
    page.goto(f"{site.url}/datasets/{dataset_id}")
    assert page.locator("button[value=approve]").count() == 0  # not offered...
    # ...and refused when forced, with the policy's reasons, as a page.
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    with page.expect_navigation():
        page.evaluate("""([url, csrf]) => {
        const f = document.createElement('form'); f.method = 'post'; f.action = url;
        for (const [k, v] of [['csrf_token', csrf], ['decision', 'approve'], ['reason', 'mine']]) {
            const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i);
        }
        document.body.appendChild(f); f.submit(); }""",
                      [f"/datasets/{dataset_id}/review", csrf])
    assert page.locator("h1").inner_text() == "Access denied"
    assert "role:" in page.locator("ul.reasons").inner_text()
    shot(page, "06-access-denied")


def test_audit_viewer(page: Any, site: LiveServer) -> None:
    upload_tickets(site, 10)
    sign_in(page, site, "audra")
    page.wait_for_url(f"{site.url}/audit")
    assert "Chain verified." in page.locator(".verify").inner_text()
    assert page.locator("table.audit tbody tr").count() > 0
    shot(page, "07-audit-log")

    page.fill("#actor", "olivia")
    page.select_option("#decision", "allow")
    page.click("text=Apply")
    page.wait_for_url("**/audit?*actor=olivia*")
    actors = page.locator("table.audit tbody tr td:nth-child(3)").all_inner_texts()
    assert actors and all(a.startswith("olivia") for a in actors)
    shot(page, "08-audit-log-filtered")

    page.click("text=Verify now")
    page.wait_for_url(f"{site.url}/audit")
    assert "Verified:" in page.locator(".flash").inner_text()

    with page.expect_download() as download:
        page.click("text=Download CSV")
    text = Path(download.value.path()).read_text("utf-8")
    assert text.splitlines()[0].startswith("seq,") and "audit.read" in text


def test_audit_paging(page: Any, site: LiveServer) -> None:
    for _ in range(3):
        site.client("audra").get("/v1/audit/events")
    for _ in range(60):  # make sure there are more than 50 events, whatever ran before
        site.client("olivia").get("/v1/datasets")
    sign_in(page, site, "audra")
    top = int(page.locator("table.audit tbody tr td").first.inner_text())
    last = int(page.locator("table.audit tbody tr td.num").last.inner_text())
    assert last == top - 49  # newest first
    page.click("text=Next page")
    page.wait_for_url(f"**/audit?up_to_seq={top}&page=2")
    # the page views in between wrote audit.read events; the anchored page does not shift
    first_seq = int(page.locator("table.audit tbody tr td").first.inner_text())
    assert first_seq == last - 1
    page.click("text=Previous page")
    page.wait_for_url(f"**/audit?up_to_seq={top}&page=1")
    assert int(page.locator("table.audit tbody tr td").first.inner_text()) == top


def test_audit_prefix_filter_order_toggle_and_filtered_download(
        page: Any, site: LiveServer) -> None:
    upload_tickets(site, 4)
    sign_in(page, site, "audra")
    page.select_option("#action_match", "prefix")
    page.fill("#action", "dataset.")
    page.click("text=Apply")
    page.wait_for_url("**/audit?*action_match=prefix*")
    actions = page.locator("table.audit tbody tr td:nth-child(4)").all_inner_texts()
    assert actions and all(a.startswith("dataset.") for a in actions)
    seqs = [int(x) for x in page.locator("table.audit tbody tr td.num").all_inner_texts()]
    assert seqs == sorted(seqs, reverse=True)
    assert page.locator("#action_match").input_value() == "prefix"  # the form keeps the mode

    page.click("#reverse-order")
    page.wait_for_url("**/audit?*order=oldest*")
    reversed_seqs = [int(x) for x in page.locator("table.audit tbody tr td.num").all_inner_texts()]
    assert reversed_seqs == sorted(reversed_seqs) and reversed_seqs[0] <= min(seqs)
    assert page.locator("#order").input_value() == "oldest"

    with page.expect_download() as download:
        page.click("text=Download JSONL")
    lines = Path(download.value.path()).read_text("utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert events and all(e["action"].startswith("dataset.") for e in events)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    shot(page, "08b-audit-log-prefix-oldest")


def test_operator_uploads_from_the_console_with_the_cli_spec_options(
    page: Any, site: LiveServer, tmp_path: Path
) -> None:
    source = tmp_path / "console-tickets.jsonl"
    source.write_bytes(b"".join(SAMPLE.read_bytes().splitlines(keepends=True)[:15]))
    before = len(site.client("olivia").get("/v1/datasets").json())
    sign_in(page, site, "olivia")
    page.goto(f"{site.url}/datasets")
    page.click("text=Upload a dataset")
    page.wait_for_url(f"{site.url}/datasets/upload")

    # a refusal is the CLI's own message, on the page, and stores nothing
    page.set_input_files("#file", str(source))
    page.select_option("#task", "classification")
    page.fill("#text_field", "text")
    page.click("form#upload button[type=submit]")
    error = page.locator(".upload-error")
    error.wait_for(state="visible")
    assert "needs --text-field and --label-field" in error.inner_text()
    assert len(site.client("olivia").get("/v1/datasets").json()) == before
    shot(page, "13-upload-refused")

    page.fill("#label_field", "category")
    page.fill("#keep_field", "ticket_id, channel")
    page.select_option("#classification", "confidential")
    page.click("form#upload button[type=submit]")
    page.wait_for_url(f"{site.url}/datasets/ds_*")
    assert "15 records stored encrypted" in page.locator(".flash").inner_text()
    dataset_id = page.url.rsplit("/", 1)[1]
    stored = site.client("olivia").get(f"/v1/datasets/{dataset_id}").json()
    assert (stored["name"], stored["state"], stored["classification"]) == (
        "console-tickets.jsonl", "PENDING_REVIEW", "confidential")
    assert stored["spec"]["keep_fields"] == ["ticket_id", "channel"]
    assert stored["uploaded_by"] == "olivia"
    shot(page, "14-uploaded")


def test_console_upload_needs_the_csrf_header(site: LiveServer, page: Any) -> None:
    sign_in(page, site, "olivia")
    status = page.evaluate("""async () => (await fetch(
        '/datasets/upload?name=x.jsonl&task=raw',
        {method: 'POST', body: '{"a": "b"}\\n', headers: {'Accept': 'application/json'}})
    ).status""")
    assert status == 403
