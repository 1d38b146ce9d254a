"""The CPU dropout: nn.Dropout's semantics, torch's seed, and every dropout of a model swapped."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from appliance.training.dropout import (
    ATTENTION,
    CpuDropout,
    cpu_dropout,
    cpu_training_attention,
    scaled_mask,
    use_cpu_dropout,
)


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


def _qkv(seed: int, batch: int = 3, length: int = 6) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(batch, 2, length, 4, generator=generator, requires_grad=True) for _ in range(3)
    )


class _Attention(nn.Module):
    is_causal = False


def test_attention_is_sdpa_arithmetic_with_the_cpu_mask() -> None:
    q, k, v = _qkv(0)
    mask = torch.ones(3, 1, 6, 6, dtype=torch.bool)
    mask[0, :, :, 4:] = False  # the first example is padded after 4 tokens
    module = _Attention().train()
    torch.manual_seed(3)
    out, weights = cpu_training_attention(module, q, k, v, mask, dropout=0.2, scaling=0.5)
    assert weights is None and out.shape == (3, 6, 2, 4)
    torch.manual_seed(3)
    scores = (q @ k.transpose(-1, -2) * 0.5).masked_fill(~mask, torch.finfo(q.dtype).min)
    drop = scaled_mask(torch.Size([3, 2, 6, 6]), 0.2, q.dtype)
    expected = ((scores.softmax(-1) * drop) @ v).transpose(1, 2)
    assert torch.allclose(out, expected, atol=1e-6)
    # the padded keys get no weight, and the gradient flows through the same mask
    out.sum().backward()
    assert q.grad is not None and v.grad is not None
    assert torch.all(v.grad[0, :, 4:] == 0)


def test_attention_outside_cpu_training_is_the_stock_function() -> None:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    q, k, v = _qkv(1)
    additive = torch.zeros(3, 1, 6, 6)
    additive[1, :, :, 5:] = torch.finfo(torch.float32).min
    causal = _Attention().train()
    causal.is_causal = True
    cases = (  # no dropout (evaluation passes 0.0), and a causal mask left to SDPA's flag
        (_Attention().eval(), additive, 0.0),
        (_Attention().train(), additive, 0.0),
        (causal, None, 0.3),
    )
    for module, mask, dropout in cases:
        torch.manual_seed(5)
        ours, _ = cpu_training_attention(module, q, k, v, mask, dropout=dropout)
        torch.manual_seed(5)
        stock, _ = sdpa_attention_forward(module, q, k, v, mask, dropout=dropout)
        assert torch.equal(ours, stock)


def test_a_transformers_model_trains_through_it() -> None:
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=24,
        attention_probs_dropout_prob=0.5,
        hidden_dropout_prob=0.5,
    )
    torch.manual_seed(0)
    model = BertModel(config, add_pooling_layer=False)
    reference = BertModel(config, add_pooling_layer=False)
    reference.load_state_dict(model.state_dict())
    assert use_cpu_dropout(model) == 1 + 2 * 3  # the embeddings, then 3 in each layer
    assert model.config._attn_implementation == ATTENTION
    ids = torch.randint(0, 50, (4, 9))
    padding = torch.ones(4, 9, dtype=torch.long)
    padding[0, 6:] = 0
    model.eval(), reference.eval()
    same = model(input_ids=ids, attention_mask=padding).last_hidden_state
    assert torch.allclose(same, reference(input_ids=ids, attention_mask=padding).last_hidden_state)
    model.train()
    first = model(input_ids=ids, attention_mask=padding).last_hidden_state
    second = model(input_ids=ids, attention_mask=padding).last_hidden_state
    assert not torch.allclose(first, second)
    first.pow(2).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
