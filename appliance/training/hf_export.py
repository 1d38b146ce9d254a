"""A trained causal LM as the directories serving stacks load, built in memory.

Two layouts, each a mapping of file name to bytes that :mod:`.export` puts under one directory
of the signed bundle:

- the **adapter** alone, as PEFT writes it (``adapter_config.json``,
  ``adapter_model.safetensors``), loaded with ``peft.PeftModel.from_pretrained(base, dir)`` or
  served as a LoRA module (vLLM ``--lora-modules``, TGI ``LORA_ADAPTERS``) over the same base;
- the **merged** model, the adapter folded into the base (``merge_and_unload``), as
  ``save_pretrained`` writes a Hugging Face directory (``config.json``, ``model.safetensors``,
  ``generation_config.json``), loaded with ``AutoModelForCausalLM.from_pretrained(dir)``, vLLM
  or TGI directly. A full fine-tune is written the same way (there is nothing to merge).

Both carry the base's tokenizer files, copied byte for byte from the registered (hash-checked)
base directory. Nothing here writes a file: the weights exist as plaintext only in this process's
memory, as :mod:`.modeling` keeps them (DESIGN.md: no checkpoint on disk unencrypted).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from appliance.training.modeling import build_model, load_weights, spec_from_bytes

#: Tokenizer files a Hugging Face directory may hold (whichever of them the base has).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
)
ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
CONFIG, MODEL_WEIGHTS, GENERATION_CONFIG = (
    "config.json",
    "model.safetensors",
    "generation_config.json",
)
#: The files each layout cannot do without (the bundle's verification checks them).
REQUIRED = {
    "adapter": (ADAPTER_CONFIG, ADAPTER_WEIGHTS),
    "merged": (CONFIG, MODEL_WEIGHTS),
}
#: safetensors metadata transformers and PEFT expect of PyTorch weights.
_PT = {"format": "pt"}


def tokenizer_files(base_path: Path) -> dict[str, bytes]:
    return {
        name: (base_path / name).read_bytes()
        for name in TOKENIZER_FILES
        if (base_path / name).is_file()
    }


def adapter_files(weights: bytes, base_path: Path, base_name: str) -> dict[str, bytes]:
    """The LoRA adapter as a PEFT directory; ``base_model_name_or_path`` names the registered
    base (the serving side points it at its own copy of that base)."""
    spec = spec_from_bytes(weights)
    if spec.lora is None or spec.model_kind != "causal":
        raise ValueError("an adapter export needs a causal LM trained with LoRA")
    # the adapter configuration the model was trained with, as PEFT built it (and the weights
    # checked against it: they must load into that model)
    model: Any = build_model(spec, base_path)
    load_weights(model, spec, weights)
    config = model.peft_config["default"]
    config.inference_mode = True
    config.base_model_name_or_path = base_name
    settings = {k: sorted(v) if isinstance(v, set) else v for k, v in config.to_dict().items()}
    del model
    return {
        ADAPTER_CONFIG: _json(settings),
        # the adapter tensors exactly as trained, under PEFT's names (get_peft_model_state_dict)
        ADAPTER_WEIGHTS: save_safetensors(_contiguous(load_safetensors(weights)), metadata=_PT),
        **tokenizer_files(base_path),
    }


def merged_files(weights: bytes, base_path: Path) -> dict[str, bytes]:
    """The whole model, adapters merged into the base weights, as a Hugging Face directory."""
    from transformers.core_model_loading import revert_weight_conversion
    from transformers.modeling_utils import remove_tied_weights_from_state_dict

    spec = spec_from_bytes(weights)
    if spec.model_kind != "causal":
        raise ValueError("a merged export needs a causal LM")
    model: Any = build_model(spec, base_path)
    load_weights(model, spec, weights)
    if spec.lora is not None:
        model = model.merge_and_unload()
    model.eval()
    # what save_pretrained does before writing, without the writing: tied weights once (the
    # loader re-ties them), names as the checkpoint format has them, PyTorch metadata
    state = remove_tied_weights_from_state_dict(model.state_dict(), model)
    state = revert_weight_conversion(model, state)
    if _float_weights(model) and hasattr(model.config, "quantization_config"):
        del model.config.quantization_config  # float tensors: no loader may think otherwise
    model.config.architectures = [type(model).__name__]
    model.config.dtype = str(model.dtype).split(".")[1]
    files = {
        CONFIG: model.config.to_json_string(use_diff=True).encode(),
        MODEL_WEIGHTS: save_safetensors(_contiguous(state), metadata=_PT),
        **tokenizer_files(base_path),
    }
    if model.can_generate():
        files[GENERATION_CONFIG] = model.generation_config.to_json_string(use_diff=True).encode()
    del model
    return files


def _float_weights(model: Any) -> bool:
    """Whether the weights are plain floats: not quantized, or GGUF (always dequantized when
    transformers loads it, yet still named in the config)."""
    quantizer = getattr(model, "hf_quantizer", None)
    method = getattr(getattr(quantizer, "quantization_config", None), "quant_method", None)
    return quantizer is None or str(getattr(method, "value", method)) == "gguf"


def _contiguous(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().to("cpu").contiguous() for name, tensor in state.items()}


def _json(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
