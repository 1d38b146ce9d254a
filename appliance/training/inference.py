"""A trained model rebuilt in memory from its weights bytes, for batched predict and generate.

The caller (:mod:`.models`) obtains the bytes through the gate; this module only rebuilds the
model around its registered base directory (``local_files_only``) and runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from appliance.training.modeling import (
    ModelSpec,
    build_model,
    load_tokenizer,
    load_weights,
    spec_from_bytes,
)


@dataclass
class Predictor:
    spec: ModelSpec
    model: nn.Module
    tokenizer: Any
    device: str

    @torch.inference_mode()
    def classify(self, texts: list[str], batch_size: int = 64) -> list[dict[str, Any]]:
        """One ``{"label", "score"}`` per text, in order; batches sorted by length for speed."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        results: list[dict[str, Any]] = [{} for _ in texts]
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in chunk],
                truncation=True,
                max_length=self.spec.max_length,
                padding=True,
                return_tensors="pt",
            ).to(self.device)
            logits = self.model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits
            probs = torch.softmax(logits.float(), dim=-1)
            score, index = probs.max(dim=-1)
            for i, s, k in zip(chunk, score.tolist(), index.tolist(), strict=True):
                results[i] = {"label": self.spec.labels[k], "score": round(float(s), 6)}
        return results

    @torch.inference_mode()
    def score(
        self, items: list[tuple[list[dict[str, str]], str]], batch_size: int = 64
    ) -> list[float]:
        """A reward model's score of each (prompt turns, response), in order: the sequence
        the model was trained on (:func:`~appliance.training.tasks.reward.encode_answer`)."""
        from appliance.training.tasks.reward import encode_answer, pad_rows

        rows = [
            encode_answer(self.tokenizer, turns, response, self.spec.max_length)
            for turns, response in items
        ]
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        scores = [0.0] * len(rows)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask = pad_rows([rows[i] for i in chunk], int(self.tokenizer.pad_token_id))
            logits = self.model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits
            for i, value in zip(chunk, logits[:, 0].float().tolist(), strict=True):
                scores[i] = round(float(value), 6)
        return scores

    def generate(self, prompt: str, max_new_tokens: int = 64) -> str:
        """A greedy answer to one prompt (a user turn), as :func:`generate_batch` gives it."""
        from appliance.training.generation import GenerationOptions, generate_batch

        [answer] = generate_batch(
            self.model, self.tokenizer, [prompt], GenerationOptions(max_new_tokens=max_new_tokens)
        )
        return answer.text


def load_predictor(weights: bytes, base_path: Path, device: str | None = None) -> Predictor:
    """Rebuild the model the weights were trained as; LoRA adapters are merged for speed."""
    spec = spec_from_bytes(weights)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    # a causal LM on a GPU in bf16 (half the memory; what it trained in); else as stored
    bf16 = device == "cuda" and spec.model_kind == "causal" and torch.cuda.is_bf16_supported()
    model = build_model(spec, base_path, dtype=torch.bfloat16 if bf16 else None)
    load_weights(model, spec, weights)
    if spec.lora is not None:
        model = model.merge_and_unload()  # type: ignore[operator]
    model.to(device).eval()
    tokenizer = load_tokenizer(base_path, causal=spec.model_kind == "causal")
    return Predictor(spec, model, tokenizer, device)
