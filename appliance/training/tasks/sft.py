"""Supervised fine-tuning of a causal LM on chats: loss on the assistant's tokens only.

A record is either a prompt/response pair (``prompt_field``/``response_field``) or a chat
(``messages_field``: a list of ``{"role", "content"}`` turns, roles system/user/assistant, the last
turn the assistant's). Both become ``{"messages": [...]}`` examples; a pair is ``[user,
assistant]``.

Encoding renders the chat with the tokenizer's chat template (the format the model was tuned
on) and labels the tokens of every assistant turn, including the token that ends the turn
(``<|im_end|>`` for ChatML), so the model learns to stop; system, user and template tokens get
-100 and add nothing to the loss. Where an assistant turn starts is found by rendering the chat
up to it with ``add_generation_prompt=True`` (exactly the text the model is given when it
answers): that text must be a prefix of the whole chat's rendering. A template that breaks this
(one that renders earlier turns differently once later ones follow) falls back to finding the
turn's content verbatim. Each piece is tokenized on its own, so the tokens before an answer are
the very tokens the model sees at generation time. Without a template, the turns are joined by
newlines (as :func:`appliance.training.generation.render_conversation` does) and each answer
ends with EOS.

This module stays light (no torch): the task registry imports it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.errors import InvalidInput
from appliance.training.tasks import Task, register_task

if TYPE_CHECKING:
    from appliance.training.config import JobConfig

IGNORE_INDEX = -100
#: Tokens of the last answer always kept when a long prompt is cut, so every example teaches.
MIN_RESPONSE_TOKENS = 16
ROLES = ("system", "user", "assistant")
#: Problems listed in a refusal (the count says how many there were in all).
MAX_PROBLEMS = 10

Message = dict[str, str]


@register_task("sft")
class SftTask(Task):
    description = (
        "prompt -> response or chats for causal LMs; eval loss, perplexity, and held-out "
        "generation (exact match, ROUGE-L, chrF) against the base"
    )
    model_kind = "causal"
    default_base_model = "smollm2-135m-instruct"
    selection_metric = "loss"
    greater_is_better = False
    needs_predictions = False

    def to_examples(
        self, records: Sequence[dict[str, Any]], config: JobConfig, tag: str | None
    ) -> list[dict[str, Any]]:
        prompt_field, response_field = config.prompt_field, config.response_field
        messages_field = config.messages_field
        examples: list[dict[str, Any]] = []
        problems: list[str] = []
        n_bad = 0
        for index, record in enumerate(records):
            if record.get(messages_field) is not None:
                messages, problem = check_chat(record[messages_field], messages_field)
            else:
                messages, problem = _pair(record, prompt_field, response_field)
            if problem is not None:
                n_bad += 1
                if len(problems) < MAX_PROBLEMS:
                    problems.append(f"record {index}: {problem}")  # a position, never a value
                continue
            assert messages is not None
            if tag:
                first_user = next(i for i, m in enumerate(messages) if m["role"] == "user")
                turn = messages[first_user]
                messages[first_user] = {**turn, "content": f"[{tag}] {turn['content']}"}
            examples.append({"messages": messages})
        if n_bad:
            raise InvalidInput(
                f"{n_bad} records are not usable for sft ({problems[0]}); each needs a "
                f"'{messages_field}' chat or '{prompt_field}'/'{response_field}' strings (set "
                "messages_field or prompt_field/response_field to the right names)",
                reasons=problems,
            )
        return examples

    def token_lengths(self, examples: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
        return [len(encode_chat(tokenizer, e["messages"])[0]) for e in examples]

    def answer_lengths(self, examples: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
        if not examples:
            return []
        answers = [e["messages"][-1]["content"] for e in examples]
        batch = tokenizer(answers, add_special_tokens=False)["input_ids"]
        return [len(ids) + 1 for ids in batch]  # and the end-of-turn token

    def encode(
        self,
        examples: Sequence[dict[str, Any]],
        tokenizer: Any,
        max_length: int,
        labels: list[str],
    ) -> list[dict[str, Any]]:
        features = []
        for example in examples:
            ids, targets = encode_chat(tokenizer, example["messages"])
            ids, targets = truncate(ids, targets, max_length)
            features.append({"input_ids": ids, "labels": targets})
        return features

    def metrics(
        self, loss: float, predictions: Any, label_ids: Any, labels: list[str]
    ) -> dict[str, Any]:
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


# -- records -> chats ----------------------------------------------------------------------------


def _pair(
    record: dict[str, Any], prompt_field: str, response_field: str
) -> tuple[list[Message] | None, str | None]:
    prompt, response = record.get(prompt_field), record.get(response_field)
    if not isinstance(prompt, str) or not isinstance(response, str):
        return None, f"lacks '{prompt_field}'/'{response_field}' strings"
    if not prompt.strip() or not response.strip():
        return None, f"has an empty '{prompt_field}' or '{response_field}'"
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}], None


def check_chat(value: Any, field: str = "messages") -> tuple[list[Message] | None, str | None]:
    """The chat as ``[{"role", "content"}]``, or the reason it is not one (positions and roles
    only: a refusal never quotes a record's text)."""
    if not isinstance(value, list) or not value:
        return None, f"'{field}' is not a non-empty list of {{role, content}} turns"
    messages: list[Message] = []
    for number, turn in enumerate(value, start=1):
        if not isinstance(turn, dict):
            return None, f"turn {number} is not a {{role, content}} object"
        role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            # not quoted: a role field holding something else may hold anything
            return None, f"turn {number} has an unknown role (expected system, user or assistant)"
        if not isinstance(content, str) or not content.strip():
            return None, f"turn {number} ({role}) has empty or missing content"
        if role == "system" and number != 1:
            return None, f"turn {number} is a system turn; only the first turn may be one"
        messages.append({"role": role, "content": content})
    dialogue = messages[1:] if messages[0]["role"] == "system" else messages
    if not dialogue:
        return None, "has no user or assistant turn"
    if dialogue[0]["role"] != "user":
        return None, "the first turn after the system prompt must be the user's"
    for before, after in zip(dialogue, dialogue[1:], strict=False):
        if before["role"] == after["role"]:
            return None, f"two {after['role']} turns in a row (turns must alternate)"
    if messages[-1]["role"] != "assistant":
        return None, "the last turn is not the assistant's (no answer to learn)"
    return messages, None


def prompt_and_reference(example: dict[str, Any]) -> tuple[list[Message], str]:
    """Held-out scoring: every turn but the last is the prompt, the last answer the reference."""
    messages = example["messages"]
    return messages[:-1], messages[-1]["content"]


# -- chats -> tokens -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Piece:
    text: str
    learn: bool
    #: Append the EOS token (learned) after this piece: an answer the template does not end.
    eos: bool = False


def templated(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render(tokenizer: Any, messages: Sequence[Message], generation_prompt: bool) -> str:
    """The chat as the model sees it; with ``generation_prompt``, up to where an answer starts."""
    if templated(tokenizer):
        return str(
            tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=generation_prompt
            )
        )
    text = "\n".join(m["content"] for m in messages)
    return text + "\n" if generation_prompt else text


def encode_chat(tokenizer: Any, messages: Sequence[Message]) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 outside the assistant's turns), untruncated. The text after
    the last answer's end (a template's trailing newline) is left out: nothing learns from it."""
    ids: list[int] = []
    labels: list[int] = []
    first = True
    for piece in _pieces(tokenizer, messages):
        # a template holds its own special tokens (BOS included); plain text gets them here
        special = first and not templated(tokenizer)
        piece_ids = (
            list(tokenizer(piece.text, add_special_tokens=special)["input_ids"])
            if piece.text or special
            else []
        )
        first = False
        ids += piece_ids
        labels += piece_ids if piece.learn else [IGNORE_INDEX] * len(piece_ids)
        if piece.eos and tokenizer.eos_token_id is not None:
            ids.append(int(tokenizer.eos_token_id))
            labels.append(int(tokenizer.eos_token_id))
    while labels and labels[-1] == IGNORE_INDEX:
        labels.pop()
        ids.pop()
    return ids, labels


def _pieces(tokenizer: Any, messages: Sequence[Message]) -> list[_Piece]:
    """The rendered chat cut into alternating context and answer pieces."""
    if not templated(tokenizer):
        pieces, context = [], ""
        for turn in messages:
            if turn["role"] == "assistant":
                pieces.append(_Piece(context, learn=False))
                pieces.append(_Piece(turn["content"], learn=True, eos=True))
                context = "\n"
            else:
                context += turn["content"] + "\n"
        return pieces
    full = render(tokenizer, messages, generation_prompt=False)
    pieces, cursor = [], 0
    for k, turn in enumerate(messages):
        if turn["role"] != "assistant":
            continue
        start, end = _answer_span(tokenizer, messages, k, full, cursor)
        stop, closed = _end_of_turn(tokenizer, full, end)
        pieces.append(_Piece(full[cursor:start], learn=False))
        pieces.append(_Piece(full[start:stop], learn=True, eos=not closed))
        cursor = stop
    pieces.append(_Piece(full[cursor:], learn=False))
    return pieces


def _answer_span(
    tokenizer: Any, messages: Sequence[Message], k: int, full: str, cursor: int
) -> tuple[int, int]:
    """Where answer ``k``'s content lies in ``full`` (character offsets)."""
    content = messages[k]["content"]
    prompt = render(tokenizer, messages[:k], generation_prompt=True)
    if full.startswith(prompt) and len(prompt) >= cursor:
        start = len(prompt)
        if full.startswith(content, start):
            return start, start + len(content)
    else:
        start = cursor
    # fallback: the template moved or rewrote something; find the content itself
    for text in (content, content.strip()):
        found = full.find(text, start)
        if found >= 0:
            return found, found + len(text)
    raise InvalidInput(
        "the base model's chat template does not render an assistant turn verbatim, so the "
        "loss cannot be placed on its tokens; use a base whose template keeps answers as given"
    )


def _end_of_turn(tokenizer: Any, full: str, end: int) -> tuple[int, bool]:
    """Where the learned part of an answer ends: after the template's end-of-turn token when
    the answer is followed by a special token (``<|im_end|>``, ``<|eot_id|>``, ``</s>``),
    else right after the content (and EOS is appended: ``(end, False)``)."""
    rest = full[end:]
    for token in _special_tokens(tokenizer):
        if token and rest.startswith(token):
            return end + len(token), True
    return end, False


def _special_tokens(tokenizer: Any) -> list[str]:
    """Special tokens' texts, longest first (so ``<|im_end|>`` wins over a shorter prefix)."""
    names = set(getattr(tokenizer, "all_special_tokens", None) or [])
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    names |= {str(t) for t in decoder.values() if getattr(t, "special", False)}
    return sorted(names, key=len, reverse=True)


def end_of_turn_ids(tokenizer: Any) -> list[int]:
    """Token ids that end an answer: EOS, and the template's end-of-turn token when it differs
    (generation stops at any of them)."""
    out = [] if tokenizer.eos_token_id is None else [int(tokenizer.eos_token_id)]
    if templated(tokenizer):
        probe = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]
        try:
            full = render(tokenizer, probe, generation_prompt=False)
            start, end = _answer_span(tokenizer, probe, 1, full, 0)
        except (InvalidInput, ValueError, TypeError):
            return out
        stop, closed = _end_of_turn(tokenizer, full, end)
        if closed:
            token_id = tokenizer.convert_tokens_to_ids(full[end:stop])
            if isinstance(token_id, int) and token_id not in out:
                out.append(token_id)
    return out


def truncate(ids: list[int], labels: list[int], max_length: int) -> tuple[list[int], list[int]]:
    """At most ``max_length`` tokens: the context is cut from the left (the question is at its
    end), keeping at least :data:`MIN_RESPONSE_TOKENS` of the last answer; the answer is cut
    from the right only when it alone is longer."""
    if len(ids) <= max_length:
        return ids, labels
    last = len(labels)
    while last > 0 and labels[last - 1] != IGNORE_INDEX:
        last -= 1  # start of the last answer's run of learned tokens
    answer = len(ids) - last
    keep_context = max(0, max_length - min(answer, MIN_RESPONSE_TOKENS))
    cut = max(0, last - keep_context)
    return ids[cut:][:max_length], labels[cut:][:max_length]


def render_prompt(tokenizer: Any, prompt: str) -> str:
    """A single-turn prompt as the model sees it, ending where the response begins."""
    return render(tokenizer, [{"role": "user", "content": prompt}], generation_prompt=True)
