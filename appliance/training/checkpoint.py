"""Training checkpoints as bytes: weights, optimizer, scheduler, RNG and step, never a file.

DESIGN.md forbids unencrypted checkpoints on disk, so the trainer's own checkpointing is off and
this module captures the same state into memory; the job layer stores the bytes as a vault object
and hands them back on resume. The container is ``torch.save`` of plain containers and tensors,
read back with ``weights_only=True`` (no arbitrary pickle), after the vault has authenticated it.
"""

from __future__ import annotations

import io
import random
from typing import Any

import numpy as np
import torch

CHECKPOINT_FORMAT = "appliance-checkpoint/1"


def capture_rng() -> dict[str, Any]:
    """Every RNG the trainer draws from, in a form ``weights_only`` loading accepts."""
    version, state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    rng: dict[str, Any] = {
        "python": [version, list(state), gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, cached],
        "cpu": torch.random.get_rng_state(),
    }
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return rng


def restore_rng(rng: dict[str, Any]) -> None:
    version, state, gauss = rng["python"]
    random.setstate((version, tuple(state), gauss))
    kind, keys, pos, has_gauss, cached = rng["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.random.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def to_bytes(state: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state}, buffer)
    return buffer.getvalue()


def from_bytes(data: bytes) -> dict[str, Any]:
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError("not an appliance training checkpoint")
    return state
