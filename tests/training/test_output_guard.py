"""The output guard against a model that writes personal data (a real tiny Llama trained to).

No part of the guard is mocked: the analyzer is the ingest's, the model really generates, the
stream really runs transformers' streamer on a thread. The adversarial property: no fragment of
an e-mail address, phone or card number reaches the caller while the guard is on, whether the
answer is returned whole or streamed a few characters per token.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.training.guard import (
    HOLD,
    OutputGuard,
    StreamGuard,
    replace_spans,
    withheld_notice,
)
from tests.training.parrot_model import PII_ANSWER, PII_FRAGMENTS, make_parrot_llama

REDACTED = ("Write to <EMAIL_ADDRESS> or call <PHONE_NUMBER>, card <CREDIT_CARD>. Thanks!")
FOUND = {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1, "CREDIT_CARD": 1}


@pytest.fixture(scope="module")
def analyzer() -> Any:
    from appliance.redaction.anonymizer import RedactorConfig, build_redactor

    return build_redactor(RedactorConfig()).analyzer


@pytest.fixture(scope="module")
def parrot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_parrot_llama(tmp_path_factory.mktemp("models") / "parrot")


@pytest.fixture
def parrot_home(ctx: Any, parrot: Path, people: dict[str, Any]) -> Iterator[Any]:
    from appliance.training import registry

    registry._insert(ctx, "parrot", parrot, registry.directory_sha256(parrot))
    yield ctx
    from appliance.training.chat import forget_models

    forget_models()


def clean(text: str) -> bool:
    return not any(fragment in text for fragment in PII_FRAGMENTS)


# -- the guard on whole answers ---------------------------------------------------------------


def test_redact_replaces_each_value_with_the_ingest_placeholder(analyzer: Any) -> None:
    [guarded] = OutputGuard("redact", analyzer).check([PII_ANSWER])
    assert guarded.text == REDACTED and guarded.entities == FOUND and not guarded.withheld


def test_withhold_replaces_the_answer_with_a_notice_naming_types_only(analyzer: Any) -> None:
    guarded, fine = OutputGuard("withhold", analyzer).check([PII_ANSWER, "it is sunny today"])
    assert guarded.withheld and guarded.entities == FOUND
    assert guarded.text == withheld_notice(FOUND) and clean(guarded.text)
    assert "CREDIT_CARD, EMAIL_ADDRESS, PHONE_NUMBER" in guarded.text
    assert fine.text == "it is sunny today" and not fine.withheld and fine.entities == {}


def test_off_passes_text_unread() -> None:
    [guarded] = OutputGuard("off", None).check([PII_ANSWER])
    assert guarded.text == PII_ANSWER and guarded.entities == {}


def test_a_mode_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown guard mode 'log'"):
        OutputGuard("log", None)
    with pytest.raises(ValueError, match="needs an analyzer"):
        OutputGuard("redact", None)


def test_replace_spans_works_from_the_end() -> None:
    from appliance.redaction.analyzer import PiiSpan

    spans = [PiiSpan(0, 4, "PERSON", 1.0), PiiSpan(9, 12, "LOCATION", 1.0)]
    assert replace_spans("Anna and Rom.", spans) == "<PERSON> and <LOCATION>."


# -- the guard on streams ---------------------------------------------------------------------


def pieces(text: str, seed: int) -> list[str]:
    """``text`` cut at random places into pieces of 1 to 6 characters (tokens)."""
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, 6)
        out.append(text[i : i + n])
        i += n
    return out


@pytest.mark.parametrize("seed", range(3))
def test_a_stream_releases_only_guarded_text(analyzer: Any, seed: int) -> None:
    # the PII in the middle of a long answer, so that text is released before and after it
    filler = "the answer to your question is in the app under settings and help. "
    text = filler * 2 + PII_ANSWER + " " + filler * 2
    stream = StreamGuard(OutputGuard("redact", analyzer))
    released = [stream.feed(p) for p in pieces(text, seed)]
    released.append(stream.finish())
    assert all(clean(r) for r in released), released
    assert "".join(released) == replace_spans(text, analyzer.analyze(text))
    assert sum(1 for r in released if r) >= 3  # it streamed: not all held to the end
    assert dict(stream.entities) == FOUND


def test_a_stream_holds_back_the_tail(analyzer: Any) -> None:
    stream = StreamGuard(OutputGuard("redact", analyzer))
    # Plain sentences with no PII. (Not one word repeated: "word " * 60 is a degenerate input the
    # bundled NER reads as a name under transformers 5.24; the hold-back is what is tested here.)
    text = "the app keeps your settings in one place. " * 8
    released = "".join(stream.feed(p) for p in pieces(text, 1))
    assert len(text) - len(released) >= HOLD
    assert released + stream.finish() == text


def test_a_withheld_stream_stops_releasing(analyzer: Any) -> None:
    stream = StreamGuard(OutputGuard("withhold", analyzer))
    text = "the answer to your question is in the app under settings. " * 2 + PII_ANSWER
    released = [stream.feed(p) for p in pieces(text, 3)] + [stream.finish()]
    assert stream.withheld and all(clean(r) for r in released)
    assert "EMAIL_ADDRESS" in stream.entities and "EMAIL_ADDRESS" in stream.notice


# -- a model that writes PII, through the service ---------------------------------------------


def events(ctx: Any, action: str) -> list[Any]:
    return list(ctx.audit.query(action=action, limit=1000))


def test_generated_pii_is_redacted_and_audited_by_digest(parrot_home: Any,
                                                         people: dict[str, Any]) -> None:
    from appliance.training import chat

    ctx = parrot_home
    answers = chat.generate(ctx, people["olivia"], "base:parrot",
                            ["how do i reach you", [{"role": "user", "content": "hello"}]],
                            chat.make_options(max_new_tokens=60))
    assert [a.text for a in answers] == [REDACTED, REDACTED]
    assert all(a.pii == FOUND and a.finish == "stop" and a.output_tokens > 10 for a in answers)

    [decision] = events(ctx, "model.generate")
    assert decision.decision == "allow" and decision.resource == "base_model:parrot"
    assert decision.details["prompt_sha256"] == (
        hashlib.sha256(b"how do i reach you").hexdigest(),
        chat.prompt_sha256([{"role": "user", "content": "hello"}]))
    [done] = events(ctx, "model.generate.completed")
    assert done.details["allowed_seq"] == decision.seq
    assert done.details["output_sha256"] == (hashlib.sha256(REDACTED.encode()).hexdigest(),) * 2
    assert done.details["pii_entities"] == ("CREDIT_CARD", "EMAIL_ADDRESS", "PHONE_NUMBER")
    assert done.details["pii_counts"] == (2, 2, 2)
    log = b"".join(p.read_bytes() for p in (ctx.settings.home / "audit").glob("segment-*"))
    assert b"reach you" not in log and b"john" not in log and b"<EMAIL" not in log


def test_withhold_mode_withholds_the_answer(parrot_home: Any, people: dict[str, Any]) -> None:
    from appliance.config import update_saved_settings
    from appliance.context import open_context
    from appliance.training import chat

    update_saved_settings(parrot_home.settings.home, generation_guard="withhold")
    ctx = open_context(parrot_home.settings.home)
    try:
        [answer] = chat.generate(ctx, people["olivia"], "base:parrot", ["hello"],
                                 chat.make_options(max_new_tokens=60))
        assert answer.withheld and answer.finish == "withheld" and clean(answer.text)
        assert answer.text == withheld_notice(FOUND)
        [done] = events(ctx, "model.generate.completed")
        assert done.details["withheld"] == 1 and done.details["guard"] == "withhold"
    finally:
        ctx.close()


def test_off_mode_lets_the_model_speak(parrot_home: Any, people: dict[str, Any]) -> None:
    from appliance.config import update_saved_settings
    from appliance.context import open_context
    from appliance.training import chat

    update_saved_settings(parrot_home.settings.home, generation_guard="off")
    ctx = open_context(parrot_home.settings.home)
    try:
        [answer] = chat.generate(ctx, people["olivia"], "base:parrot", ["hello"],
                                 chat.make_options(max_new_tokens=60))
        assert answer.text == PII_ANSWER and answer.pii == {}
    finally:
        ctx.close()


def stream_all(ctx: Any, who: Any, guard: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    from appliance.training import chat

    stream = chat.open_stream(ctx, who, "base:parrot", "who do i contact",
                              chat.make_options(max_new_tokens=60))
    return list(stream)


def test_a_streamed_answer_never_sends_pii_in_pieces(parrot_home: Any,
                                                     people: dict[str, Any]) -> None:
    from appliance.config import update_saved_settings
    from appliance.context import open_context

    got = stream_all(parrot_home, people["olivia"])
    tokens = [d["text"] for name, d in got if name == "token"]
    assert all(clean(t) for t in tokens) and "".join(tokens) == REDACTED
    name, end = got[-1]
    assert name == "end" and end["pii"] == FOUND and end["finish"] == "stop"
    assert end["output_tokens"] > 10 and end["prompt_tokens"] > 5
    [done] = events(parrot_home, "model.generate.completed")
    assert done.details["output_sha256"] == (hashlib.sha256(REDACTED.encode()).hexdigest(),)
    [decision] = events(parrot_home, "model.generate")
    assert decision.details["stream"] is True

    # the same model with the guard off: the address really does come in several pieces, so a
    # guard that read each piece alone would have let all of them through
    update_saved_settings(parrot_home.settings.home, generation_guard="off")
    ctx = open_context(parrot_home.settings.home)
    try:
        raw = [d["text"] for name, d in stream_all(ctx, people["olivia"]) if name == "token"]
    finally:
        ctx.close()
    assert "".join(raw) == PII_ANSWER
    assert not any("john.smith@example.com" in piece for piece in raw)
    assert len(raw) > 10


def test_a_withheld_stream_ends_with_the_notice(parrot_home: Any,
                                                people: dict[str, Any]) -> None:
    from appliance.config import update_saved_settings
    from appliance.context import open_context

    update_saved_settings(parrot_home.settings.home, generation_guard="withhold")
    ctx = open_context(parrot_home.settings.home)
    try:
        got = stream_all(ctx, people["olivia"])
        [done] = events(ctx, "model.generate.completed")
    finally:
        ctx.close()
    assert all(clean(d.get("text", "")) for _, d in got)
    names = [name for name, _ in got]
    assert names[-2:] == ["withheld", "end"]
    assert got[-2][1]["entities"]["EMAIL_ADDRESS"] == 1 and got[-1][1]["finish"] == "withheld"
    assert done.details["finish"] == ("withheld",) and done.details["withheld"] == 1
