"""Reviewers' free-text reasons (dataset and export decisions), kept as a record would be.

A reason is written about personal data ("approved after talking to Maria Gonzalez"), so it goes
through the same analyzer and placeholders as an ingest before it is stored, and it is bounded.
Audit details never hold it: the log cannot be edited, so a name the analyzer missed could never
be taken out again. Events carry whether a reason was given and the SHA-256 of the kept text,
which the metadata lists beside it, so an auditor can match a decision to its event.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from appliance.errors import InvalidInput

if TYPE_CHECKING:
    from appliance.config import Settings

MAX_REASON = 2000


def redact_reason(settings: Settings, reason: str) -> str:
    """The reason as it is kept: stripped, at most ``MAX_REASON`` characters, PII replaced."""
    text = reason.strip()
    if not text:
        return ""
    if len(text) > MAX_REASON:
        raise InvalidInput(f"a review reason is at most {MAX_REASON} characters, got {len(text)}")
    from appliance.redaction.anonymizer import RedactorConfig, build_redactor

    redactor = build_redactor(RedactorConfig.from_settings(settings))  # analyzer: cached
    return str(redactor.redact_batch([text], field="reason")[0].text)


def reason_sha256(kept: str) -> str | None:
    """The digest events name a kept reason by; None when no reason was given."""
    return hashlib.sha256(kept.encode("utf-8")).hexdigest() if kept else None


def reason_details(kept: str) -> dict[str, Any]:
    """The audit details of a decision's reason: given or not, and the kept text's digest."""
    return {"reason_given": bool(kept), "reason_sha256": reason_sha256(kept)}
