"""SFT records and chats: normalisation, refusals, assistant-only labels token by token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from appliance.errors import InvalidInput
from appliance.training.config import JobConfig
from appliance.training.modeling import load_tokenizer
from appliance.training.tasks import get_task
from appliance.training.tasks.sft import (
    IGNORE_INDEX,
    encode_chat,
    end_of_turn_ids,
    truncate,
)
from tests.training.tiny_models import make_tiny_gpt2, make_tiny_llama

CONFIG = JobConfig(task="sft", dataset_ids=["ds_a"])
SECRET = "maria gonzalez"  # must never appear in a refusal
CHAT = [
    {"role": "system", "content": "you can help"},
    {"role": "user", "content": "i lost my card"},
    {"role": "assistant", "content": "block the card please"},
    {"role": "user", "content": "thanks"},
    {"role": "assistant", "content": "good"},
]


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = make_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")
    return load_tokenizer(path, causal=True)


@pytest.fixture(scope="module")
def plain_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = make_tiny_gpt2(tmp_path_factory.mktemp("models") / "plain-gpt2", chat_template=False)
    return load_tokenizer(path, causal=True)


def test_pairs_and_chats_become_messages() -> None:
    task = get_task("sft")
    records = [{"prompt": "hi", "response": "hello"}, {"messages": CHAT}]
    examples = task.to_examples(records, CONFIG, None)
    assert examples[0] == {"messages": [{"role": "user", "content": "hi"},
                                        {"role": "assistant", "content": "hello"}]}
    assert examples[1] == {"messages": CHAT}
    tagged = task.to_examples(records, CONFIG, "qa")
    assert tagged[0]["messages"][0]["content"] == "[qa] hi"
    assert tagged[1]["messages"][1]["content"] == "[qa] i lost my card"  # the first user turn
    assert CHAT[1]["content"] == "i lost my card"  # the record itself is left alone
    named = JobConfig(task="sft", dataset_ids=["ds_a"], messages_field="turns")
    assert task.to_examples([{"turns": CHAT}], named, None) == [{"messages": CHAT}]


def _turns(*roles: str) -> list[dict[str, str]]:
    return [{"role": r, "content": f"{SECRET} {i}"} for i, r in enumerate(roles)]


@pytest.mark.parametrize(
    ("chat", "problem"),
    [
        ("not a list", "'messages' is not a non-empty list"),
        ([], "'messages' is not a non-empty list"),
        ([SECRET], "turn 1 is not a {role, content} object"),
        ([{"role": "bot", "content": "x"}, {"role": "assistant", "content": "y"}],
         "turn 1 has an unknown role (expected system, user or assistant)"),
        ([{"role": SECRET, "content": "x"}], "turn 1 has an unknown role"),
        ([{"role": "user", "content": "  "}, {"role": "assistant", "content": "y"}],
         "turn 1 (user) has empty or missing content"),
        ([{"role": "user", "content": "x"}, {"role": "assistant"}],
         "turn 2 (assistant) has empty or missing content"),
        ([{"role": "user", "content": "x"}, {"role": "assistant", "content": 3}],
         "turn 2 (assistant) has empty or missing content"),
        (_turns("user", "assistant", "user"), "the last turn is not the assistant's"),
        (_turns("system"), "has no user or assistant turn"),
        (_turns("user", "system", "assistant"), "turn 2 is a system turn"),
        (_turns("assistant"), "the first turn after the system prompt must be the user's"),
        (_turns("user", "user", "assistant"), "two user turns in a row"),
        (_turns("user", "assistant", "assistant"), "two assistant turns in a row"),
    ],
)
def test_malformed_chats_are_refused_naming_record_and_problem(chat: Any, problem: str) -> None:
    good = {"messages": CHAT}
    with pytest.raises(InvalidInput) as caught:
        get_task("sft").to_examples([good, {"messages": chat}], CONFIG, None)
    message = str(caught.value)
    assert message.startswith("1 records are not usable for sft (record 1: ")
    assert problem in message and problem in caught.value.reasons[0]
    assert SECRET not in message and SECRET not in " ".join(caught.value.reasons)


def test_pairs_without_the_fields_are_refused_with_every_position() -> None:
    records = [{"prompt": SECRET}, {"prompt": "x", "response": ""}] * 6
    with pytest.raises(InvalidInput) as caught:
        get_task("sft").to_examples(records, CONFIG, None)
    assert str(caught.value).startswith("12 records are not usable for sft (record 0: lacks "
                                        "'prompt'/'response' strings)")
    assert len(caught.value.reasons) == 10  # the first ten problems, the count for the rest
    assert caught.value.reasons[1] == "record 1: has an empty 'prompt' or 'response'"
    assert SECRET not in str(caught.value)


def _expected_labels(tokenizer: Any, ids: list[int]) -> list[int]:
    """An independent reading of ChatML: after ``<|im_start|> assistant``, every token up to
    and including ``<|im_end|>`` is learned; nothing else."""
    start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assistant = tokenizer.convert_tokens_to_ids("assistant")
    labels, inside = [], False
    for i, token in enumerate(ids):
        labels.append(token if inside else IGNORE_INDEX)
        if inside and token == end:
            inside = False
        elif i > 0 and ids[i - 1] == start and token == assistant:
            inside = True
    return labels


def test_single_turn_learns_the_answer_and_its_end_of_turn_token(llama: Any) -> None:
    chat = [{"role": "user", "content": "what is the weather"},
            {"role": "assistant", "content": "it is sunny"}]
    ids, labels = encode_chat(llama, chat)
    # the very tokens the template gives, minus its trailing newline (nothing learns from it)
    rendered = llama.apply_chat_template(chat, tokenize=False)
    assert ids == llama(rendered, add_special_tokens=False)["input_ids"][: len(ids)]
    assert labels == _expected_labels(llama, ids)
    learned = [llama.convert_ids_to_tokens(t) for t in labels if t != IGNORE_INDEX]
    assert learned == ["it", "is", "sunny", "<|im_end|>"]
    # the prompt part is exactly what generation is given
    prompt = llama.apply_chat_template(chat[:1], tokenize=False, add_generation_prompt=True)
    prompt_ids = llama(prompt, add_special_tokens=False)["input_ids"]
    assert ids[: len(prompt_ids)] == prompt_ids and labels[len(prompt_ids) - 1] == IGNORE_INDEX


def test_every_assistant_turn_of_a_multi_turn_chat_is_learned(llama: Any) -> None:
    ids, labels = encode_chat(llama, CHAT)
    assert labels == _expected_labels(llama, ids)
    learned = [llama.convert_ids_to_tokens(t) for t in labels if t != IGNORE_INDEX]
    assert learned == ["block", "the", "card", "please", "<|im_end|>",
                       "good", "<|im_end|>"]
    unlearned = {llama.convert_ids_to_tokens(t) for t, x in zip(ids, labels, strict=True)
                 if x == IGNORE_INDEX}
    assert {"you", "can", "help", "i", "lost", "my", "thanks", "system", "user"} <= unlearned


def test_features_from_the_task_carry_the_same_labels(llama: Any) -> None:
    [feature] = get_task("sft").encode([{"messages": CHAT}], llama, 256, [])
    assert (feature["input_ids"], feature["labels"]) == encode_chat(llama, CHAT)


def test_without_a_template_the_old_format_stays(plain_gpt2: Any) -> None:
    chat = [{"role": "user", "content": "what is the weather"},
            {"role": "assistant", "content": "it is sunny"}]
    ids, labels = encode_chat(plain_gpt2, chat)
    prompt_ids = plain_gpt2("what is the weather\n")["input_ids"]
    answer = plain_gpt2("it is sunny", add_special_tokens=False)["input_ids"]
    eos = plain_gpt2.eos_token_id
    assert ids == prompt_ids + answer + [eos]
    assert labels == [IGNORE_INDEX] * len(prompt_ids) + answer + [eos]
    assert end_of_turn_ids(plain_gpt2) == [eos]


def test_a_template_without_an_end_token_gets_eos_appended(tiny_gpt2: Path) -> None:
    tokenizer = load_tokenizer(tiny_gpt2, causal=True)  # "role: content\n", no end token
    ids, labels = encode_chat(tokenizer, CHAT[1:3])
    learned = [t for t in labels if t != IGNORE_INDEX]
    assert tokenizer.decode(learned).replace(" ", "") == "blockthecardplease<eos>"
    assert tokenizer.decode(ids[: labels.index(learned[0])]).replace(" ", "").endswith(
        "assistant:"
    )


def test_a_template_that_renders_history_differently_falls_back_to_the_content(
    llama: Any,
) -> None:
    """Like templates that drop earlier answers' reasoning: the rendering up to a turn is then
    no prefix of the whole chat; the answer's content is found instead."""
    tokenizer = llama.__class__.from_pretrained(llama.name_or_path, local_files_only=True)
    tokenizer.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}"
        "{% if loop.last and m['role'] == 'assistant' %} _{% endif %}\n"
        "{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant _\n{% endif %}"
    )
    ids, labels = encode_chat(tokenizer, CHAT)
    learned = [tokenizer.convert_ids_to_tokens(t) for t in labels if t != IGNORE_INDEX]
    assert learned == ["block", "the", "card", "please", "<|im_end|>",
                       "good", "<|im_end|>"]


def test_a_template_that_rewrites_the_answer_is_refused(llama: Any) -> None:
    tokenizer = llama.__class__.from_pretrained(llama.name_or_path, local_files_only=True)
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] | upper }}\n{% endfor %}"
    )
    with pytest.raises(InvalidInput, match="does not render an assistant turn verbatim"):
        encode_chat(tokenizer, CHAT)


def test_end_of_turn_tokens(llama: Any, tiny_gpt2: Path) -> None:
    assert end_of_turn_ids(llama) == [llama.convert_tokens_to_ids("<|im_end|>")]
    gpt2 = load_tokenizer(tiny_gpt2, causal=True)
    assert end_of_turn_ids(gpt2) == [gpt2.eos_token_id]


def test_truncation_keeps_the_question_end_and_the_answer() -> None:
    ids = list(range(100))
    labels = [IGNORE_INDEX] * 90 + list(range(90, 100))
    cut_ids, cut_labels = truncate(ids, labels, 32)
    assert cut_ids == list(range(68, 100)) and cut_labels[-10:] == list(range(90, 100))
    long_answer = [IGNORE_INDEX] * 10 + list(range(10, 100))
    cut_ids, cut_labels = truncate(ids, long_answer, 32)  # the answer alone is too long
    assert cut_ids == list(range(32)) and cut_labels[10:] == list(range(10, 32))
    assert truncate(ids[:10], labels[:10], 32) == (ids[:10], labels[:10])


def test_generated_rows_end_at_their_first_stop_token() -> None:
    from appliance.training.generation import _until_stop

    assert _until_stop([5, 7, 2, 9, 0, 0], [2, 3], 0) == [5, 7, 2]
    assert _until_stop([5, 3, 2], [2, 3], 0) == [5, 3]  # the template's end-of-turn token
    assert _until_stop([5, 7, 0, 0], [2], 0) == [5, 7]  # ran out of tokens: no padding kept
