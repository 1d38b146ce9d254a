"""Held-out generation after SFT: the tuned model and its base answer the same test prompts.

Up to ``config.eval_generations`` examples of the test split are answered by greedy, batched
generation (:func:`appliance.training.generation.generate_batch`): every turn but the last is the
prompt, the last answer the reference. The base model answers the same prompts in the same run
(with LoRA, by switching the adapters off; after full fine-tuning, by loading the base again), so
the model card shows what fine-tuning bought on exactly these examples. Scores are
:mod:`appliance.training.textmetrics`'s.

The card keeps at most :data:`MAX_EXAMPLES` side-by-side examples: prompt and reference are the
dataset's own (redacted) text; the answers are the models'. A canary secret is never among them:
should a model utter one, it is replaced by :data:`CANARY_MASK` before anything is kept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from appliance.training.generation import Generated, GenerationOptions, generate_batch
from appliance.training.tasks.sft import prompt_and_reference
from appliance.training.textmetrics import generation_scores

MAX_EXAMPLES = 5
CANARY_MASK = "<CANARY>"
BATCH_SIZE = 16

Progress = Callable[[int, int, float | None], None]


def generation_metrics(
    model: Any,
    tokenizer: Any,
    examples: Sequence[dict[str, Any]],
    *,
    limit: int,
    max_new_tokens: int,
    compare_base: bool,
    load_base: Callable[[], Any] | None = None,
    secrets: Sequence[str] = (),
    progress: Progress = lambda done, total, eta: None,
    clock: Callable[[], float] = time.monotonic,
    judge: Callable[[list[tuple[list[dict[str, str]], str]]], list[float]] | None = None,
) -> dict[str, Any] | None:
    """``{"n", "exact_match", "rouge_l", "chrf", "base": {...} | None, "examples": [...]}``, or
    None when there is nothing to score. ``load_base`` gives the base model when ``model`` has
    no adapters to switch off; ``secrets`` are masked in every kept text. With a ``judge`` (a
    reward model's scorer) and the base compared, ``"judged"`` holds the tuned model's win rate
    against the base on these prompts (:func:`~appliance.training.metrics.win_rate`)."""
    chosen = list(examples)[: max(0, limit)]
    if not chosen:
        return None
    prompts, references = zip(*(prompt_and_reference(e) for e in chosen), strict=True)
    options = GenerationOptions(max_new_tokens=max_new_tokens)
    total = len(chosen) * (2 if compare_base else 1)
    started = clock()

    def answer(which: Any, offset: int) -> list[str]:
        out: list[Generated] = []
        for start in range(0, len(prompts), BATCH_SIZE):
            batch = list(prompts[start : start + BATCH_SIZE])
            out += generate_batch(which, tokenizer, batch, options, batch_size=BATCH_SIZE)
            done = offset + len(out)
            rate = (clock() - started) / done
            progress(done, total, round(rate * (total - done), 1))
        return [g.text for g in out]

    progress(0, total, None)
    answers = answer(model, 0)
    metrics: dict[str, Any] = generation_scores(answers, list(references))
    base_answers: list[str] | None = None
    if compare_base:
        with _base_of(model, load_base) as base:
            base_answers = answer(base, len(chosen))
        metrics["base"] = generation_scores(base_answers, list(references))
        if judge is not None:
            from appliance.training.metrics import win_rate

            scores = judge([(list(p), a) for p, a in zip([*prompts, *prompts],
                                                          [*answers, *base_answers], strict=True)])
            metrics["judged"] = win_rate(scores[: len(answers)], scores[len(answers):])
    else:
        metrics["base"] = None
    metrics["examples"] = [
        {
            "prompt": _mask(_prompt_text(prompts[i]), secrets),
            "reference": _mask(references[i], secrets),
            "model": _mask(answers[i], secrets),
            "base": _mask(base_answers[i], secrets) if base_answers is not None else None,
        }
        for i in range(min(MAX_EXAMPLES, len(chosen)))
    ]
    return metrics


def summary_line(metrics: dict[str, Any]) -> str:
    """``generation on 77 held-out: exact match 0.714 (base 0.000), ROUGE-L ..., chrF ...``"""
    base = metrics.get("base") or {}
    parts = []
    for key, name in (("exact_match", "exact match"), ("rouge_l", "ROUGE-L"), ("chrf", "chrF")):
        text = f"{name} {metrics[key]:.3f}"
        if key in base:
            text += f" (base {base[key]:.3f})"
        parts.append(text)
    return f"generation on {metrics['n']} held-out: " + ", ".join(parts)


@contextmanager
def _base_of(model: Any, load_base: Callable[[], Any] | None) -> Iterator[Any]:
    """The untuned base: PEFT's adapters switched off for the block, else a fresh load."""
    disable = getattr(model, "disable_adapter", None)
    if callable(disable) and hasattr(model, "peft_config"):
        with disable():
            yield model
        return
    if load_base is None:
        raise ValueError("a fully fine-tuned model needs load_base to compare with its base")
    base = load_base()
    with nullcontext(base):
        yield base
    del base


def _prompt_text(prompt: Sequence[dict[str, str]]) -> str:
    """One user turn as its text; a longer conversation as ``role: text`` lines."""
    if len(prompt) == 1:
        return prompt[0]["content"]
    return "\n".join(f"{turn['role']}: {turn['content']}" for turn in prompt)


def _mask(text: str, secrets: Sequence[str]) -> str:
    """Each secret replaced, however it is spaced (canaries spell theirs one digit a word)."""
    for secret in secrets:
        if secret.strip():
            spaced = r"\s*".join(re.escape(c) for c in secret if not c.isspace())
            text = re.sub(spaced, CANARY_MASK, text)
    return text
