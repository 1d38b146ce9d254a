"""Models: a pooled-encoder classifier, causal LMs, LoRA, and weights as safetensors bytes.

Every load passes ``local_files_only=True`` and a directory that the base-model registry has
checked, so nothing can be fetched from a hub (DESIGN.md invariant 1). Trained weights leave this
module only as bytes (safetensors) for the vault: nothing here writes a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

MODEL_FORMAT = "appliance-model/1"

#: LoRA targets per architecture when a job names none: every attention and MLP projection,
#: which adapts far better than the query/value-only default of the LoRA paper.
LORA_TARGETS: dict[str, list[str]] = {
    "bert": [
        "query",
        "key",
        "value",
        "attention.output.dense",
        "intermediate.dense",
        "output.dense",
    ],
    "roberta": [
        "query",
        "key",
        "value",
        "attention.output.dense",
        "intermediate.dense",
        "output.dense",
    ],
    "xlm-roberta": [
        "query",
        "key",
        "value",
        "attention.output.dense",
        "intermediate.dense",
        "output.dense",
    ],
    "distilbert": ["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"],
    "mpnet": ["q", "k", "v", "o", "intermediate.dense", "output.dense"],
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}


def lora_targets(model_type: str) -> list[str] | str:
    """Module names to adapt for ``model_type``: ours, else PEFT's table, else every linear."""
    if model_type in LORA_TARGETS:
        return LORA_TARGETS[model_type]
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as peft_map

    return list(peft_map.get(model_type, [])) or "all-linear"


def load_tokenizer(path: Path, causal: bool) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"tokenizer in {path} has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    if causal:
        tokenizer.padding_side = "right"  # training; generation pads left itself
    return tokenizer


def detect_pooling(path: Path, model_type: str, is_decoder: bool) -> str:
    """The pooling a base was trained with: a sentence-transformers directory says so in
    ``1_Pooling/config.json`` (mean pooling for all-MiniLM); a decoder reads its last token."""
    pooling_config = path / "1_Pooling" / "config.json"
    if pooling_config.is_file():
        settings = json.loads(pooling_config.read_text("utf-8"))
        if settings.get("pooling_mode_cls_token"):
            return "cls"
        if settings.get("pooling_mode_mean_tokens"):
            return "mean"
    return "last" if is_decoder else "mean"


class SequenceClassifier(nn.Module):
    """An encoder, a sentence pooling and a linear head over the labels."""

    def __init__(self, encoder: nn.Module, num_labels: int, pooling: str, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        config: Any = encoder.config
        self.config = config  # read by the trainer and by PEFT
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(int(config.hidden_size), num_labels)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return pool(hidden, attention_mask, self.pooling)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
    ) -> SequenceClassifierOutput:
        pooled = self.embed(input_ids, attention_mask)
        logits = self.head(self.dropout(pooled).to(self.head.weight.dtype))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float(), labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "cls":
        return hidden[:, 0]
    if mode == "last":
        last = attention_mask.sum(dim=1) - 1
        return hidden[torch.arange(hidden.size(0), device=hidden.device), last]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a trained model around its base (saved in the weights)."""

    task: str
    method: str
    model_kind: str
    base_model: str
    base_sha256: str
    labels: list[str]
    pooling: str | None
    lora: dict[str, Any] | None
    tags: list[str]
    max_length: int

    def to_json(self) -> str:
        return json.dumps({"format": MODEL_FORMAT, **self.__dict__}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelSpec:
        data = json.loads(text)
        if data.pop("format", None) != MODEL_FORMAT:
            raise ValueError("not an appliance model")
        return cls(**data)


def build_model(
    spec: ModelSpec,
    base_path: Path,
    dtype: torch.dtype | None = None,
    quantization: str = "none",
    gradient_checkpointing: bool = False,
) -> nn.Module:
    """The untrained model for ``spec``: base weights, a fresh head, LoRA adapters if any.

    ``quantization="4bit"`` loads a causal base in 4-bit NF4 through bitsandbytes (QLoRA; CUDA
    only, the optional ``gpu`` extra, imported only here) with ``dtype`` as compute dtype."""
    from transformers import AutoModel, AutoModelForCausalLM

    kwargs: dict[str, Any] = {"local_files_only": True}
    if dtype is not None:
        kwargs["dtype"] = dtype
    model: nn.Module
    if spec.model_kind == "causal":
        if quantization == "4bit":
            bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
            kwargs.update(four_bit_options(dtype or (torch.bfloat16 if bf16 else torch.float16)))
        model = AutoModelForCausalLM.from_pretrained(str(base_path), **kwargs)
        if quantization == "4bit":
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(
                model,
                use_gradient_checkpointing=gradient_checkpointing,
                gradient_checkpointing_kwargs={"use_reentrant": False},
            )
    else:
        try:  # BERT-like encoders carry a pooler we never use: skip its weights and compute
            encoder = AutoModel.from_pretrained(str(base_path), add_pooling_layer=False, **kwargs)
        except TypeError:
            encoder = AutoModel.from_pretrained(str(base_path), **kwargs)
        model = SequenceClassifier(encoder, head_size(spec), spec.pooling or "mean", dropout=0.1)
    if spec.lora is not None:
        model = apply_lora(model, spec)
    return model


def head_size(spec: ModelSpec) -> int:
    """Outputs of an encoder model's head: one per label, or the task's own (a reward model's
    single score)."""
    from appliance.training.tasks import get_task

    return get_task(spec.task).head_size or len(spec.labels)


def four_bit_options(compute_dtype: torch.dtype) -> dict[str, Any]:
    """``from_pretrained`` arguments for a 4-bit NF4 base with double quantization (QLoRA,
    Dettmers et al., 2023) on the current CUDA device."""
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        from appliance.errors import InvalidInput

        raise InvalidInput(
            "4-bit quantization needs bitsandbytes: install the appliance's 'gpu' extra"
        )
    from transformers import BitsAndBytesConfig

    config = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )
    return {
        "quantization_config": config,
        "dtype": compute_dtype,
        "device_map": {"": torch.cuda.current_device()},
    }


def apply_lora(model: nn.Module, spec: ModelSpec) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    assert spec.lora is not None
    config = LoraConfig(
        r=spec.lora["r"],
        lora_alpha=spec.lora["alpha"],
        lora_dropout=spec.lora["dropout"],
        target_modules=spec.lora["target_modules"],
        modules_to_save=["head"] if spec.model_kind == "encoder" else None,
        task_type="CAUSAL_LM" if spec.model_kind == "causal" else None,
    )
    return get_peft_model(model, config)  # type: ignore[arg-type]


def trainable_state(model: nn.Module, spec: ModelSpec) -> dict[str, torch.Tensor]:
    """What a trained model adds to its base: adapters and head (LoRA), or all weights (full)."""
    if spec.lora is not None:
        from peft import get_peft_model_state_dict

        state = get_peft_model_state_dict(model)  # type: ignore[arg-type]
    else:
        state = model.state_dict()
    # contiguous, de-duplicated (tied weights share storage; safetensors refuses shared tensors)
    out: dict[str, torch.Tensor] = {}
    seen: dict[int, str] = {}
    for name, tensor in state.items():
        key = tensor.data_ptr()
        if key in seen and tensor.numel() > 0:
            continue
        seen[key] = name
        out[name] = tensor.detach().to("cpu").contiguous().clone()
    return out


def weights_to_bytes(model: nn.Module, spec: ModelSpec) -> bytes:
    return save_safetensors(trainable_state(model, spec), metadata={"appliance": spec.to_json()})


def spec_from_bytes(data: bytes) -> ModelSpec:
    """The spec from a safetensors header (8-byte little-endian length, then JSON)."""
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    return ModelSpec.from_json(header["__metadata__"]["appliance"])


def load_weights(model: nn.Module, spec: ModelSpec, data: bytes) -> None:
    """Put trained weights (from :func:`weights_to_bytes`) into a model built for ``spec``."""
    tensors = load_safetensors(data)
    if spec.lora is not None:
        from peft import set_peft_model_state_dict

        result = set_peft_model_state_dict(model, tensors)  # type: ignore[arg-type]
        unexpected = list(getattr(result, "unexpected_keys", []) or [])
        if unexpected:
            raise ValueError(f"weights do not fit the model: unexpected {unexpected[:3]}")
        return
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    # tied weights were saved once; anything else missing means the weights do not fit
    tied = {n for n in missing if n.endswith("lm_head.weight")}
    if set(missing) - tied or unexpected:
        raise ValueError(
            f"weights do not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
