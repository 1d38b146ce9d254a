"""``/v1/exports``: approvals, downloads of approved bundles, and bundle verification."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from appliance.api.deps import ContextDep, CurrentUser, get_pool, reject_unknown_query
from appliance.api.problem import BAD_INPUT, CONFLICT, NOT_FOUND, TOO_LARGE, responses
from appliance.api.schemas import BundleReport, Export, Review
from appliance.context import Context
from appliance.crypto import load_public_key
from appliance.errors import IntegrityError, PayloadTooLarge
from appliance.scratch import ScratchEntry, make_scratch
from appliance.training import export

router = APIRouter(prefix="/v1/exports", tags=["exports"],
                   dependencies=[Depends(reject_unknown_query)])
TAR = {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}}
OCTETS = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
CHUNK = 1 << 20


@router.get("", response_model=list[Export], responses=responses())
def list_exports(ctx: ContextDep, user: CurrentUser) -> list[Any]:
    """List export requests and their decisions."""
    return [e.as_dict() for e in export.list_exports(ctx, user)]


@router.get("/{export_id}", response_model=Export, responses=responses(NOT_FOUND))
def show_export(ctx: ContextDep, user: CurrentUser, export_id: str) -> Any:
    """One export request."""
    return export.show_export(ctx, user, export_id).as_dict()


@router.post("/{export_id}/approve", response_model=Export,
             responses=responses(NOT_FOUND, CONFLICT))
def approve_export(ctx: ContextDep, user: CurrentUser, export_id: str, review: Review) -> Any:
    """Release a bundle (compliance; never the requester)."""
    return export.approve_export(ctx, user, export_id, review.reason).as_dict()


@router.post("/{export_id}/reject", response_model=Export,
             responses=responses(NOT_FOUND, CONFLICT))
def reject_export(ctx: ContextDep, user: CurrentUser, export_id: str, review: Review) -> Any:
    """Refuse an export request."""
    return export.reject_export(ctx, user, export_id, review.reason).as_dict()


@router.get("/{export_id}/bundle", response_class=StreamingResponse,
            responses={**responses(NOT_FOUND, CONFLICT),
                       200: {"description": "The signed bundle (tar).", "content": TAR}})
def download_export(ctx: ContextDep, user: CurrentUser, export_id: str) -> StreamingResponse:
    """Download an approved bundle (its requester only)."""
    # locked until removed, so another process's start-up sweep leaves it alone
    folder = make_scratch(ctx.settings.path("tmp"), "export")
    try:
        info = export.download_export(ctx, user, export_id, folder.path / "bundle.tar")
    except BaseException:
        folder.remove()
        raise
    return StreamingResponse(
        _read_then_remove(folder), media_type="application/x-tar",
        headers={"Content-Disposition": f'attachment; filename="{info.export_id}.tar"',
                 "X-Bundle-SHA256": info.bundle_sha256 or ""})


def _read_then_remove(folder: ScratchEntry) -> Iterator[bytes]:
    try:
        with (folder.path / "bundle.tar").open("rb") as bundle:
            while chunk := bundle.read(CHUNK):
                yield chunk
    finally:
        folder.remove()


@router.post("/verify", response_model=BundleReport, responses=responses(BAD_INPUT, TOO_LARGE),
             openapi_extra={"requestBody": {"required": True, "content": {**TAR, **OCTETS},
                                            "description": "A bundle to check."}})
async def verify_bundle(request: Request, ctx: ContextDep, user: CurrentUser) -> Any:
    """Check a bundle's signature, manifest and file hashes against this appliance's key."""
    limit = get_pool(request).settings.max_upload_bytes
    folder = make_scratch(ctx.settings.path("tmp"), "verify")
    try:
        target = folder.path / "bundle.tar"
        received = 0
        with target.open("wb") as out:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise PayloadTooLarge(f"bundle is over the limit of {limit} bytes")
                out.write(chunk)
        return await anyio.to_thread.run_sync(_verify, ctx, target)
    finally:
        folder.remove()


def _verify(ctx: Context, path: Path) -> dict[str, Any]:
    """A bundle that fails a check is a result (ok=false, naming the check), not a server error."""
    public_key = load_public_key(export.public_key_file(ctx))
    try:
        report: dict[str, Any] = export.verify_bundle(path, public_key)
    except IntegrityError as exc:
        return {"ok": False, "detail": str(exc)}
    report["bundle"] = "uploaded"
    return {**report, "detail": "signature, manifest and every file hash verified"}


