"""Supervised fine-tuning of a causal LM: prompt -> response, loss on the response tokens only.

The prompt is rendered with the tokenizer's chat template when it has one (so the model sees the
format it was tuned on), else as ``prompt + "\\n"``. Prompt tokens get label -100 and so add
nothing to the loss; the response ends with the EOS token so the model learns to stop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from appliance.errors import InvalidInput
from appliance.training.tasks import Task, register_task

if TYPE_CHECKING:
    from appliance.training.config import JobConfig

IGNORE_INDEX = -100
#: Tokens of response always kept when a long prompt is cut, so every example teaches something.
MIN_RESPONSE_TOKENS = 16


@register_task("sft")
class SftTask(Task):
    description = "prompt -> response for causal LMs; eval loss and perplexity"
    model_kind = "causal"
    selection_metric = "loss"
    greater_is_better = False
    needs_predictions = False

    def to_examples(
        self, records: Sequence[dict[str, Any]], config: JobConfig, tag: str | None
    ) -> list[dict[str, Any]]:
        prompt_field, response_field = config.prompt_field, config.response_field
        examples, bad = [], []
        for index, record in enumerate(records):
            prompt, response = record.get(prompt_field), record.get(response_field)
            if not isinstance(prompt, str) or not isinstance(response, str) or not response.strip():
                bad.append(index)
                continue
            examples.append(
                {"prompt": f"[{tag}] {prompt}" if tag else prompt, "response": response}
            )
        if bad:
            raise InvalidInput(
                f"{len(bad)} records lack '{prompt_field}'/'{response_field}' strings "
                f"(first at record {bad[0]}); set prompt_field/response_field to the right names"
            )
        return examples

    def token_lengths(self, examples: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
        return [len(p) + len(r) for p, r in (_pieces(tokenizer, e) for e in examples)]

    def encode(
        self,
        examples: Sequence[dict[str, Any]],
        tokenizer: Any,
        max_length: int,
        labels: list[str],
    ) -> list[dict[str, Any]]:
        features = []
        for example in examples:
            prompt_ids, response_ids = _pieces(tokenizer, example)
            keep_prompt = max(0, max_length - min(len(response_ids), MIN_RESPONSE_TOKENS))
            if len(prompt_ids) > keep_prompt:
                prompt_ids = prompt_ids[len(prompt_ids) - keep_prompt :]  # keep the prompt's end
            ids = (prompt_ids + response_ids)[:max_length]
            target = ([IGNORE_INDEX] * len(prompt_ids) + response_ids)[:max_length]
            features.append({"input_ids": ids, "labels": target})
        return features

    def metrics(
        self, loss: float, predictions: Any, label_ids: Any, labels: list[str]
    ) -> dict[str, Any]:
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


def render_prompt(tokenizer: Any, prompt: str) -> str:
    """The prompt as the model sees it, ending where the response begins."""
    if getattr(tokenizer, "chat_template", None):
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return str(rendered)
    return prompt + "\n"


def _pieces(tokenizer: Any, example: dict[str, Any]) -> tuple[list[int], list[int]]:
    text = render_prompt(tokenizer, example["prompt"])
    templated = bool(getattr(tokenizer, "chat_template", None))
    # A chat template already holds its special tokens (BOS included); plain text gets them here.
    prompt_ids = list(tokenizer(text, add_special_tokens=not templated)["input_ids"])
    response_ids = list(tokenizer(example["response"], add_special_tokens=False)["input_ids"])
    if tokenizer.eos_token_id is not None:
        response_ids.append(int(tokenizer.eos_token_id))
    return prompt_ids, response_ids
