"""The CLI against a remote appliance: ``APPLIANCE_URL`` (and ``APPLIANCE_TOKEN``) set.

:class:`RemoteClient` speaks the ``/v1`` API and returns what the service functions return
(:class:`DatasetInfo`, :class:`IngestResult`, plain dicts for reports, samples and audit events),
and raises the same :class:`ApplianceError` subclasses, rebuilt from the problem document with
its reasons. So a command prints the same output and exits with the same code whether it ran
locally or remotely. :class:`LocalBackend` offers the same methods over a local home, and
:func:`backend` picks one of the two from the environment.

TLS: ``https://`` URLs are verified against the system trust store, or against the CA bundle in
``APPLIANCE_CA_BUNDLE`` (an appliance usually has a private CA).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from appliance import errors
from appliance.datasets import PENDING, DatasetInfo, DatasetSpec, IngestResult

if TYPE_CHECKING:
    import httpx

    from appliance.api.auditing import Filters
    from appliance.context import Context
    from appliance.gate import Principal
    from appliance.training.chat import Answer
    from appliance.training.export import ExportInfo
    from appliance.training.jobs import JobInfo
    from appliance.training.models import ModelInfo

CHUNK = 1 << 20
#: Problem titles that name a more specific error than the status code alone.
_BY_TITLE: dict[str, type[errors.ApplianceError]] = {
    errors.AuditUnavailable.title: errors.AuditUnavailable,
    errors.PolicyUnavailable.title: errors.PolicyUnavailable,
    errors.IntegrityError.title: errors.IntegrityError,
    errors.ConfigurationError.title: errors.ConfigurationError,
}
_BY_STATUS: dict[int, type[errors.ApplianceError]] = {
    400: errors.InvalidInput, 401: errors.AuthenticationFailed, 403: errors.AccessDenied,
    404: errors.NotFound, 409: errors.Conflict, 413: errors.PayloadTooLarge,
    422: errors.InvalidInput, 429: errors.AuthenticationFailed, 503: errors.PolicyUnavailable,
}


class RemoteClient:
    """The appliance's HTTP API, with the service layer's return types and errors."""

    def __init__(self, url: str, token: str | None, *, ca_bundle: str | None = None,
                 timeout: float = 600.0, transport: httpx.BaseTransport | None = None) -> None:
        import ssl

        import httpx

        self.url = url.rstrip("/")
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                  verify=ssl.create_default_context(cafile=ca_bundle),
                                  transport=transport,
                                  follow_redirects=False, trust_env=False)

    @classmethod
    def from_env(cls, token: str | None = None) -> RemoteClient | None:
        """A client when ``APPLIANCE_URL`` is set; None means: work on the local home."""
        url = os.environ.get("APPLIANCE_URL")
        if not url:
            return None
        return cls(url, token or os.environ.get("APPLIANCE_TOKEN"),
                   ca_bundle=os.environ.get("APPLIANCE_CA_BUNDLE"))

    def close(self) -> None:
        self._http.close()

    # -- datasets ---------------------------------------------------------------------------

    def ingest_stream(self, stream: IO[bytes], *, name: str, fmt: str, spec: DatasetSpec,
                      total_bytes: int | None = None, progress: Any = False,
                      source_name: str | None = None) -> IngestResult:
        """Upload a file, streamed; the server parses, redacts and encrypts it."""
        headers = {"Content-Type": "text/csv" if fmt == "csv" else "application/x-ndjson"}
        if total_bytes is not None:
            headers["Content-Length"] = str(total_bytes)
        params = {"name": name, "format": fmt,
                  "spec": json.dumps(spec.model_dump(mode="json"), sort_keys=True)}
        data = self._call("POST", "/v1/datasets", params=params, headers=headers,
                          content=_chunks(stream))
        return IngestResult(data["dataset_id"], data["rows"], data["content_hash"],
                            {"fields": data.get("fields", {})}, data.get("warnings", []))

    def list_datasets(self, state: str | None = None) -> list[DatasetInfo]:
        params = {"state": state} if state else None
        return [DatasetInfo(**d) for d in self._call("GET", "/v1/datasets", params=params)]

    def show_dataset(self, dataset_id: str) -> DatasetInfo:
        return DatasetInfo(**self._call("GET", f"/v1/datasets/{_seg(dataset_id)}"))

    def get_report(self, dataset_id: str) -> dict[str, Any]:
        report: dict[str, Any] = self._call("GET", f"/v1/datasets/{_seg(dataset_id)}/report")
        return report

    def sample_records(self, dataset_id: str, n: int = 10) -> list[dict[str, Any]]:
        data = self._call("GET", f"/v1/datasets/{_seg(dataset_id)}/sample", params={"n": n})
        return list(data["records"])

    def review_queue(self, dataset_id: str, n: int = 50) -> list[dict[str, Any]]:
        data = self._call("GET", f"/v1/datasets/{_seg(dataset_id)}/review-queue",
                          params={"n": n})
        return list(data["redactions"])

    def review_dataset(self, verb: str, dataset_id: str, reason: str = "") -> DatasetInfo:
        """``verb`` is approve, reject or revoke."""
        if verb not in ("approve", "reject", "revoke"):
            raise errors.InvalidInput(f"unknown review decision {verb!r}")
        data = self._call("POST", f"/v1/datasets/{_seg(dataset_id)}/{verb}",
                          json={"reason": reason})
        return DatasetInfo(**data)

    def approve_dataset(self, dataset_id: str, reason: str = "") -> DatasetInfo:
        return self.review_dataset("approve", dataset_id, reason)

    def reject_dataset(self, dataset_id: str, reason: str = "") -> DatasetInfo:
        return self.review_dataset("reject", dataset_id, reason)

    def revoke_dataset(self, dataset_id: str, reason: str = "") -> DatasetInfo:
        return self.review_dataset("revoke", dataset_id, reason)

    def delete_dataset(self, dataset_id: str) -> DatasetInfo:
        return DatasetInfo(**self._call("DELETE", f"/v1/datasets/{_seg(dataset_id)}"))

    # -- audit ------------------------------------------------------------------------------

    def audit_query(self, filters: Filters | None = None, *, limit: int | None = 100,
                    offset: int = 0, **fields: Any) -> list[dict[str, Any]]:
        """Events as dicts, newest first unless the filters say otherwise (``limit=None``: all
        of them, fetched a page at a time); ``fields`` are :class:`Filters` fields."""
        params = _filters(filters, fields).params()
        events: list[dict[str, Any]] = []
        while True:
            page = 1000 if limit is None else min(1000, limit - len(events))
            data = self._call("GET", "/v1/audit/events",
                              params={**params, "limit": page, "offset": offset})
            events.extend(data["events"])
            if data["next_offset"] is None or (limit is not None and len(events) >= limit):
                return events
            offset = data["next_offset"]
            if data.get("up_to_seq") is not None:  # newest first: later pages must not shift
                params["up_to_seq"] = str(data["up_to_seq"])

    def audit_verify(self) -> dict[str, Any]:
        """The server's verification of its own log (an auditor can also verify a copy)."""
        result: dict[str, Any] = self._call("GET", "/v1/audit/verify")
        if not result.get("ok"):
            raise errors.IntegrityError(str(result.get("detail", "audit log verification failed")))
        return result

    def audit_export(self, fmt: str, out: TextIO, filters: Filters | None = None) -> None:
        """The matching events as ``fmt`` (jsonl or csv), streamed to ``out``."""
        params = {**_filters(filters, {}).params(), "format": fmt}
        with self._http.stream("GET", "/v1/audit/export", params=params) as response:
            if response.is_error:
                response.read()
                _raise(response)
            for text in response.iter_text():
                out.write(text)

    # -- training ---------------------------------------------------------------------------

    def submit_job(self, config: dict[str, Any]) -> JobInfo:
        """Queue a job (the server starts its worker); ``config`` as for ``JobConfig``."""
        from appliance.training.jobs import JobInfo

        return JobInfo(**self._call("POST", "/v1/jobs", json=config))

    def list_jobs(self, state: str | None = None) -> list[JobInfo]:
        from appliance.training.jobs import JobInfo

        params = {"state": state.upper()} if state else None
        return [JobInfo(**j) for j in self._call("GET", "/v1/jobs", params=params)]

    def get_job(self, job_id: str) -> JobInfo:
        from appliance.training.jobs import JobInfo

        return JobInfo(**self._call("GET", f"/v1/jobs/{_seg(job_id)}"))

    def cancel_job(self, job_id: str) -> JobInfo:
        from appliance.training.jobs import JobInfo

        return JobInfo(**self._call("POST", f"/v1/jobs/{_seg(job_id)}/cancel"))

    def resume_job(self, job_id: str) -> JobInfo:
        """Resume an interrupted job (the service starts its worker)."""
        from appliance.training.jobs import JobInfo

        return JobInfo(**self._call("POST", f"/v1/jobs/{_seg(job_id)}/resume"))

    def follow_job(self, job_id: str, after_seq: int = 0,
                   follow: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
        """The job's server-sent events as (event, data): ``log``, ``progress``, ``end``."""
        import httpx

        with self._http.stream("GET", f"/v1/jobs/{_seg(job_id)}/logs",
                               params={"after": after_seq, "follow": follow},
                               timeout=httpx.Timeout(30, read=None)) as response:
            if response.is_error:
                response.read()
                _raise(response)
            event = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    yield event, json.loads(line.removeprefix("data: "))
                    if event == "end":
                        return

    def list_models(self) -> list[ModelInfo]:
        from appliance.training.models import ModelInfo

        return [ModelInfo(**m) for m in self._call("GET", "/v1/models")]

    def show_model(self, model_id: str) -> ModelInfo:
        from appliance.training.models import ModelInfo

        return ModelInfo(**self._call("GET", f"/v1/models/{_seg(model_id)}"))

    def predict(self, model_id: str, texts: list[str], batch_size: int = 64,
                task_tag: str | None = None) -> list[dict[str, Any]]:
        data = self._call("POST", f"/v1/models/{_seg(model_id)}/predict",
                          json={"texts": texts, "batch_size": batch_size, "task_tag": task_tag})
        return list(data["predictions"])

    def score(self, model_id: str, items: list[dict[str, Any]]) -> list[float]:
        """A reward model's score of each ``{"prompt", "response"}`` item, in order; one call
        (at most ``models.MAX_SCORE_ITEMS`` items)."""
        data = self._call("POST", f"/v1/models/{_seg(model_id)}/score", json={"items": items})
        return [float(v) for v in data["scores"]]

    def generate(self, model: str, prompts: list[Any],
                 options: dict[str, Any] | None = None) -> list[Answer]:
        """Answers to prompts (strings or message lists) from ``mdl_...`` or ``base:<name>``,
        in order; one call (at most ``chat.MAX_BATCH`` prompts)."""
        from appliance.training.chat import Answer

        data = self._call("POST", f"/v1/models/{_seg(model)}/generate",
                          json={"prompts": prompts, **(options or {})})
        return [Answer(**a) for a in data["answers"]]

    def request_export(self, model_id: str, merged: bool = False) -> ExportInfo:
        return _export(self._call("POST", f"/v1/models/{_seg(model_id)}/exports",
                                  json={"merged": merged}))

    def list_exports(self) -> list[ExportInfo]:
        return [_export(e) for e in self._call("GET", "/v1/exports")]

    def show_export(self, export_id: str) -> ExportInfo:
        return _export(self._call("GET", f"/v1/exports/{_seg(export_id)}"))

    def approve_export(self, export_id: str, reason: str = "") -> ExportInfo:
        return _export(self._call("POST", f"/v1/exports/{_seg(export_id)}/approve",
                                  json={"reason": reason}))

    def reject_export(self, export_id: str, reason: str = "") -> ExportInfo:
        return _export(self._call("POST", f"/v1/exports/{_seg(export_id)}/reject",
                                  json={"reason": reason}))

    def download_export(self, export_id: str, out_path: str | Path) -> ExportInfo:
        """Write the approved bundle to a new file (never over an existing one)."""
        target = Path(out_path)
        if target.exists():
            raise errors.Conflict(f"{target} already exists; choose another path")
        with self._http.stream("GET", f"/v1/exports/{_seg(export_id)}/bundle") as response:
            if response.is_error:
                response.read()
                _raise(response)
            expected = response.headers.get("x-bundle-sha256", "")
            digest = hashlib.sha256()
            with target.open("xb") as out:
                for chunk in response.iter_bytes(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        if expected and digest.hexdigest() != expected:
            target.unlink(missing_ok=True)
            raise errors.IntegrityError(f"export {export_id}: bundle SHA-256 expected {expected}, "
                                        f"got {digest.hexdigest()}")
        return self.show_export(export_id)

    def verify_bundle(self, path: str | Path) -> dict[str, Any]:
        """The server's verification of a bundle against its key (``ok: false`` raises)."""
        with Path(path).open("rb") as bundle:
            report: dict[str, Any] = self._call(
                "POST", "/v1/exports/verify", content=_chunks(bundle),
                headers={"Content-Type": "application/octet-stream"})
        if not report.get("ok"):
            raise errors.IntegrityError(str(report.get("detail", "bundle verification failed")))
        return report

    # -- users ------------------------------------------------------------------------------

    def list_users(self) -> list[dict[str, Any]]:
        users: list[dict[str, Any]] = self._call("GET", "/v1/users")
        return users

    def add_user(self, name: str, role: str, ttl_days: int | None = None
                 ) -> tuple[dict[str, Any], str]:
        data = self._call("POST", "/v1/users", json={"name": name, "role": role,
                                                     "ttl_days": ttl_days})
        return data["user"], data["token"]

    def revoke_user(self, name: str) -> dict[str, Any]:
        user: dict[str, Any] = self._call("POST", f"/v1/users/{_seg(name)}/revoke")
        return user

    def rotate_token(self, name: str) -> str:
        return str(self._call("POST", f"/v1/users/{_seg(name)}/token")["token"])

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise errors.ApplianceError(f"cannot reach the appliance at {self.url}: {exc}"
                                        ) from None
        if response.is_error:
            _raise(response)
        return response.json()


def _raise(response: httpx.Response) -> None:
    """Rebuild the server's error: same class (so same exit code), message and reasons."""
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    title = str(problem.get("title", ""))
    cls = _BY_TITLE.get(title) or _BY_STATUS.get(response.status_code, errors.ApplianceError)
    detail = str(problem.get("detail") or f"HTTP {response.status_code} from the appliance")
    reasons = [str(r) for r in problem.get("reasons", []) if isinstance(r, str)]
    if response.status_code == 401 and "authorization" not in response.request.headers:
        from appliance.cli.common import TOKEN_ADVICE
        from appliance.identity import NO_TOKEN

        # the server's advice names the HTTP header; this caller is the CLI
        detail = f"authentication failed: {NO_TOKEN}; {TOKEN_ADVICE}"
    raise cls(detail, reasons=reasons)


def _filters(filters: Filters | None, fields: dict[str, Any]) -> Filters:
    from appliance.api.auditing import Filters

    if filters is not None and fields:
        raise TypeError("pass Filters or filter keywords, not both")
    return filters if filters is not None else Filters(**fields)


def _export(data: dict[str, Any]) -> ExportInfo:
    """The service's ExportInfo from the API's Export document (fields this build's ExportInfo
    does not know are left out, so a newer server's additions do not break an older client)."""
    from dataclasses import fields

    from appliance.training.export import ExportInfo

    known = {f.name for f in fields(ExportInfo)}
    return ExportInfo(**{k: v for k, v in data.items() if k in known})


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def _seg(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


@dataclass
class LocalBackend:
    """The same methods as :class:`RemoteClient`, on the local home, as the given user."""

    ctx: Context
    principal: Principal

    def ingest_stream(self, stream: IO[bytes], *, name: str, fmt: str, spec: DatasetSpec,
                      total_bytes: int | None = None, progress: Any = False,
                      source_name: str | None = None) -> IngestResult:
        from appliance import datasets as ds

        return ds.ingest_stream(self.ctx, self.principal, stream, name=name,
                                source_name=source_name or name,
                                fmt=ds.detect_format(name, fmt), spec=spec,
                                total_bytes=total_bytes, progress=progress)

    def list_datasets(self, state: str | None = None) -> list[DatasetInfo]:
        from appliance import datasets as ds

        return ds.list_datasets(self.ctx, self.principal, state)

    def show_dataset(self, dataset_id: str) -> DatasetInfo:
        from appliance import datasets as ds

        return ds.show_dataset(self.ctx, self.principal, dataset_id)

    def get_report(self, dataset_id: str) -> dict[str, Any]:
        from appliance import datasets as ds

        return ds.get_report(self.ctx, self.principal, dataset_id)

    def sample_records(self, dataset_id: str, n: int = 10) -> list[dict[str, Any]]:
        from appliance import datasets as ds

        return ds.sample_records(self.ctx, self.principal, dataset_id, n)

    def review_queue(self, dataset_id: str, n: int = 50) -> list[dict[str, Any]]:
        from appliance.datasets.review import low_confidence

        return [m.as_dict() for m in low_confidence(self.ctx, self.principal, dataset_id, n)]

    def review_dataset(self, verb: str, dataset_id: str, reason: str = "") -> DatasetInfo:
        from appliance import datasets as ds

        action = {"approve": ds.approve_dataset, "reject": ds.reject_dataset,
                  "revoke": ds.revoke_dataset}[verb]
        return action(self.ctx, self.principal, dataset_id, reason)

    def delete_dataset(self, dataset_id: str) -> DatasetInfo:
        from appliance import datasets as ds

        return ds.delete_dataset(self.ctx, self.principal, dataset_id)

    def audit_query(self, filters: Filters | None = None, *, limit: int | None = 100,
                    offset: int = 0, **fields: Any) -> list[dict[str, Any]]:
        from appliance.api import auditing

        return auditing.query(self.ctx, self.principal, _filters(filters, fields),
                              limit=limit, offset=offset)  # type: ignore[arg-type]

    def audit_export(self, fmt: str, out: TextIO, filters: Filters | None = None) -> None:
        from appliance.api import auditing

        for chunk in auditing.export(self.ctx, self.principal, fmt, _filters(filters, {})):
            out.write(chunk.decode("utf-8"))

    def submit_job(self, config: dict[str, Any]) -> JobInfo:
        """Queue a job; unlike the service, this starts no worker (the caller does)."""
        from appliance.training import jobs

        return jobs.submit_job(self.ctx, self.principal, config)

    def list_jobs(self, state: str | None = None) -> list[JobInfo]:
        from appliance.training import jobs

        return jobs.list_jobs(self.ctx, self.principal, state)

    def get_job(self, job_id: str) -> JobInfo:
        from appliance.training import jobs

        return jobs.get_job(self.ctx, self.principal, job_id)

    def cancel_job(self, job_id: str) -> JobInfo:
        from appliance.training import jobs

        return jobs.cancel_job(self.ctx, self.principal, job_id)

    def resume_job(self, job_id: str) -> JobInfo:
        """Resume an interrupted job; its new worker outlives this command, as every one does."""
        from appliance.training import jobs

        return jobs.resume_job(self.ctx, self.principal, job_id)

    def list_models(self) -> list[ModelInfo]:
        from appliance.training import models

        return models.list_models(self.ctx, self.principal)

    def show_model(self, model_id: str) -> ModelInfo:
        from appliance.training import models

        return models.show_model(self.ctx, self.principal, model_id)

    def predict(self, model_id: str, texts: list[str], batch_size: int = 64,
                task_tag: str | None = None) -> list[dict[str, Any]]:
        from appliance.training import models

        return models.predict(self.ctx, self.principal, model_id, texts, batch_size, task_tag)

    def score(self, model_id: str, items: list[dict[str, Any]]) -> list[float]:
        from appliance.training import models

        return models.score(self.ctx, self.principal, model_id, items)

    def generate(self, model: str, prompts: list[Any],
                 options: dict[str, Any] | None = None) -> list[Answer]:
        from appliance.training import chat

        return chat.generate(self.ctx, self.principal, model, prompts,
                             chat.make_options(**(options or {})))

    def request_export(self, model_id: str, merged: bool = False) -> ExportInfo:
        from appliance.training import export

        return export.request_export(self.ctx, self.principal, model_id, merged=merged)

    def list_exports(self) -> list[ExportInfo]:
        from appliance.training import export

        return export.list_exports(self.ctx, self.principal)

    def show_export(self, export_id: str) -> ExportInfo:
        from appliance.training import export

        return export.show_export(self.ctx, self.principal, export_id)

    def approve_export(self, export_id: str, reason: str = "") -> ExportInfo:
        from appliance.training import export

        return export.approve_export(self.ctx, self.principal, export_id, reason)

    def reject_export(self, export_id: str, reason: str = "") -> ExportInfo:
        from appliance.training import export

        return export.reject_export(self.ctx, self.principal, export_id, reason)

    def download_export(self, export_id: str, out_path: str | Path) -> ExportInfo:
        from appliance.training import export

        return export.download_export(self.ctx, self.principal, export_id, out_path)


def backend(args: argparse.Namespace) -> RemoteClient | LocalBackend:
    """Remote when ``APPLIANCE_URL`` is set, else the local home; both authenticate the caller."""
    token = getattr(args, "token", None)
    client = RemoteClient.from_env(token)
    if client is not None:
        return client
    from appliance.cli.common import caller, context

    ctx = context(args)
    return LocalBackend(ctx, caller(ctx, args))


__all__ = ["PENDING", "LocalBackend", "RemoteClient", "backend"]
