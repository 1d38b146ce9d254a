"""The CPU dropout: nn.Dropout's semantics, torch's seed, and every dropout of a model swapped."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from appliance.training.dropout import CpuDropout, cpu_dropout, scaled_mask, use_cpu_dropout


def test_drops_about_p_and_keeps_the_expectation() -> None:
    torch.manual_seed(0)
    x = torch.ones(400, 1000)
    for p in (0.05, 0.1, 0.5):
        y = cpu_dropout(x, p)
        dropped = (y == 0).float().mean().item()
        # binomial standard deviation at n = 400k is below 0.0008: four of them
        assert abs(dropped - p) < 0.0032, (p, dropped)
        assert abs(y.mean().item() - 1.0) < 0.01
        kept = y[y != 0]
        assert torch.allclose(kept, torch.full_like(kept, 65536 / (65536 - round(p * 65536))))


def test_masks_are_fresh_per_call_and_follow_torchs_seed() -> None:
    torch.manual_seed(7)
    a, b = (
        scaled_mask(torch.Size([64, 64]), 0.3, torch.float32),
        scaled_mask(torch.Size([64, 64]), 0.3, torch.float32),
    )
    assert not torch.equal(a, b)
    torch.manual_seed(7)
    assert torch.equal(scaled_mask(torch.Size([64, 64]), 0.3, torch.float32), a)
    # a resumed job restores torch's RNG state: the next mask is the one it would have drawn
    state = torch.get_rng_state()
    c = scaled_mask(torch.Size([5, 3]), 0.5, torch.float32)
    torch.set_rng_state(state)
    assert torch.equal(scaled_mask(torch.Size([5, 3]), 0.5, torch.float32), c)


def test_gradient_is_the_same_mask() -> None:
    torch.manual_seed(1)
    x = torch.randn(8, 33, dtype=torch.float64, requires_grad=True)
    y = cpu_dropout(x, 0.25)
    y.backward(torch.ones_like(y))
    assert x.grad is not None
    mask = y.detach() / x.detach()
    assert torch.allclose(x.grad, mask)
    assert y.dtype == torch.float64 and y.shape == x.shape


def test_module_matches_nn_dropout_outside_cpu_training() -> None:
    layer = CpuDropout(0.4)
    x = torch.randn(3, 5)
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    assert not torch.equal(layer(x), x)
    assert torch.equal(CpuDropout(0.0).train()(x), x)
    assert cpu_dropout(torch.empty(0, 4), 0.5).shape == (0, 4)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_refuses_a_probability_outside_zero_to_one(p: float) -> None:
    with pytest.raises(ValueError, match="dropout probability"):
        cpu_dropout(torch.ones(2), p)


def test_every_plain_dropout_is_swapped_and_keeps_its_probability() -> None:
    model = nn.Sequential(
        nn.Linear(4, 4),
        nn.Dropout(0.1),
        nn.ModuleDict({"default": nn.Dropout(0.2)}),  # how PEFT holds a LoRA dropout
        nn.Sequential(nn.Dropout(0.3), nn.AlphaDropout(0.5)),
    )
    assert use_cpu_dropout(model) == 3
    swapped = [m for m in model.modules() if isinstance(m, CpuDropout)]
    assert sorted(m.p for m in swapped) == [0.1, 0.2, 0.3]
    assert type(model[3][1]) is nn.AlphaDropout  # a different operation: left alone
    assert use_cpu_dropout(model) == 0
