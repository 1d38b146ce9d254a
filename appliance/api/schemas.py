"""Request and response bodies of the HTTP API (they are also its OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

State = Literal["PENDING_REVIEW", "APPROVED", "REJECTED", "REVOKED", "DELETED"]
Role = Literal["operator", "compliance", "auditor", "admin", "annotator"]


class ReviewRecord(BaseModel):
    """One review decision on a dataset."""

    reviewer: str
    decision: str = Field(description="approve, reject or revoke.")
    reason: str = Field(description="The reviewer's reason, PII redacted as at ingest.")
    reason_sha256: str | None = Field(description=(
        "SHA-256 of the reason as kept; the decision's audit event holds the same hash."))
    at: str


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
    reviews: list[ReviewRecord] = Field(default_factory=list, description=(
        "Review decisions, oldest first, each with its reason as kept (PII redacted)."))


class Ingested(BaseModel):
    """The outcome of an upload: a new dataset awaiting review."""

    dataset_id: str
    rows: int
    content_hash: str
    state: str
    fields: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Every field and what was done to it (redacted, kept, "
        "dropped), with counts of values, values with PII and entities by type.")
    warnings: list[str] = Field(
        default_factory=list, description="Records dropped and why, non-text labels, kept fields "
        "that look like PII, a reused name or content (the upload was still stored).")


class Report(BaseModel):
    """The redaction report: cleaning counts and PII entities found per field."""

    model_config = ConfigDict(extra="allow")

    dataset_id: str
    rows: int
    cleaning: dict[str, int] = Field(default_factory=dict)
    entities_by_field: dict[str, dict[str, int]] = Field(default_factory=dict)
    records_touched: int = 0
    records_dropped_pii: int = 0
    fields: dict[str, dict[str, Any]] = Field(default_factory=dict)
    kept_with_pii: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


class Sample(BaseModel):
    """The first redacted records of a dataset, for a reviewer."""

    dataset_id: str
    records: list[dict[str, Any]]


class QueuedRedaction(BaseModel):
    """One replacement, in the stored (redacted) text around it."""

    row: int = Field(description="The record's position in the dataset, from 0.")
    field: str = Field(description="The field path (dotted, lists transparent).")
    entity: str
    score: float = Field(description="The detector's score; lower is less sure.")
    before: str
    replaced: str = Field(description="What the value became: a placeholder, mask or pseudonym.")
    after: str


class ReviewQueue(BaseModel):
    """The dataset's lowest-scored replacements, lowest first, for a reviewer."""

    dataset_id: str
    redactions: list[QueuedRedaction]


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
    """A page of audit events, in the order asked for (newest first by default)."""

    events: list[AuditEvent]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last one.")
    up_to_seq: int | None = Field(default=None, description=(
        "Newest first: the seq later pages pass as up_to_seq, so they do not shift."))


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


class Job(BaseModel):
    """A training job: configuration, state, progress and final metrics (never record contents)."""

    job_id: str
    kind: str
    task: str
    state: str = Field(description="QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED.")
    config: dict[str, Any]
    dataset_ids: list[str]
    base_model: str | None
    created_by: str
    created_role: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    pid: int | None
    progress: dict[str, Any] = Field(
        description="phase, step, total, epoch, loss, eta_s (and reward, for RL)."
    )
    metrics: dict[str, Any]
    recipe: dict[str, Any]
    split: dict[str, Any]
    error: str | None
    model_id: str | None
    cancel_requested: bool
    has_checkpoint: bool
    interrupted: str | None = Field(
        None, description="Set when the job is RUNNING but its worker is gone: why (shown as "
                          "INTERRUPTED). POST /v1/jobs/{job_id}/resume resumes it.")


class JobMetrics(BaseModel):
    """A job's live progress and, once finished, its validation and test metrics."""

    job_id: str
    state: str
    progress: dict[str, Any]
    metrics: dict[str, Any]


class Model(BaseModel):
    """A trained model and its card (provenance, hyperparameters, metrics)."""

    model_id: str
    job_id: str | None
    task: str
    method: str
    base_model: str
    created_by: str
    created_at: str
    card: dict[str, Any]


class PredictRequest(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=10_000)
    task_tag: str | None = Field(None, description="For a multi-task model: which task.")
    batch_size: int = Field(64, ge=1, le=1024)


class Predictions(BaseModel):
    model_id: str
    predictions: list[dict[str, Any]] = Field(description="One {label, score} per text, in order.")


class ChatMessage(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=20_000)


PromptText = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class GenerationSettings(BaseModel):
    """Decoding options: greedy by default."""

    model_config = ConfigDict(extra="forbid")

    max_new_tokens: int = Field(128, ge=1, le=1024, description="Longest answer, in tokens.")
    temperature: float = Field(0.0, ge=0, le=2, description=(
        "0: greedy, the same answer every time; above 0: sampled."))
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass (temperature > 0).")
    seed: int | None = Field(None, ge=0, lt=2**32, description="Seed for repeatable samples.")

    def options(self) -> dict[str, Any]:
        return {"max_new_tokens": self.max_new_tokens, "temperature": self.temperature,
                "top_p": self.top_p, "seed": self.seed}


class GenerateRequest(GenerationSettings):
    """Prompts answered in order in one audited call: each a string (one user turn) or a
    conversation ending with the user's turn. At most 64 per call; 20,000 characters each."""

    prompts: list[PromptText | list[ChatMessage]] = Field(min_length=1, max_length=64)


class ChatRequest(GenerationSettings):
    """A conversation to answer, streamed: the turns so far, the user's last."""

    messages: list[ChatMessage] = Field(min_length=1, max_length=64)


class GeneratedAnswer(BaseModel):
    """One answer, after the output guard."""

    text: str = Field(description="The answer: PII replaced by placeholders, or a notice if "
                                  "the guard withheld it (settings.generation_guard).")
    prompt_tokens: int
    output_tokens: int
    finish: str = Field(description="stop (the model ended), length (max_new_tokens), "
                                    "withheld.")
    pii: dict[str, int] = Field(description="Entity types the guard found, with counts.")
    withheld: bool


class Generation(BaseModel):
    """The answers, one per prompt, in order."""

    model: str = Field(description="The model as named: mdl_... or base:<name>.")
    answers: list[GeneratedAnswer]


class ExportRequest(BaseModel):
    """What the bundle holds."""

    model_config = ConfigDict(extra="forbid")

    merged: bool = Field(False, description=(
        "A LoRA model: the adapter folded into its base, as a standard Hugging Face directory "
        "(vLLM, TGI and transformers load it); default: the adapter alone."))


class Export(BaseModel):
    """A model export: a signed bundle waiting for, or given, compliance approval."""

    export_id: str
    model_id: str
    state: str = Field(description="PENDING_REVIEW, APPROVED or REJECTED.")
    requested_by: str
    approved_by: str | None
    reason: str
    bundle_sha256: str | None
    created_at: str
    updated_at: str
    contents: str = Field(description=(
        "What the bundle holds: weights (the model's trained weights, as stored), adapter (a "
        "PEFT adapter directory for the base) or merged (the adapter folded into the base, a "
        "standard Hugging Face directory)."))
    memorization: dict[str, Any] | None = Field(None, description=(
        "The memorization scan the approver sees (generative models): flagged, reasons, "
        "verbatim completion rates, canary exposure; never record text."))


class BundleReport(BaseModel):
    """What verifying a bundle proved: signature, manifest and every file's hash."""

    model_config = ConfigDict(extra="allow")

    ok: bool
    detail: str
    bundle_sha256: str | None = None
    export_id: str | None = None
    model_id: str | None = None
    requested_by: str | None = None
    created_at: str | None = None
    approved_by: str | None = Field(
        None, description="Who approved the release (comma-separated); null for a bundle of "
        "format appliance-export/1, which did not record it.")
    approved_at: str | None = None
    reviewed_bundle_sha256: str | None = Field(
        None, description="The bundle compliance reviewed (named in the approve audit event).")
    signing_key_sha256: str | None = None
    files: dict[str, dict[str, Any]] = Field(default_factory=dict)
