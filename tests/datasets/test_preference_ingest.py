"""Preference datasets (pairwise, ranked, rated) ingested like every dataset: cleaned, redacted,
encrypted, PENDING_REVIEW; malformed records dropped with counted reasons, or refused whole.

Real ingest through ``ingest_stream`` with the real analyzer (patterns only: e-mail addresses are
what these tests plant, the NER model is not the point), the real CLI, API and console.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from appliance import datasets as ds
from appliance.errors import InvalidInput
from appliance.training.config import JobConfig
from appliance.training.tasks.preference_data import preference_pairs, rated_examples
from tests.api.conftest import LiveServer, jsonl, make_home, start_server, stop_server
from tests.cli import test_cli
from tests.web.test_console_http import COOKIE, Visitor

EMAIL = "maria.gonzalez@example.com"
PAIRWISE = {"task": "preference", "prompt_field": "prompt", "chosen_field": "chosen",
            "rejected_field": "rejected"}
RANKED = {"task": "preference", "prompt_field": "prompt", "responses_field": "responses",
          "ranking_field": "ranking"}
RATED = {"task": "preference", "prompt_field": "prompt", "response_field": "response",
         "rating_field": "rating"}
PROMPT_REASON = ("with a 'prompt' that is neither text nor a list of role/content turns "
                 "(roles system/user/assistant; no empty content)")
RANKING_REASON = "with a 'ranking' that is not a best-first list of indices into 'responses'"
RATING_REASON = "with a 'rating' that is not true/false, up/down or a number"

run = test_cli.run
cli_home = test_cli.cli_home  # the fixture: a home with olivia, carol and audra


@pytest.fixture
def patterns_only(ctx: Any) -> Any:
    """The real analyzer without the NER model: e-mails, phones and cards, fast."""
    ctx.settings = ctx.settings.model_copy(update={"ner_backend": "none"})
    return ctx


def ingest(ctx: Any, who: Any, records: list[dict[str, Any]] | bytes, fmt: str = "jsonl",
           name: str = "prefs",
           **spec: Any) -> ds.IngestResult:
    data = records if isinstance(records, bytes) else jsonl(records)
    return ds.ingest_stream(ctx, who, io.BytesIO(data), name=name, source_name=f"prefs.{fmt}",
                            fmt=fmt, spec=ds.parse_spec(spec))  # type: ignore[arg-type]


def sample(ctx: Any, people: dict, dataset_id: str) -> list[dict[str, Any]]:
    """What a reviewer reads, through the gate."""
    return list(ds.sample_records(ctx, people["carol"], dataset_id, 100))


def stored(ctx: Any) -> tuple[int, int]:
    datasets = ctx.conn.execute("SELECT count(*) FROM datasets").fetchone()[0]
    objects = ctx.conn.execute("SELECT count(*) FROM objects").fetchone()[0]
    return int(datasets), int(objects)


def pairwise(n: int = 3) -> list[dict[str, Any]]:
    return [{"prompt": f"question {i}: write to {EMAIL}",
             "chosen": f"I wrote to {EMAIL} about case {i}", "rejected": f"no idea ({i})",
             "note": f"reviewer {EMAIL}"} for i in range(n)]


def ranked(n: int = 3) -> list[dict[str, Any]]:
    return [{"prompt": f"how do I reset my password? ({i})",
             "responses": [f"mail {EMAIL} and wait", f"use the reset link {i}", "no idea"],
             "ranking": [1, 0, 2] if i % 2 else [2, 0]} for i in range(n)]


# -- each shape, redacted ------------------------------------------------------------------------


def test_pairwise_is_redacted_and_pending_review(patterns_only: Any, people: dict) -> None:
    result = ingest(patterns_only, people["olivia"], pairwise(), **PAIRWISE)
    assert result.rows == 3 and result.warnings == []
    records = sample(patterns_only, people, result.dataset_id)
    assert EMAIL not in json.dumps(records)
    assert records[0] == {"prompt": "question 0: write to <EMAIL_ADDRESS>",
                          "chosen": "I wrote to <EMAIL_ADDRESS> about case 0",
                          "rejected": "no idea (0)", "note": "reviewer <EMAIL_ADDRESS>"}
    fields = result.report["fields"]
    for field in ("prompt", "chosen", "note"):
        assert fields[field] == {"action": "redacted", "values": 3, "values_with_pii": 3,
                                 "entities": {"EMAIL_ADDRESS": 3}}
    assert fields["rejected"]["action"] == "redacted"
    info = ds.show_dataset(patterns_only, people["carol"], result.dataset_id)
    assert (info.state, info.task) == (ds.PENDING, "preference")
    assert EMAIL not in json.dumps(result.report)


def test_prompt_turns_keep_their_roles_and_lose_their_pii(patterns_only: Any,
                                                          people: dict) -> None:
    records = [{"prompt": [{"role": "system", "content": "You are  helpful."},
                           {"role": "user", "content": f"email {EMAIL} about order {i}"}],
                "chosen": f"Done, order {i}.", "rejected": f"Sent to {EMAIL} today"}
               for i in range(2)]
    result = ingest(patterns_only, people["olivia"], records, **PAIRWISE)
    first = sample(patterns_only, people, result.dataset_id)[0]
    assert first["prompt"] == [{"role": "system", "content": "You are helpful."},  # cleaned
                               {"role": "user", "content": "email <EMAIL_ADDRESS> about order 0"}]
    assert first["rejected"] == "Sent to <EMAIL_ADDRESS> today"
    fields = result.report["fields"]
    assert fields["prompt.role"] == {"action": "kept", "values": 4, "values_with_pii": 0,
                                     "entities": {}}
    assert fields["prompt.content"]["action"] == "redacted"
    assert fields["prompt.content"]["entities"] == {"EMAIL_ADDRESS": 2}


def test_ranked_responses_redacted_ranking_kept(patterns_only: Any, people: dict) -> None:
    result = ingest(patterns_only, people["olivia"], ranked(), **RANKED)
    records = sample(patterns_only, people, result.dataset_id)
    assert EMAIL not in json.dumps(records)
    assert [r["ranking"] for r in records] == [[2, 0], [1, 0, 2], [2, 0]]
    assert records[1]["responses"] == ["mail <EMAIL_ADDRESS> and wait", "use the reset link 1",
                                       "no idea"]
    fields = result.report["fields"]
    assert fields["responses"] == {"action": "redacted", "values": 9, "values_with_pii": 3,
                                   "entities": {"EMAIL_ADDRESS": 3}}
    assert fields["ranking"]["action"] == "kept" and fields["ranking"]["values_with_pii"] == 0
    # approved, read back for training and expanded: 1 + 3 + 1 pairs
    ds.approve_dataset(patterns_only, people["carol"], result.dataset_id, "ok")
    back = list(ds.read_records(patterns_only, people["olivia"], result.dataset_id))
    pairs = preference_pairs(back, JobConfig(task="sft", dataset_ids=[result.dataset_id]))
    assert len(pairs) == 5
    assert pairs[0] == {"prompt": [{"role": "user", "content": "how do I reset my password? (0)"}],
                        "chosen": "no idea", "rejected": "mail <EMAIL_ADDRESS> and wait"}


def test_rated_response_redacted_ratings_kept_as_given(patterns_only: Any,
                                                       people: dict) -> None:
    ratings: list[Any] = [True, "down", 4, 0.5, False, 0]
    records = [{"prompt": f"summarise ticket {i}", "response": f"{EMAIL} asked for a refund {i}",
                "rating": rating} for i, rating in enumerate(ratings)]
    result = ingest(patterns_only, people["olivia"], records, **RATED)
    assert result.rows == 6 and result.warnings == []  # false and 0 are ratings, not missing
    back = sample(patterns_only, people, result.dataset_id)
    assert [r["rating"] for r in back] == ratings
    assert EMAIL not in json.dumps(back)
    fields = result.report["fields"]
    assert fields["response"]["entities"] == {"EMAIL_ADDRESS": 6}
    assert fields["rating"]["action"] == "kept"


def test_rated_csv_ratings_are_words_and_numbers(patterns_only: Any, people: dict) -> None:
    data = (f"prompt,response,rating\nhi,write to {EMAIL},up\nhello,bye,2\n"
            "hey,thanks,maybe\n").encode()
    result = ingest(patterns_only, people["olivia"], data, fmt="csv", **RATED)
    assert result.rows == 2
    assert result.warnings == [f"1 of 3 records dropped: 1 {RATING_REASON}"]
    back = sample(patterns_only, people, result.dataset_id)
    assert [r["rating"] for r in back] == ["up", "2"]
    assert back[0]["response"] == "write to <EMAIL_ADDRESS>"


# -- malformed records: dropped and counted, or the whole upload refused --------------------------


GOOD_PAIR = {"prompt": "p", "chosen": "a", "rejected": "b"}
GOOD_RANKED = {"prompt": "p", "responses": ["a", "b", "c"], "ranking": [0, 1, 2]}
GOOD_RATED = {"prompt": "p", "response": "a", "rating": "up"}


@pytest.mark.parametrize(
    ("spec", "good", "bad", "expected"),
    [
        (PAIRWISE, GOOD_PAIR,
         [{"prompt": "p", "chosen": "same  answer", "rejected": "same answer"},
          {"prompt": "p", "chosen": "a"},
          {"prompt": [{"role": "bot", "content": "x"}], "chosen": "a", "rejected": "b"},
          {"prompt": [{"role": "user", "content": " "}], "chosen": "a", "rejected": "b"},
          {"prompt": "p", "chosen": 3, "rejected": "b"}],
         "5 of 7 records dropped: 1 missing 'rejected' (rejected field), "
         "1 with 'chosen' equal to 'rejected', 1 with a 'chosen' that is not text, "
         f"2 {PROMPT_REASON}"),
        (RANKED, GOOD_RANKED,
         [{"prompt": "p", "responses": ["a", "b"], "ranking": [0, 0]},
          {"prompt": "p", "responses": ["a", "b"], "ranking": [0, 5]},
          {"prompt": "p", "responses": ["a", "b"], "ranking": [True, False]},
          {"prompt": "p", "responses": ["a", "b"], "ranking": [1]},
          {"prompt": "p", "responses": ["a", "b"], "ranking": "0,1"},
          {"prompt": "p", "responses": ["only one"], "ranking": [0]},
          {"prompt": "p", "responses": ["a", {"text": "b"}], "ranking": [0, 1]},
          {"prompt": "p", "responses": ["a", " a "], "ranking": [1, 0]},
          {"prompt": "p", "responses": ["a", "b"]}],
         "9 of 11 records dropped: 1 missing 'ranking' (ranking field), "
         "2 with 'responses' not a list of at least 2 texts, "
         f"5 {RANKING_REASON}, "
         "1 with the same text twice among the ranked 'responses'"),
        (RATED, GOOD_RATED,
         [{"prompt": "p", "response": "a", "rating": "maybe"},
          {"prompt": "p", "response": "a", "rating": float("nan")},
          {"prompt": "p", "response": "a", "rating": [1]},
          {"prompt": "p", "response": "a", "rating": None},
          {"prompt": "p", "response": ["a"], "rating": 1}],
         f"5 of 7 records dropped: 1 missing 'rating' (rating field), "
         f"3 {RATING_REASON}, 1 with a 'response' that is not text"),
    ],
    ids=["pairwise", "ranked", "rated"],
)
def test_malformed_records_are_dropped_by_counted_reason(
    patterns_only: Any, people: dict, spec: dict[str, Any], good: dict[str, Any],
    bad: list[dict[str, Any]], expected: str,
) -> None:
    goods = [{**good, "prompt": f"p{i}"} for i in range(2)]
    result = ingest(patterns_only, people["olivia"], [goods[0], *bad, goods[1]], **spec)
    assert result.rows == 2
    assert result.warnings == [expected]
    report = ds.get_report(patterns_only, people["carol"], result.dataset_id)
    assert report["warnings"] == [expected]
    assert report["cleaning"]["dropped_malformed"] + report["cleaning"].get(
        "dropped_missing", 0) == len(bad)


def test_kept_fields_cannot_carry_text(patterns_only: Any, people: dict) -> None:
    """The ranking, the rating and a prompt's roles are stored as given, so only what their shape
    allows gets through: indices, thumbs, scores, three role names. Text in them is dropped."""
    result = ingest(patterns_only, people["olivia"],
                    [{**GOOD_RATED, "prompt": "p0"}, {**GOOD_RATED, "rating": EMAIL},
                     {**GOOD_RATED, "prompt": [{"role": EMAIL, "content": "hi"}]}], **RATED)
    assert result.rows == 1
    assert result.warnings == [f"2 of 3 records dropped: 1 {PROMPT_REASON}, 1 {RATING_REASON}"]
    assert EMAIL not in json.dumps(sample(patterns_only, people, result.dataset_id))
    result = ingest(patterns_only, people["olivia"],
                    [GOOD_RANKED, {**GOOD_RANKED, "ranking": [EMAIL, 0]}], name="ranked",
                    **RANKED)
    assert result.rows == 1 and result.warnings == [f"1 of 2 records dropped: 1 {RANKING_REASON}"]


def test_nothing_left_is_refused_and_nothing_stored(patterns_only: Any, people: dict) -> None:
    before = stored(patterns_only)
    bad = [{"prompt": f"p{i}", "responses": [f"mail {EMAIL}", "b"], "ranking": [0, 9]}
           for i in range(2)]
    with pytest.raises(InvalidInput) as err:
        ingest(patterns_only, people["olivia"], bad, **RANKED)
    assert str(err.value) == f"no records left: 2 of 2 records dropped: 2 {RANKING_REASON}"
    assert stored(patterns_only) == before
    assert EMAIL not in str(err.value)


NEEDS = ("task 'preference' needs --prompt-field and one of: --chosen-field/--rejected-field, "
         "--responses-field/--ranking-field, --response-field/--rating-field")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"task": "preference"}, NEEDS),
        ({"task": "preference", "chosen_field": "c", "rejected_field": "r"}, NEEDS),
        ({"task": "preference", "prompt_field": "p"}, NEEDS),
        ({**PAIRWISE, "rejected_field": None}, "task 'preference' (pairwise) needs "
         "--rejected-field too"),
        ({**RANKED, "responses_field": None}, "task 'preference' (ranked) needs "
         "--responses-field too"),
        ({**RATED, "response_field": None}, "task 'preference' (rated) needs --response-field "
         "too"),
        ({**PAIRWISE, "rating_field": "s"}, "a preference dataset has one shape, not several: "
         "pairwise (--chosen-field, --rejected-field) and rated (--rating-field)"),
        ({**RANKED, "chosen_field": "c"}, "one shape, not several: pairwise (--chosen-field) "
         "and ranked (--responses-field, --ranking-field)"),
        ({**PAIRWISE, "response_field": "x"}, "pairwise (--chosen-field, --rejected-field) and "
         "rated (--response-field)"),
        ({"task": "sft", "prompt_field": "p", "response_field": "r", "chosen_field": "c"},
         "--chosen-field is for task 'preference', not 'sft'"),
        ({"task": "raw", "ranking_field": "k", "rating_field": "s"},
         "--ranking-field, --rating-field are for task 'preference', not 'raw'"),
        ({**PAIRWISE, "chosen_field": "prompt"}, "the prompt and answer fields of a preference "
         "dataset must differ"),
        ({**PAIRWISE, "messages_field": "m"}, "takes no --messages-field"),
        ({**PAIRWISE, "keep_fields": ["chosen"]}, "fields both redacted and kept: chosen"),
        ({**RANKED, "redact_fields": ["ranking"]}, "fields both redacted and kept: ranking"),
        ({**RATED, "drop_fields": ["rating"]}, "fields both dropped and used: rating"),
    ],
)
def test_spec_refusals_name_what_is_wrong(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        ds.parse_spec(spec)
    assert message in str(err.value)


def test_spec_fields_of_each_shape() -> None:
    spec = ds.parse_spec(PAIRWISE)
    assert spec.text_fields() == ["prompt", "chosen", "rejected"]
    assert spec.kept_fields() == ["prompt.role"]
    assert spec.required_fields() == ["prompt", "chosen", "rejected"]
    spec = ds.parse_spec(RANKED)
    assert spec.text_fields() == ["prompt", "responses"]
    assert spec.kept_fields() == ["prompt.role", "ranking"]
    spec = ds.parse_spec(RATED)
    assert spec.text_fields() == ["prompt", "response"]
    assert spec.kept_fields() == ["prompt.role", "rating"]
    assert spec.chat_fields() == ["prompt", "prompt.role", "prompt.content"]
    # the campaign's spec (contract 5) is a valid one
    assert ds.parse_spec({"task": "preference", "prompt_field": "prompt",
                          "chosen_field": "chosen", "rejected_field": "rejected"}).task == \
        "preference"


# -- the CLI, the API and the console --------------------------------------------------------------


def test_cli_ingests_a_ranked_file(cli_home: dict, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_NER_BACKEND", "none")
    data = cli_home["tmp"] / "ranked.jsonl"
    data.write_bytes(jsonl(ranked()))
    h, tokens = cli_home["home"], cli_home["tokens"]
    code, out, err = run(capsys, "--home", h, "dataset", "ingest", str(data), "--name", "ranked",
                         "--task", "preference", "--prompt-field", "prompt", "--responses-field",
                         "responses", "--ranking-field", "ranking", "--no-progress", "--json",
                         token=tokens["olivia"])
    assert code == 0, err
    result = json.loads(out)
    assert result["state"] == "PENDING_REVIEW" and result["rows"] == 3
    assert result["fields"]["responses"]["action"] == "redacted"
    assert result["fields"]["ranking"]["action"] == "kept"
    code, out, _ = run(capsys, "--home", h, "dataset", "sample", result["dataset_id"],
                       token=tokens["carol"])
    assert code == 0 and EMAIL not in out and "<EMAIL_ADDRESS>" in out
    assert [json.loads(line)["ranking"] for line in out.splitlines()] == [[2, 0], [1, 0, 2],
                                                                        [2, 0]]
    # a shape missing its other half: exit 2, one line naming the flag, nothing stored
    code, _, err = run(capsys, "--home", h, "dataset", "ingest", str(data), "--name", "bad",
                       "--task", "preference", "--prompt-field", "prompt", "--chosen-field",
                       "responses", "--no-progress", token=tokens["olivia"])
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "needs --rejected-field too" in err
    code, out, _ = run(capsys, "--home", h, "dataset", "list", "--json", token=tokens["audra"])
    assert [d["name"] for d in json.loads(out)] == ["ranked"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from appliance.config import update_saved_settings

    home, tokens = make_home(tmp_path_factory.mktemp("pref-api"))
    update_saved_settings(home, ner_backend="none")
    live = start_server(home)
    live.tokens = tokens
    yield live
    stop_server(live)


def test_api_upload_takes_the_preference_options(server: LiveServer) -> None:
    response = server.client("olivia").post(
        "/v1/datasets", content=jsonl(pairwise()), headers={"Content-Type": "application/x-ndjson"},
        params={"name": "pairs.jsonl", **PAIRWISE})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "PENDING_REVIEW" and body["rows"] == 3
    assert body["fields"]["chosen"]["entities"] == {"EMAIL_ADDRESS": 3}
    dataset_id = body["dataset_id"]
    sampled = server.client("carol").get(f"/v1/datasets/{dataset_id}/sample").json()
    assert EMAIL not in json.dumps(sampled)
    before = server.stored()
    refused = server.client("olivia").post(
        "/v1/datasets", content=jsonl(pairwise()), headers={"Content-Type": "application/x-ndjson"},
        params={"name": "pairs.jsonl", **PAIRWISE, "rejected_field": "prompt"})
    assert refused.status_code == 400
    assert "must differ" in refused.json()["detail"]
    assert server.stored() == before


def test_console_upload_form_takes_the_preference_options(server: LiveServer) -> None:
    visitor = Visitor(server)
    visitor.sign_in(server.tokens["olivia"])
    form = visitor.request("GET", "/datasets/upload")
    assert form.status_code == 200
    for name in ("chosen_field", "rejected_field", "responses_field", "ranking_field",
                 "rating_field"):
        assert f'name="{name}"' in form.text
    assert '<option value="preference">' in form.text
    found = re.search(r'data-csrf="([^"]+)"', form.text)
    assert found is not None
    records = [{"prompt": f"rate this {i}", "response": f"ask {EMAIL}", "rating": i}
               for i in range(1, 6)]
    uploaded = visitor.http.post(
        "/datasets/upload", content=jsonl(records),
        params={"name": "rated.jsonl", **RATED},
        headers={"Cookie": f"{COOKIE}={visitor.sid}", "X-CSRF-Token": found.group(1),
                 "Accept": "application/json", "Content-Type": "application/octet-stream"})
    assert uploaded.status_code == 201, uploaded.text
    dataset_id = uploaded.json()["dataset_id"]
    info = server.client("carol").get(f"/v1/datasets/{dataset_id}").json()
    assert info["task"] == "preference" and info["state"] == "PENDING_REVIEW"
    assert info["spec"]["rating_field"] == "rating"
    back = server.client("carol").get(f"/v1/datasets/{dataset_id}/sample").json()["records"]
    assert [r["rating"] for r in back] == [1, 2, 3, 4, 5]
    assert EMAIL not in json.dumps(back)
    examples = rated_examples(back, JobConfig(task="sft", dataset_ids=[dataset_id]))
    assert [e["label"] for e in examples] == [False, False, True, True, True]
