"""Datasets: ingest (parse, clean, redact, encrypt), lifecycle states, reads through the gate."""

from appliance.datasets.ingest import IngestResult, ingest_stream
from appliance.datasets.parse import detect_format
from appliance.datasets.service import (
    APPROVED,
    DELETED,
    PENDING,
    REJECTED,
    REVOKED,
    DatasetInfo,
    approve_dataset,
    delete_dataset,
    get_dataset,
    get_report,
    list_datasets,
    read_records,
    reject_dataset,
    revoke_dataset,
    sample_records,
    show_dataset,
)
from appliance.datasets.spec import DatasetSpec, load_spec_file, parse_spec

__all__ = [
    "APPROVED", "DELETED", "PENDING", "REJECTED", "REVOKED", "DatasetInfo", "DatasetSpec",
    "IngestResult", "approve_dataset", "delete_dataset", "detect_format", "get_dataset",
    "get_report", "ingest_stream", "list_datasets", "load_spec_file", "parse_spec",
    "read_records", "reject_dataset", "revoke_dataset", "sample_records", "show_dataset",
]
