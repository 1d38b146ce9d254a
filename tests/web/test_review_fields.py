"""The review page lists every field with what was done to it, and flags kept fields with PII.

Issue 13's scenario, uploaded over the API and read in a real browser: ``customer_email`` and
``note`` are redacted although the spec names only ``text`` and ``category``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import LiveServer
from tests.web.conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RECORDS = [{"text": f"my invoice {i} is wrong", "category": "billing",
            "customer_email": "maria.gonzalez@example.com", "owner": f"agent{i}@example.com",
            "note": "call Maria Gonzalez at +1 (415) 555-0134, card 4111 1111 1111 1111"}
           for i in range(3)]


def test_review_page_shows_every_field_and_flags_kept_pii(page: Any, site: LiveServer) -> None:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in RECORDS)
    response = site.client("olivia").post(
        "/v1/datasets", content=body, headers={"Content-Type": "application/x-ndjson"},
        params={"name": "extra.jsonl", "task": "classification", "text_field": "text",
                "label_field": "category", "keep_field": ["owner"]})
    assert response.status_code == 201, response.text
    uploaded = response.json()
    assert uploaded["fields"]["note"]["action"] == "redacted"
    assert any("kept field 'owner' has 3 values that look like PII" in w
               for w in uploaded["warnings"])
    dataset_id = uploaded["dataset_id"]

    sign_in(page, site, "carol")
    page.goto(f"{site.url}/datasets/{dataset_id}")
    rows = {r.locator("td").nth(0).inner_text(): [c.inner_text() for c in r.locator("td").all()]
            for r in page.locator("#field-table tbody tr").all()}
    assert set(rows) == {"text", "category", "customer_email", "owner", "note"}
    assert rows["customer_email"][1:4] == ["redacted", "3", "3"]
    assert rows["customer_email"][4] == "EMAIL_ADDRESS 3"
    assert rows["note"][1] == "redacted" and "PHONE_NUMBER 3" in rows["note"][4]
    assert rows["category"][1] == "kept as given"
    assert rows["owner"][1] == "kept as given looks like PII" and rows["owner"][3] == "3"
    assert page.locator("#field-table tr.flagged").count() == 1
    alert = page.locator("#kept-pii").inner_text()
    assert "Kept fields that look like PII" in alert and "owner: 3 values" in alert
    assert "No PII entities were found" not in page.content()
    shown = page.content()
    assert "maria" not in shown.lower() and "agent0" not in shown  # counts and names only
    shot(page, "review-fields")
