"""What the ML core is given: decrypted records and a checked base-model directory (no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DatasetInput:
    """One dataset's records, already decrypted in memory by the gate."""

    dataset_id: str
    name: str
    content_hash: str
    records: Sequence[dict[str, Any]]
    #: Field roles from the dataset's spec ({"text_field": "body", ...}); a job's own win.
    fields: dict[str, str] | None = None


@dataclass(frozen=True)
class BaseModel:
    """A registered base model: a local directory and the SHA-256 it was registered with."""

    name: str
    path: Path
    sha256: str
