"""Request and response bodies of the HTTP API (they are also its OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

State = Literal["PENDING_REVIEW", "APPROVED", "REJECTED", "REVOKED", "DELETED"]
Role = Literal["operator", "compliance", "auditor", "admin"]


class Dataset(BaseModel):
    """A dataset's metadata. Never any record contents."""

    dataset_id: str
    name: str
    state: str = Field(description="PENDING_REVIEW, APPROVED, REJECTED, REVOKED or DELETED.")
    task: str
    classification: str
    source_format: str
    row_count: int
    content_hash: str = Field(description="SHA-256 of the stored (redacted) records.")
    uploaded_by: str
    created_at: str
    updated_at: str
    approvals: list[str] = Field(description="Compliance officers who approved it so far.")
    spec: dict[str, Any] = Field(description="The dataset spec the records were ingested with.")


class Ingested(BaseModel):
    """The outcome of an upload: a new dataset awaiting review."""

    dataset_id: str
    rows: int
    content_hash: str
    state: str


class Report(BaseModel):
    """The redaction report: cleaning counts and PII entities found per field."""

    model_config = ConfigDict(extra="allow")

    dataset_id: str
    rows: int
    cleaning: dict[str, int] = Field(default_factory=dict)
    entities_by_field: dict[str, dict[str, int]] = Field(default_factory=dict)
    records_touched: int = 0
    records_dropped_pii: int = 0


class Sample(BaseModel):
    """The first redacted records of a dataset, for a reviewer."""

    dataset_id: str
    records: list[dict[str, Any]]


class Review(BaseModel):
    """A review decision's justification, kept with the decision."""

    reason: str = Field("", max_length=2000, description="Why; recorded with the decision.")


class AuditEvent(BaseModel):
    """One event of the hash-chained audit log."""

    model_config = ConfigDict(extra="allow")

    seq: int
    time: str
    actor: str
    role: str
    action: str
    resource: str
    purpose: str
    decision: str
    reasons: list[str]
    policy_hash: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    """A page of audit events, oldest first."""

    events: list[AuditEvent]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last one.")


class Verification(BaseModel):
    """The result of verifying the audit log's hash chain and signed checkpoints."""

    model_config = ConfigDict(extra="allow")

    ok: bool
    detail: str
    events: int | None = None
    checkpoints: int | None = None
    head_hash: str | None = None


class User(BaseModel):
    """A user; its token is never returned after creation."""

    name: str
    role: str
    created_at: str
    expires_at: str
    revoked_at: str | None


class NewUser(BaseModel):
    """A user to create."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_.-]{1,63}$", description="2-64 of a-z 0-9 _ . -")
    role: Role
    ttl_days: int | None = Field(None, gt=0, le=3650, description="Token lifetime in days.")


class IssuedToken(BaseModel):
    """A user and its bearer token. The token is shown once: store it now."""

    user: User
    token: str


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, str]
