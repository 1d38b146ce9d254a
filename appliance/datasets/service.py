"""Dataset lifecycle: metadata, review decisions, and reads through the gate.

States: PENDING_REVIEW -> APPROVED | REJECTED; APPROVED -> REVOKED; any -> DELETED (crypto-shred).
A ``restricted`` dataset needs two distinct compliance approvals before it becomes APPROVED; the
first one is recorded and the dataset stays PENDING_REVIEW. Who may do what is decided by the
policy (policies/appliance), never here: these functions only build the resource the policy sees.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from appliance.db import transaction
from appliance.errors import Conflict, NotFound
from appliance.gate import Principal, authorize, open_object, read_object
from appliance.redaction.reasons import reason_details, reason_sha256, redact_reason

if TYPE_CHECKING:
    from appliance.context import Context

PENDING, APPROVED, REJECTED, REVOKED, DELETED = (
    "PENDING_REVIEW", "APPROVED", "REJECTED", "REVOKED", "DELETED",
)
APPROVALS_NEEDED = {"restricted": 2}


@dataclass(frozen=True)
class DatasetInfo:
    """Metadata only: never any record contents."""

    dataset_id: str
    name: str
    state: str
    task: str
    classification: str
    source_format: str
    row_count: int
    content_hash: str
    uploaded_by: str
    created_at: str
    updated_at: str
    approvals: list[str]
    spec: dict[str, Any]
    #: Review decisions, oldest first: reviewer, decision, reason (redacted), reason_sha256, at.
    reviews: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def resource(self) -> dict[str, Any]:
        """The attributes the policy decides on."""
        return {"type": "dataset", "id": self.dataset_id, "state": self.state,
                "classification": self.classification, "uploaded_by": self.uploaded_by,
                "approvals": self.approvals}


_COLUMNS = ("dataset_id, name, state, task, classification, source_format, row_count, "
            "content_hash, uploaded_by, created_at, updated_at, spec")


def _info(ctx: Context, row: Any) -> DatasetInfo:
    data = dict(row)
    data["spec"] = json.loads(data["spec"])
    data["approvals"] = _approvals(ctx, data["dataset_id"])
    data["reviews"] = _reviews(ctx, data["dataset_id"])
    return DatasetInfo(**data)


def _reviews(ctx: Context, dataset_id: str) -> list[dict[str, Any]]:
    rows = ctx.conn.execute(
        "SELECT reviewer, decision, reason, created_at FROM dataset_reviews WHERE dataset_id=?"
        " ORDER BY review_id", (dataset_id,)).fetchall()
    return [{"reviewer": r["reviewer"], "decision": r["decision"], "reason": r["reason"],
             "reason_sha256": reason_sha256(r["reason"] or ""),
             "at": r["created_at"]} for r in rows]


def _approvals(ctx: Context, dataset_id: str) -> list[str]:
    """Approvers since the dataset last entered review (a revocation resets nothing: it ends)."""
    rows = ctx.conn.execute(
        "SELECT reviewer FROM dataset_reviews WHERE dataset_id=? AND decision='approve'"
        " ORDER BY review_id", (dataset_id,)).fetchall()
    return [r["reviewer"] for r in rows]


def get_dataset(ctx: Context, dataset_id: str) -> DatasetInfo:
    row = ctx.conn.execute(f"SELECT {_COLUMNS} FROM datasets WHERE dataset_id=?",  # noqa: S608
                           (dataset_id,)).fetchone()
    if row is None:
        raise NotFound(f"no dataset {dataset_id}")
    return _info(ctx, row)


def show_dataset(ctx: Context, principal: Principal, dataset_id: str) -> DatasetInfo:
    info = get_dataset(ctx, dataset_id)
    authorize(ctx, principal, "dataset.show", info.resource(), "metadata")
    return info


def list_datasets(
    ctx: Context, principal: Principal, state: str | None = None
) -> list[DatasetInfo]:
    authorize(ctx, principal, "dataset.list", {"type": "dataset", "id": "*"}, "metadata",
              {"state": state or "any"})
    query = f"SELECT {_COLUMNS} FROM datasets"  # noqa: S608
    args: tuple[str, ...] = ()
    if state:
        query += " WHERE state=?"
        args = (state,)
    rows = ctx.conn.execute(query + " ORDER BY created_at, dataset_id", args).fetchall()
    return [_info(ctx, r) for r in rows]


def approve_dataset(
    ctx: Context, principal: Principal, dataset_id: str, reason: str = ""
) -> DatasetInfo:
    info = get_dataset(ctx, dataset_id)
    kept = redact_reason(ctx.settings, reason)
    authorize(ctx, principal, "dataset.approve", info.resource(), "review",
              reason_details(kept))
    _require_state(info, PENDING, "approve")
    needed = APPROVALS_NEEDED.get(info.classification, 1)
    new_state = APPROVED if len(set(info.approvals) | {principal.name}) >= needed else PENDING
    _record(ctx, info, principal, "approve", kept, new_state)
    return get_dataset(ctx, dataset_id)


def reject_dataset(
    ctx: Context, principal: Principal, dataset_id: str, reason: str = ""
) -> DatasetInfo:
    info = get_dataset(ctx, dataset_id)
    kept = redact_reason(ctx.settings, reason)
    authorize(ctx, principal, "dataset.reject", info.resource(), "review",
              reason_details(kept))
    _require_state(info, PENDING, "reject")
    _record(ctx, info, principal, "reject", kept, REJECTED)
    return get_dataset(ctx, dataset_id)


def revoke_dataset(
    ctx: Context, principal: Principal, dataset_id: str, reason: str = ""
) -> DatasetInfo:
    info = get_dataset(ctx, dataset_id)
    kept = redact_reason(ctx.settings, reason)
    authorize(ctx, principal, "dataset.revoke", info.resource(), "review",
              reason_details(kept))
    _require_state(info, APPROVED, "revoke")
    _record(ctx, info, principal, "revoke", kept, REVOKED)
    return get_dataset(ctx, dataset_id)


def delete_dataset(ctx: Context, principal: Principal, dataset_id: str) -> DatasetInfo:
    """Crypto-shred the dataset's objects; the metadata row stays, marked DELETED, for audit."""
    info = get_dataset(ctx, dataset_id)
    authorize(ctx, principal, "dataset.delete", info.resource(), "retention")
    if info.state == DELETED:
        raise Conflict(f"dataset {dataset_id} is already deleted")
    row = ctx.conn.execute("SELECT object_id, report_object_id FROM datasets WHERE dataset_id=?",
                           (dataset_id,)).fetchone()
    for object_id in (row["object_id"], row["report_object_id"]):
        if object_id:
            ctx.vault.shred(object_id)
    with transaction(ctx.conn):
        ctx.conn.execute("UPDATE datasets SET state=?, updated_at=? WHERE dataset_id=?",
                         (DELETED, ctx.now(), dataset_id))
    return get_dataset(ctx, dataset_id)


def read_records(
    ctx: Context, principal: Principal, dataset_id: str, *, purpose: str = "training",
    action: str = "dataset.read_for_training", details: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream a dataset's records through the gate (policy, audit, then decrypt)."""
    info = get_dataset(ctx, dataset_id)
    object_id = _object_id(ctx, dataset_id, "object_id")
    chunks = open_object(ctx, principal, action, info.resource(), object_id, purpose, details)
    return _lines(chunks)


def sample_records(
    ctx: Context, principal: Principal, dataset_id: str, n: int = 10, offset: int = 0
) -> list[dict[str, Any]]:
    """``n`` redacted records from the ``offset``-th on, for reviewers (one audited read)."""
    details: dict[str, Any] = {"n": n, "offset": offset} if offset else {"n": n}
    records = read_records(ctx, principal, dataset_id, purpose="review",
                           action="dataset.read_sample", details=details)
    out: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if len(out) >= n:
            break
        if index >= offset:
            out.append(record)
    return out


def get_report(ctx: Context, principal: Principal, dataset_id: str) -> dict[str, Any]:
    info = get_dataset(ctx, dataset_id)
    object_id = _object_id(ctx, dataset_id, "report_object_id")
    data = read_object(ctx, principal, "dataset.report", info.resource(), object_id, "review")
    report: dict[str, Any] = json.loads(data)
    return report


def _object_id(ctx: Context, dataset_id: str, column: str) -> str:
    row = ctx.conn.execute(f"SELECT state, {column} AS oid FROM datasets WHERE dataset_id=?",  # noqa: S608
                           (dataset_id,)).fetchone()
    if row is None:
        raise NotFound(f"no dataset {dataset_id}")
    if row["state"] == DELETED or not row["oid"]:
        raise NotFound(f"dataset {dataset_id} was deleted; its contents are unrecoverable")
    return str(row["oid"])


def _lines(chunks: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    buffer = io.BytesIO()
    for chunk in chunks:
        buffer.write(chunk)
        data = buffer.getvalue()
        *complete, rest = data.split(b"\n")
        for line in complete:
            if line:
                yield json.loads(line)
        buffer = io.BytesIO()
        buffer.write(rest)
    tail = buffer.getvalue()
    if tail.strip():
        yield json.loads(tail)


def _require_state(info: DatasetInfo, state: str, verb: str) -> None:
    if info.state != state:
        raise Conflict(f"cannot {verb} dataset {info.dataset_id}: it is {info.state}, not {state}")


def _record(
    ctx: Context, info: DatasetInfo, principal: Principal, decision: str, reason: str,
    new_state: str,
) -> None:
    with transaction(ctx.conn):
        current = ctx.conn.execute("SELECT state FROM datasets WHERE dataset_id=?",
                                   (info.dataset_id,)).fetchone()["state"]
        if current != info.state:  # someone else decided between our read and our write
            raise Conflict(f"dataset {info.dataset_id} changed state to {current}; try again")
        ctx.conn.execute(
            "INSERT INTO dataset_reviews(dataset_id, reviewer, decision, reason, created_at)"
            " VALUES (?,?,?,?,?)", (info.dataset_id, principal.name, decision, reason, ctx.now()))
        ctx.conn.execute("UPDATE datasets SET state=?, updated_at=? WHERE dataset_id=?",
                         (new_state, ctx.now(), info.dataset_id))
