"""SFT on CUDA: bf16 LoRA, and 4-bit QLoRA through bitsandbytes (the optional ``gpu`` extra).

The choice between them is a pure function tested on CPU (test_sft_recipe.py); these run the real
thing and skip without a CUDA device (or without bitsandbytes, for 4-bit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.training.config import JobConfig
from appliance.training.engine import run_training
from appliance.training.inputs import BaseModel, DatasetInput
from appliance.training.trainer import TrainHooks
from tests.training.tiny_models import make_tiny_llama

QA = [("what is the weather today", "sunny today"), ("my card was stolen", "block the card")]


def _cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> BaseModel:
    path = make_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")
    return BaseModel("tiny-llama", path, "4" * 64)


def _run(base: BaseModel, hooks: TrainHooks | None = None, **config: Any) -> Any:
    records = [{"prompt": f"{QA[i % 2][0]} {i % 10}", "response": QA[i % 2][1]}
               for i in range(40)]
    job = JobConfig(task="sft", dataset_ids=["ds_a"], epochs=3, learning_rate=1e-2,
                    batch_size=8, eval_generations=4, memorization_records=2, **config)
    return run_training(job, [DatasetInput("ds_a", "a", "0" * 64, records)], base, hooks)


@pytest.mark.gpu
def test_lora_on_cuda_trains_in_bf16_without_quantizing_a_small_base(
    tiny_llama: BaseModel,
) -> None:
    _cuda()
    import torch

    outcome = _run(tiny_llama)
    assert outcome.status == "succeeded"
    assert outcome.hardware["device"] == "cuda" and outcome.recipe["device"] == "cuda"
    expected = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    assert outcome.recipe["precision"] == expected and outcome.recipe["quantization"] == "none"
    assert outcome.recipe["time_budget_s"] is None  # no CPU budget on a GPU
    assert outcome.metrics["generation"]["n"] == 4


@pytest.mark.gpu
def test_qlora_4bit_trains_adapters_over_a_quantized_base(tiny_llama: BaseModel) -> None:
    _cuda()
    pytest.importorskip("bitsandbytes")
    from appliance.training.modeling import build_model, spec_from_bytes

    logs: list[str] = []
    outcome = _run(tiny_llama, TrainHooks(log=logs.append), quantization="4bit")
    assert outcome.status == "succeeded"
    assert outcome.recipe["quantization"] == "4bit" and outcome.recipe["method"] == "lora"
    assert any(line.startswith("recipe: quantization 4bit (QLoRA, NF4)") for line in logs)
    generation = outcome.metrics["generation"]
    assert generation["n"] == 4 and generation["base"]["n"] == 4  # adapters off: the base
    # the adapters load over the float base for serving, like any LoRA model
    spec = spec_from_bytes(outcome.weights)
    assert spec.lora is not None
    model = build_model(spec, Path(tiny_llama.path), quantization="4bit")
    assert any("4bit" in type(m).__name__ for m in model.modules())


def test_without_bitsandbytes_4bit_says_what_to_install() -> None:
    """Where the ``gpu`` extra is not installed (this CPU suite's machines), the 4-bit path says
    so at once instead of failing inside transformers."""
    import importlib.util

    import torch

    from appliance.errors import InvalidInput
    from appliance.training.modeling import four_bit_options

    if importlib.util.find_spec("bitsandbytes") is not None:
        pytest.skip("bitsandbytes is installed here")
    with pytest.raises(InvalidInput, match="install the appliance's 'gpu' extra"):
        four_bit_options(torch.bfloat16)
