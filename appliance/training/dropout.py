"""Inverted dropout for CPU training, with masks four times cheaper to draw than torch's.

On CPU, ``torch.nn.functional.dropout`` draws its mask with ``bernoulli_``: one Mersenne Twister
number per element, on one thread. In a MiniLM training step on 2 cores that draw was a quarter of
the step (py-spy: 27% of samples inside ``dropout``; MiniLM applies 13 dropouts, LoRA 12 more).
:class:`CpuDropout` draws the same masks from numpy's PCG64 bit generator instead, 16 bits per
element (four elements per 64-bit draw): 0.9 ms against 3.2-3.8 ms for a 32 x 24 x 384 batch.

Semantics are those of ``nn.Dropout`` (inverted dropout):

- an element is kept when its 16 random bits are >= ``t = round(p * 65536)``, so the drop
  probability is ``t / 65536`` (0.10000610 for p = 0.1), and kept elements are scaled by
  ``65536 / (65536 - t)``: the expectation of every output element equals its input exactly;
- the backward pass multiplies the gradient by the same scaled mask;
- evaluation mode, ``p = 0`` and tensors off the CPU take torch's own path.

Reproducibility: each call seeds its PCG64 from one draw of torch's default CPU generator. The same
``torch.manual_seed`` gives the same masks, and a job resumed from a checkpoint (which restores
torch's RNG state) draws the masks the uninterrupted run would have drawn.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

_BITS = 16
_LEVELS = 1 << _BITS


class _ApplyMask(torch.autograd.Function):
    """``x * mask`` whose backward reuses the mask and keeps no copy of ``x``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (mask,) = ctx.saved_tensors
        return grad * mask, None


def scaled_mask(shape: torch.Size, p: float, dtype: torch.dtype) -> torch.Tensor:
    """A CPU tensor of ``shape``: 0 where dropped, ``1 / keep_probability`` where kept."""
    threshold = round(p * _LEVELS)
    count = math.prod(shape)
    seed = int(torch.randint(0, 2**62, ()))
    raw = np.random.Generator(np.random.PCG64(seed)).bit_generator.random_raw(-(-count // 4))
    keep = torch.from_numpy(raw.view(np.uint16)[:count] >= threshold).view(shape)
    return keep.to(dtype).mul_(_LEVELS / (_LEVELS - threshold))


def cpu_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Training-mode dropout of a CPU tensor (see the module docstring)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if p == 0.0 or x.numel() == 0:
        return x
    return _ApplyMask.apply(x, scaled_mask(x.shape, p, x.dtype))  # type: ignore[no-any-return]


class CpuDropout(nn.Dropout):
    """``nn.Dropout`` with :func:`cpu_dropout` for CPU tensors in training mode."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if self.training and self.p > 0.0 and input.device.type == "cpu" and not self.inplace:
            return cpu_dropout(input, self.p)
        return super().forward(input)


def use_cpu_dropout(model: nn.Module) -> int:
    """Replace every plain ``nn.Dropout`` in ``model`` (LoRA's included); returns how many."""
    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is nn.Dropout:
                setattr(module, name, CpuDropout(child.p, child.inplace))
                replaced += 1
    return replaced
