"""Text generation with a causal LM: chats rendered by the tokenizer's template, batched.

One code path for every caller that generates: the evaluation after SFT, the memorization scan,
``appliance model generate`` and the API's streaming chat. A *conversation* is a list of
``{"role", "content"}`` turns ending with the user's; the model answers as the assistant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from appliance.training.tasks.sft import end_of_turn_ids, render, templated

Conversation = list[dict[str, str]]


@dataclass(frozen=True)
class GenerationOptions:
    """Decoding settings. ``temperature`` 0 is greedy (deterministic); above 0 samples with
    nucleus ``top_p``, seeded by ``seed`` when given."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None

    def generate_kwargs(self) -> dict[str, Any]:
        if self.temperature <= 0:
            return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        return {
            "do_sample": True,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": None,
        }


@dataclass(frozen=True)
class Generated:
    text: str
    prompt_tokens: int
    output_tokens: int


def as_conversation(prompt: str | Conversation) -> Conversation:
    """A plain prompt is one user turn."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return list(prompt)


def render_conversation(tokenizer: Any, conversation: Conversation) -> str:
    """The conversation as the model sees it, ending where the assistant's answer begins.

    With a chat template, the template's own text; without one, the turns' contents joined by
    newlines (a plain LM continues the text). The same rendering SFT trains on
    (:func:`appliance.training.tasks.sft.render`)."""
    return render(tokenizer, conversation, generation_prompt=True)


def prompt_ids(tokenizer: Any, conversation: Conversation) -> list[int]:
    """Token ids of the rendered conversation (a template holds its own special tokens)."""
    text = render_conversation(tokenizer, conversation)
    return list(tokenizer(text, add_special_tokens=not templated(tokenizer))["input_ids"])


@torch.inference_mode()
def generate_batch(
    model: Any,
    tokenizer: Any,
    conversations: Sequence[str | Conversation],
    options: GenerationOptions | None = None,
    batch_size: int = 16,
    max_prompt_tokens: int | None = None,
) -> list[Generated]:
    """Answer each conversation, in input order; batches of similar length, padded on the left.

    ``max_prompt_tokens`` keeps the end of a longer prompt (where the question is)."""
    encoded = [prompt_ids(tokenizer, as_conversation(c)) for c in conversations]
    if max_prompt_tokens is not None:
        encoded = [ids[-max_prompt_tokens:] for ids in encoded]
    answers = generate_ids(model, tokenizer, encoded, options, batch_size)
    return [
        Generated(str(tokenizer.decode(new, skip_special_tokens=True)).strip(), len(ids), len(new))
        for ids, new in zip(encoded, answers, strict=True)
    ]


@torch.inference_mode()
def generate_ids(
    model: Any,
    tokenizer: Any,
    encoded: Sequence[Sequence[int]],
    options: GenerationOptions | None = None,
    batch_size: int = 16,
) -> list[list[int]]:
    """The new tokens after each prompt (token ids), up to and including the first stop token,
    in input order; the model is in eval mode meanwhile (no dropout), then as it was."""
    options = options or GenerationOptions()
    device = next(model.parameters()).device
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    results: list[list[int]] = [[] for _ in encoded]
    pad = int(tokenizer.pad_token_id)
    # EOS and the template's end-of-turn token (they differ for Llama 3, Gemma, ...)
    stops = end_of_turn_ids(tokenizer)
    if options.seed is not None:
        torch.manual_seed(options.seed)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                n = len(encoded[i])
                ids[row, width - n :] = torch.tensor(list(encoded[i]), dtype=torch.long)
                mask[row, width - n :] = 1
            output = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=options.max_new_tokens,
                pad_token_id=pad,
                eos_token_id=stops or None,
                **options.generate_kwargs(),
            )
            for row, i in enumerate(chunk):
                results[i] = _until_stop(output[row, width:].tolist(), stops, pad)
    finally:
        model.train(was_training)
    return results


def _until_stop(new: list[int], stops: list[int], pad: int) -> list[int]:
    """The generated tokens up to and including the first stop token; a finished row's
    padding after it is no output."""
    for index, token in enumerate(new):
        if token in stops:
            return new[: index + 1]
    while new and new[-1] == pad:
        new = new[:-1]
    return new
