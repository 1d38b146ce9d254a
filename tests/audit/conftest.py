"""Fixtures for the audit log: a throwaway Ed25519 key, a log directory, and a controlled clock."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.audit import AuditEvent, AuditLog


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def audit_dir(tmp_path: Path) -> Path:
    return tmp_path / "audit"


@pytest.fixture
def clock() -> Callable[[], datetime]:
    """One second later at every call, from 2025-01-01T00:00:00Z."""
    ticks: Iterator[int] = itertools.count()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return lambda: start + timedelta(seconds=next(ticks))


@pytest.fixture
def log(audit_dir: Path, key: Ed25519PrivateKey, clock: Callable[[], datetime]) -> AuditLog:
    return AuditLog(audit_dir, key, clock)


def event_fields(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """A plausible gate event; ``n`` varies the ids."""
    fields: dict[str, Any] = {
        "actor": "alice" if n % 2 == 0 else "bob",
        "role": "operator",
        "action": "dataset.read_for_training",
        "resource": f"dataset:ds_{n:04d}",
        "purpose": "training",
        "decision": "allow" if n % 3 else "deny",
        "reasons": ["operator may read approved datasets for training"],
        "policy_hash": "a" * 64,
        "details": {"object_id": f"obj_{n:04d}", "records": n},
    }
    fields.update(overrides)
    return fields


def fill(log: AuditLog, count: int, *, batch: int = 1) -> list[AuditEvent]:
    """Append ``count`` events, ``batch`` per write batch (so one checkpoint per batch)."""
    events: list[AuditEvent] = []
    for start in range(0, count, batch):
        size = min(batch, count - start)
        events.extend(log.append_many([event_fields(start + i) for i in range(size)]))
    return events


def segment(audit_dir: Path, index: int = 1) -> Path:
    return audit_dir / f"segment-{index:06d}.jsonl"


def read_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))
