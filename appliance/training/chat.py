"""Generation for users: batched answers and streamed chat from a trained or a base model.

A model is named by a *reference*: a trained generative model's id (``mdl_...``) or a registered
base model as ``base:<name>``, so a user can put a base beside what fine-tuning made of it.

Every call is one ``model.generate`` action (gate/outcomes.py): the decision is audited before
any work, with the prompts' SHA-256 digests and the options (:func:`request_details`), and its
outcome after: ``model.generate.completed`` with the answers' digests, token counts and what the
output guard found (:func:`outcome_details`), or ``model.generate.failed`` / ``.aborted``. Never
a prompt's or an answer's text. A model not yet in memory is loaded first: a trained one through
the gate (its weights' read is a second ``model.generate`` decision, ``call: load``), a base from
its registered directory after the registry checks its SHA-256. Loaded models stay in small
per-process caches; each call is still decided and audited.

Every answer passes the output guard (:mod:`.guard`) before it is returned or streamed.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from appliance.audit.canonical import canonical_json
from appliance.db import transaction
from appliance.errors import InvalidInput
from appliance.gate import Action, Principal, begin_action, read_object
from appliance.training import models
from appliance.training.guard import OutputGuard, StreamGuard
from appliance.training.registry import get_base_model, open_base_model

if TYPE_CHECKING:
    from appliance.context import Context
    from appliance.training.generation import GenerationOptions

Conversation = list[dict[str, str]]
Prompt = str | Conversation

BASE_PREFIX = "base:"
ACTION = "model.generate"
PURPOSE = "inference"
#: Prompts per call; the outcome event lists one digest per prompt (audit details hold <= 64).
MAX_BATCH = 64
MAX_TURNS = 64
#: Characters of one prompt, all turns together.
MAX_PROMPT_CHARS = 20_000
MAX_NEW_TOKENS = 1024
DEFAULT_NEW_TOKENS = 128
MAX_TEMPERATURE = 2.0
ROLES = ("system", "user", "assistant")
#: Conversations generated together in one forward pass (memory, not policy).
BATCH_SIZE = 16
#: How long the stream's reader waits for the next piece before it looks again.
POLL_S = 0.25
_CACHE_SIZE = 2
_bases: LRUCache[tuple[str, str, str], LanguageModel] = LRUCache(_CACHE_SIZE)
_cache_lock = threading.Lock()
_model_locks: dict[int, threading.Lock] = {}
#: Each trained model's approved answers (see :mod:`.guard`), decrypted once per process.
_approved: LRUCache[tuple[str, str], frozenset[str]] = LRUCache(_CACHE_SIZE)


@dataclass(frozen=True)
class ModelRef:
    """``mdl_...`` (a trained model) or ``base:<name>`` (a registered base)."""

    name: str
    base: bool

    def __str__(self) -> str:
        return f"{BASE_PREFIX}{self.name}" if self.base else self.name


def parse_ref(ref: str) -> ModelRef:
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput("name a model: a trained model id (mdl_...) or a base as base:<name>")
    if ref.startswith(BASE_PREFIX):
        name = ref.removeprefix(BASE_PREFIX)
        if not name:
            raise InvalidInput("base:<name> needs the base model's name (appliance model base "
                               "list shows them)")
        return ModelRef(name, base=True)
    if not ref.startswith("mdl_"):
        raise InvalidInput(f"{ref!r} is not a model: give a trained model id (mdl_...) or a "
                           "registered base model as base:<name>")
    return ModelRef(ref, base=False)


@dataclass(frozen=True)
class Answer:
    """One generated answer, as the caller may see it (after the output guard)."""

    text: str
    prompt_tokens: int
    output_tokens: int
    finish: str  # "stop", "length", "withheld" (streams also: "disconnected")
    pii: dict[str, int] = field(default_factory=dict)
    withheld: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LanguageModel:
    """A causal LM in memory with its tokenizer; ``lock`` serialises its generations (one
    model's forward passes share its buffers, and a seed sets the process's RNG)."""

    model: Any
    tokenizer: Any
    lock: threading.Lock

    def max_positions(self) -> int | None:
        value = getattr(self.model.config, "max_position_embeddings", None)
        return int(value) if isinstance(value, int) else None


# -- input ------------------------------------------------------------------------------------


def check_prompt(value: Any, where: str = "prompt") -> Conversation:
    """A prompt (a string) or a conversation (``[{"role", "content"}, ...]`` ending with the
    user's turn) as the conversation to answer; ``where`` starts each error message."""
    if isinstance(value, str):
        if not value.strip():
            raise InvalidInput(f"{where}: the prompt is empty")
        if len(value) > MAX_PROMPT_CHARS:
            raise InvalidInput(f"{where}: the prompt is {len(value)} characters; at most "
                               f"{MAX_PROMPT_CHARS}")
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"{where}: give a prompt string or a non-empty list of messages")
    if len(value) > MAX_TURNS:
        raise InvalidInput(f"{where}: at most {MAX_TURNS} messages, got {len(value)}")
    turns: Conversation = []
    for i, turn in enumerate(value, start=1):
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            raise InvalidInput(f"{where}: message {i} must be an object with exactly 'role' "
                               "and 'content'")
        role, content = turn["role"], turn["content"]
        if role not in ROLES:
            raise InvalidInput(f"{where}: message {i}: role must be one of {', '.join(ROLES)}, "
                               f"got {role!r:.40}")
        if not isinstance(content, str):
            raise InvalidInput(f"{where}: message {i}: content must be a string")
        turns.append({"role": role, "content": content})
    if turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        raise InvalidInput(f"{where}: the last message must be the user's, and not empty: the "
                           "model answers it")
    chars = sum(len(t["content"]) for t in turns)
    if chars > MAX_PROMPT_CHARS:
        raise InvalidInput(f"{where}: the messages hold {chars} characters; at most "
                           f"{MAX_PROMPT_CHARS}")
    return turns


def check_prompts(prompts: Sequence[Any]) -> list[Conversation]:
    if isinstance(prompts, str) or not isinstance(prompts, Sequence) or not prompts:
        raise InvalidInput("give at least one prompt")
    if len(prompts) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} prompts per call, got {len(prompts)}")
    return [check_prompt(p, f"prompt {i}") for i, p in enumerate(prompts, start=1)]


def make_options(max_new_tokens: int = DEFAULT_NEW_TOKENS, temperature: float = 0.0,
                 top_p: float = 1.0, seed: int | None = None) -> GenerationOptions:
    """Checked decoding options: greedy by default, at most ``MAX_NEW_TOKENS`` new tokens."""
    from appliance.training.generation import GenerationOptions

    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) \
            or not 1 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise InvalidInput(f"max_new_tokens must be a whole number from 1 to {MAX_NEW_TOKENS}")
    if not isinstance(temperature, int | float) or not 0 <= temperature <= MAX_TEMPERATURE:
        raise InvalidInput(f"temperature must be from 0 (greedy) to {MAX_TEMPERATURE}")
    if not isinstance(top_p, int | float) or not 0 < top_p <= 1:
        raise InvalidInput("top_p must be above 0 and at most 1")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)
                             or not 0 <= seed < 2**32):
        raise InvalidInput("seed must be a whole number from 0 to 2**32 - 1")
    return GenerationOptions(max_new_tokens=max_new_tokens, temperature=float(temperature),
                             top_p=float(top_p), seed=seed)


def prompt_sha256(prompt: Prompt) -> str:
    """A prompt string's UTF-8 digest; a conversation's, of its RFC 8785 canonical JSON."""
    data = prompt.encode("utf-8") if isinstance(prompt, str) else canonical_json(prompt)
    return hashlib.sha256(data).hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- the model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a reference names, checked before the decision (metadata only)."""

    ref: ModelRef
    resource: dict[str, Any]
    info: models.ModelInfo | None = None


def resolve(ctx: Context, ref: str | ModelRef) -> Target:
    """The model behind ``ref``: it must exist and be able to generate (NotFound, InvalidInput)."""
    parsed = ref if isinstance(ref, ModelRef) else parse_ref(ref)
    if parsed.base:
        info = get_base_model(ctx, parsed.name)
        architecture = causal_architecture(Path(info.path))
        if architecture is None:
            raise InvalidInput(f"base model {info.name} is not a causal language model: it "
                               "cannot generate")
        return Target(parsed, {"type": "base_model", "id": info.name})
    model = models.load_model_info(ctx, parsed.name)
    if not is_generative(model.task):
        raise InvalidInput(f"model {model.model_id} is a '{model.task}' model; generate needs "
                           "a generative (sft) model")
    return Target(parsed, model.resource(), model)


def is_generative(task: str) -> bool:
    from appliance.training.tasks import get_task

    try:
        return get_task(task).model_kind == "causal"
    except InvalidInput:
        return False


def causal_architecture(path: Path) -> str | None:
    """The causal-LM class a model directory's config names, if any (encoders: None)."""
    try:
        config = json.loads((path / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    causal = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    names = config.get("architectures") if isinstance(config, dict) else None
    return next((n for n in names or [] if isinstance(n, str) and n in causal), None)


def generative_models(ctx: Context, principal: Principal) -> list[str]:
    """References a user may pick: trained generative models (``model.read`` decides), newest
    first, then the registered causal bases."""
    from appliance.training.registry import list_base_models

    trained = sorted((m for m in models.list_models(ctx, principal) if is_generative(m.task)),
                     key=lambda m: m.created_at, reverse=True)
    bases = [b for b in list_base_models(ctx) if causal_architecture(Path(b.path))]
    return [m.model_id for m in trained] + [f"{BASE_PREFIX}{b.name}" for b in bases]


def _load(ctx: Context, principal: Principal, target: Target, action: Action) -> LanguageModel:
    if target.info is not None:
        predictor = models.open_predictor(
            ctx, principal, target.info, ACTION,
            {"call": "load", "for_seq": action.allowed_seq}, decided=True)
        return LanguageModel(predictor.model, predictor.tokenizer, _lock_for(predictor.model))
    return _base_model(ctx, target.ref.name)


def _base_model(ctx: Context, name: str) -> LanguageModel:
    info = get_base_model(ctx, name)
    key = (str(ctx.home), name, info.sha256)
    with _cache_lock:
        cached = _bases.get(key)
    if cached is not None:
        return cached
    import torch
    from transformers import AutoModelForCausalLM

    from appliance.training.modeling import load_tokenizer

    base = open_base_model(ctx, name)  # the directory must still hash to what was registered
    load: dict[str, Any] = {"local_files_only": True}  # never a hub (DESIGN.md invariant 1)
    model: Any = AutoModelForCausalLM.from_pretrained(str(base.path), **load)
    model.to("cuda" if torch.cuda.is_available() else "cpu").eval()
    loaded = LanguageModel(model, load_tokenizer(base.path, causal=True), _lock_for(model))
    with _cache_lock:
        _bases[key] = loaded
    return loaded


def _guard(ctx: Context, principal: Principal, target: Target, action: Action) -> OutputGuard:
    """The output guard for ``target``, with its approved answers: read through the gate (a
    ``model.generate`` decision, details ``call: guard``) the first time in this process, like
    its weights; the call's own decision covers a cached copy."""
    approved: frozenset[str] = frozenset()
    info = target.info
    object_id = ((info.card.get("metrics", {}).get("guard") or {})
                 .get("approved_answers_object_id") if info is not None else None)
    if info is not None and object_id and ctx.settings.generation_guard != "off":
        key = (str(ctx.home), info.model_id)
        with _cache_lock:
            cached = _approved.get(key)
        if cached is None:
            data = read_object(ctx, principal, ACTION, target.resource, str(object_id),
                               "inference", {"model_id": info.model_id, "call": "guard",
                                             "for_seq": action.allowed_seq})
            cached = frozenset(json.loads(data))
            with _cache_lock:
                _approved[key] = cached
        approved = cached
    return OutputGuard.for_settings(ctx.settings, approved)


def _lock_for(model: Any) -> threading.Lock:
    with _cache_lock:
        return _model_locks.setdefault(id(model), threading.Lock())


def forget_models() -> None:
    """Drop base models held in memory (tests)."""
    with _cache_lock:
        _bases.clear()
        _model_locks.clear()
        _approved.clear()


# -- audit ------------------------------------------------------------------------------------


def request_details(ref: ModelRef, prompts: Sequence[Prompt], options: GenerationOptions,
                    guard: str, *, stream: bool) -> dict[str, Any]:
    """The decision event's details: digests and sizes of the prompts, the options."""
    return {
        "model_id": str(ref),
        "n": len(prompts),
        "prompt_sha256": [prompt_sha256(p) for p in prompts],
        "prompt_chars": sum(len(p) if isinstance(p, str) else
                            sum(len(t.get("content", "")) for t in p) for p in prompts),
        "max_new_tokens": options.max_new_tokens,
        "temperature": repr(options.temperature),
        "top_p": repr(options.top_p),
        "random_state": options.seed,  # ("seed" is a word audit keys refuse: it names secrets)
        "guard": guard,
        "stream": stream,
    }


def outcome_details(action: Action, ref: ModelRef, answers: Sequence[Answer],
                    guard: str) -> dict[str, Any]:
    """The outcome event's details: per answer, in order, the digest of the text returned, the
    token counts and how it ended; what the guard found, as entity types and counts."""
    found: Counter[str] = Counter()
    for answer in answers:
        found.update(answer.pii)
    kinds = sorted(found)
    return {
        "outcome": "completed",
        "allowed_seq": action.allowed_seq,
        "allowed_hash": action.allowed_hash,
        "model_id": str(ref),
        "n": len(answers),
        "output_sha256": [text_sha256(a.text) for a in answers],
        "prompt_tokens": [a.prompt_tokens for a in answers],
        "output_tokens": [a.output_tokens for a in answers],
        "finish": [a.finish for a in answers],
        "pii_entities": kinds,
        "pii_counts": [found[k] for k in kinds],
        "withheld": sum(1 for a in answers if a.withheld),
        "guard": guard,
    }


def complete(ctx: Context, action: Action, ref: ModelRef, answers: Sequence[Answer],
             guard: str) -> None:
    """Append ``model.generate.completed`` and end the action, together: if the event cannot be
    written the action stays in flight (reconciled as aborted) and the caller gets no answer."""
    with transaction(ctx.conn):
        ctx.audit.append(
            actor=action.actor, role=action.role, action=f"{ACTION}.completed",
            resource=action.resource, purpose=action.purpose, decision="allow",
            reasons=[f"generated {len(answers)} answer(s), "
                     f"{sum(a.output_tokens for a in answers)} tokens"],
            policy_hash=action.policy_hash,
            details=outcome_details(action, ref, answers, guard))
        action.complete()


# -- batched answers --------------------------------------------------------------------------


def generate(ctx: Context, principal: Principal, ref: str | ModelRef, prompts: Sequence[Prompt],
             options: GenerationOptions | None = None) -> list[Answer]:
    """Answer each prompt, in order, in batches; every answer through the output guard."""
    conversations = check_prompts(prompts)
    options = options or make_options()
    make_options(options.max_new_tokens, options.temperature, options.top_p, options.seed)
    target = resolve(ctx, ref)
    guard_mode = ctx.settings.generation_guard
    action = begin_action(ctx, principal, ACTION, target.resource, PURPOSE,
                          request_details(target.ref, prompts, options, guard_mode,
                                          stream=False))
    try:
        lm = _load(ctx, principal, target, action)
        lengths = _prompt_lengths(lm, conversations, options, target.ref)
        from appliance.training.generation import generate_batch

        with lm.lock:
            generated = generate_batch(lm.model, lm.tokenizer, conversations, options,
                                       batch_size=BATCH_SIZE)
        guarded = _guard(ctx, principal, target, action).check([g.text for g in generated])
        answers = [
            Answer(g.text, n, out.output_tokens,
                   "withheld" if g.withheld else _finish(out.output_tokens, options),
                   g.entities, g.withheld)
            for g, n, out in zip(guarded, lengths, generated, strict=True)
        ]
        complete(ctx, action, target.ref, answers, guard_mode)
    except BaseException as exc:
        action.fail(exc)
        raise
    return answers


def _finish(output_tokens: int, options: GenerationOptions) -> str:
    return "length" if output_tokens >= options.max_new_tokens else "stop"


def _prompt_lengths(lm: LanguageModel, conversations: list[Conversation],
                    options: GenerationOptions, ref: ModelRef) -> list[int]:
    """Token count of each prompt; a prompt the model cannot take with room for the answer is
    refused (never cut silently: the model would answer another question)."""
    from appliance.training.generation import prompt_ids

    lengths = [len(prompt_ids(lm.tokenizer, c)) for c in conversations]
    limit = lm.max_positions()
    if limit is not None:
        room = limit - options.max_new_tokens
        for i, n in enumerate(lengths, start=1):
            if n > room:
                raise InvalidInput(
                    f"prompt {i} is {n} tokens; {ref} takes at most {limit} tokens with the "
                    f"answer, so at most {max(room, 0)} with max_new_tokens "
                    f"{options.max_new_tokens}")
    return lengths


# -- streamed chat ----------------------------------------------------------------------------


class ChatStream:
    """One answer streamed as it is generated: iterate :meth:`next_event` for ``("token",
    {"text"})``, then ``("withheld", {...})`` if the guard withheld it, then ``("end", {...})``;
    :meth:`close` stops the generation (a client that went away) and writes the outcome event
    if the end has not. The outcome is written exactly once.

    The generation runs on a thread of its own (transformers' ``TextIteratorStreamer``); the
    reader feeds each piece through a :class:`~.guard.StreamGuard`, so only guarded text leaves.
    """

    def __init__(self, ctx: Context, action: Action, ref: ModelRef, lm: LanguageModel,
                 conversation: Conversation, prompt_length: int, options: GenerationOptions,
                 guard: OutputGuard) -> None:
        from transformers import TextIteratorStreamer

        self.ctx, self.action, self.ref, self.lm = ctx, action, ref, lm
        self.options = options
        self.guard_mode = guard.mode
        self.prompt_tokens = prompt_length
        self.output_tokens = 0
        self.answer: Answer | None = None
        self._conversation = conversation
        self._guard: StreamGuard = guard.stream()
        self._streamer = TextIteratorStreamer(lm.tokenizer, skip_prompt=True,
                                              skip_special_tokens=True, timeout=POLL_S)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._sent: list[str] = []
        self._events: list[tuple[str, dict[str, Any]]] = []
        self._done = False
        self._outcome_lock = threading.Lock()
        # started by the first read: a response that is never sent generates nothing
        self._thread = threading.Thread(target=self._generate, name="generate-stream",
                                        daemon=True)

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        try:
            while (event := self.next_event()) is not None:
                yield event
        finally:
            self.close()

    def next_event(self) -> tuple[str, dict[str, Any]] | None:
        """The next event, waiting for the model; None after ``end``."""
        if not self._thread.is_alive() and not self._done and self._thread.ident is None:
            self._thread.start()
        while True:
            if self._events:
                return self._events.pop(0)
            if self._done:
                return None
            try:
                piece = next(self._streamer)
            except queue.Empty:
                continue  # still reading the prompt, or between two tokens
            except StopIteration:
                self._end()
                continue
            text = self._guard.feed(piece)
            if self._guard.withheld:
                self._stop.set()
                self._end()
                continue
            if text:
                self._sent.append(text)
                return "token", {"text": text}

    def close(self) -> None:
        """Stop generating; the outcome (``finish: disconnected`` if the end was not reached)."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=120)
        if not self._done:
            self._done = True
            self._record("disconnected")

    @property
    def summary(self) -> dict[str, Any]:
        """Counts for the end event and the metrics (no text)."""
        answer = self.answer
        return {"model": str(self.ref), "prompt_tokens": self.prompt_tokens,
                "output_tokens": self.output_tokens,
                "finish": answer.finish if answer else None,
                "pii": dict(self._guard.entities), "withheld": self._guard.withheld,
                "guard": self.guard_mode}

    def _generate(self) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        from appliance.training.generation import prompt_ids

        stop = self._stop

        class StopWhenAsked(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool,
                                  device=input_ids.device)

        tokenizer = self.lm.tokenizer
        try:
            with self.lm.lock, torch.inference_mode():
                device = next(self.lm.model.parameters()).device
                ids = torch.tensor([prompt_ids(tokenizer, self._conversation)], device=device)
                if self.options.seed is not None:
                    torch.manual_seed(self.options.seed)
                output = self.lm.model.generate(
                    input_ids=ids, attention_mask=torch.ones_like(ids),
                    max_new_tokens=self.options.max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                    streamer=self._streamer,
                    stopping_criteria=StoppingCriteriaList([StopWhenAsked()]),
                    **self.options.generate_kwargs())
            new = output[0, ids.shape[1]:].tolist()
            if tokenizer.eos_token_id in new:
                new = new[: new.index(tokenizer.eos_token_id) + 1]
            self.output_tokens = len(new)
        except BaseException as exc:  # the reader raises it; the streamer must still end
            self._error = exc
            self._streamer.end()

    def _end(self) -> None:
        """The model stopped (or the guard withheld): the rest, the outcome, the end event."""
        self._thread.join()
        if self._error is not None:
            self._done = True
            self.action.fail(self._error)
            raise self._error
        rest = self._guard.finish()
        if rest:
            self._sent.append(rest)
            self._events.append(("token", {"text": rest}))
        if self._guard.withheld:
            finish = "withheld"
            self._events.append(("withheld", {"notice": self._guard.notice,
                                              "entities": dict(self._guard.entities)}))
        elif self._stop.is_set():
            finish = "disconnected"
        else:
            finish = _finish(self.output_tokens, self.options)
        self._done = True
        self._record(finish)
        self._events.append(("end", self.summary))

    def _record(self, finish: str) -> None:
        with self._outcome_lock:
            if self.answer is not None:
                return
            text = self._guard.notice if self._guard.withheld else "".join(self._sent)
            self.answer = Answer(text, self.prompt_tokens, self.output_tokens, finish,
                                 dict(self._guard.entities), self._guard.withheld)
            complete(self.ctx, self.action, self.ref, [self.answer], self.guard_mode)


def open_stream(ctx: Context, principal: Principal, ref: str | ModelRef, prompt: Prompt,
                options: GenerationOptions | None = None) -> ChatStream:
    """Decide and begin one streamed answer; the caller iterates it, and closes it."""
    [conversation] = check_prompts([prompt])
    options = options or make_options()
    make_options(options.max_new_tokens, options.temperature, options.top_p, options.seed)
    target = resolve(ctx, ref)
    action = begin_action(ctx, principal, ACTION, target.resource, PURPOSE,
                          request_details(target.ref, [prompt], options,
                                          ctx.settings.generation_guard, stream=True))
    try:
        lm = _load(ctx, principal, target, action)
        [length] = _prompt_lengths(lm, [conversation], options, target.ref)
        guard = _guard(ctx, principal, target, action)  # the analyzer: built once per process
        return ChatStream(ctx, action, target.ref, lm, conversation, length, options, guard)
    except BaseException as exc:
        action.fail(exc)
        raise


__all__ = [
    "ACTION", "BASE_PREFIX", "MAX_BATCH", "MAX_NEW_TOKENS", "Answer", "ChatStream", "ModelRef",
    "check_prompt", "check_prompts", "generate", "generative_models", "make_options",
    "open_stream", "parse_ref", "resolve",
]
