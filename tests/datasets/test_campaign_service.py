"""Feedback campaigns through the service functions, against a real home: tiny Llama bases
write the candidates (``base:<name>``), the Rego policy decides, the vault seals every item.
The generation worker's body runs in this process (``generate_candidates``), except in the CLI
test, where ``campaign create`` starts the real worker process and waits for it.

Adversarial cases: forged item ids, another reviewer's item, a judgement once the campaign is
closed, malformed rankings; each gets its specific error and changes nothing stored.
"""

from __future__ import annotations

import io
import json
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from appliance import datasets as ds
from appliance import feedback
from appliance.errors import AccessDenied, Conflict, InvalidInput
from appliance.gate import Principal

PROMPTS = ["how do i check my balance", "my card was stolen what now",
           "why is my transfer pending", "how do i change my pin",
           "can i close my account", "the app is crashing please help"]


def preference_task_ready() -> bool:
    from appliance.datasets.spec import Task

    return "preference" in typing.get_args(Task)


@pytest.fixture(scope="module")
def tiny_bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.training.tiny_models import make_tiny_llama

    root = tmp_path_factory.mktemp("campaign-bases")
    return {name: make_tiny_llama(root / name) for name in ("tiny-a", "tiny-b")}


@pytest.fixture
def site(ctx: Any, people: dict[str, Any], tiny_bases: dict[str, Path]) -> dict[str, Any]:
    """Two registered bases, two annotators, an approved prompt dataset."""
    from appliance.identity import add_user
    from appliance.training import registry

    for name, path in tiny_bases.items():
        registry._insert(ctx, name, path, registry.directory_sha256(path))
    for name in ("ann", "bea", "cid"):
        add_user(ctx, name, "annotator")
    body = b"".join(json.dumps({"prompt": p}).encode() + b"\n" for p in PROMPTS)
    result = ds.ingest_stream(ctx, people["olivia"], io.BytesIO(body), name="prompts",
                              source_name="prompts.jsonl", fmt="jsonl",
                              spec=ds.parse_spec({"task": "raw", "redact": False}))
    ds.approve_dataset(ctx, people["carol"], result.dataset_id)
    return {**people, "ann": Principal("ann", "annotator"), "bea": Principal("bea", "annotator"),
            "cid": Principal("cid", "annotator"), "dataset_id": result.dataset_id}


def campaign(ctx: Any, site: dict[str, Any], **options: Any) -> feedback.CampaignInfo:
    settings: dict[str, Any] = {
        "name": "tone check", "dataset_id": site["dataset_id"],
        "models": ["base:tiny-a", "base:tiny-b"], "candidates": 2, "reviewers": ["ann", "bea"],
        "overlap": 0.5, "random_state": 7, "max_new_tokens": 8, **options}
    created = feedback.create_campaign(ctx, site["olivia"], start_worker_process=False,
                                       **settings)
    assert created.state == "GENERATING" and created.items == 0
    generated = feedback.generate_candidates(ctx, created.campaign_id)
    assert generated is not None
    return generated


def stored(ctx: Any) -> list[tuple[Any, ...]]:
    """Every campaign row and judgement, to show that a refused call changed nothing."""
    rows = ctx.conn.execute("SELECT assignment_id, verdict, ranking, judged_at FROM"
                            " campaign_assignments ORDER BY assignment_id").fetchall()
    states = ctx.conn.execute("SELECT campaign_id, state, result_dataset_id FROM campaigns"
                              " ORDER BY campaign_id").fetchall()
    return [tuple(r) for r in rows] + [tuple(r) for r in states]


def my_items(ctx: Any, who: Principal, campaign_id: str) -> list[str]:
    rows = ctx.conn.execute("SELECT assignment_id FROM campaign_assignments a JOIN"
                            " campaign_items i ON i.item_id=a.item_id WHERE a.reviewer=? AND"
                            " a.campaign_id=? ORDER BY i.position", (who.name, campaign_id))
    return [r[0] for r in rows.fetchall()]


def test_create_seals_prompts_and_candidates_and_assigns_evenly(ctx: Any, site: dict) -> None:
    info = campaign(ctx, site)
    assert (info.state, info.items, info.candidates) == ("OPEN", len(PROMPTS), 2)
    assert info.models == ["base:tiny-a", "base:tiny-b"]
    rows = ctx.conn.execute("SELECT reviewer, count(*) FROM campaign_assignments GROUP BY"
                            " reviewer").fetchall()
    # 6 items, half of them (3) shown to both reviewers: 9 assignments, 4 or 5 each
    assert sum(r[1] for r in rows) == 9 and sorted(r[1] for r in rows) == [4, 5]
    kinds = [r[0] for r in ctx.conn.execute("SELECT kind FROM objects").fetchall()]
    assert kinds.count("campaign-item") == len(PROMPTS)
    # no prompt or candidate text in the database file, only in sealed objects
    view = feedback.open_item(ctx, site["ann"], my_items(ctx, site["ann"], info.campaign_id)[0])
    raw = b"".join(p.read_bytes() for p in ctx.home.glob("appliance.db*"))
    for text in [PROMPTS[0], *(c["text"] for c in view.candidates if len(c["text"]) > 12)]:
        assert text.encode() not in raw
    events = ctx.audit.query(action="model.generate", limit=100)
    assert len([e for e in events if e.decision == "allow"]) == 2  # one call per slot


def test_an_item_is_shown_blind_and_its_read_audited(ctx: Any, site: dict) -> None:
    info = campaign(ctx, site, overlap=1.0, candidates=4)
    ann, bea = my_items(ctx, site["ann"], info.campaign_id), my_items(
        ctx, site["bea"], info.campaign_id)
    assert len(ann) == len(bea) == len(PROMPTS)  # overlap 1: every item to both
    views = [(feedback.open_item(ctx, site["ann"], a), feedback.open_item(ctx, site["bea"], b))
             for a, b in zip(ann, bea, strict=True)]
    for one, two in views:
        shown = json.dumps(one.as_dict())
        assert "tiny-a" not in shown and "tiny-b" not in shown and "base:" not in shown
        assert [c["label"] for c in one.candidates] == ["A", "B", "C", "D"]
        assert sorted(c["text"] for c in one.candidates) == sorted(
            c["text"] for c in two.candidates)
    orders = [json.loads(r[0]) for r in ctx.conn.execute(
        "SELECT shown_order FROM campaign_assignments").fetchall()]
    assert len({tuple(o) for o in orders}) > 1  # not one order for everyone
    reads = [e for e in ctx.audit.query(action="campaign.item.read", limit=100)]
    assert len(reads) == 2 * len(PROMPTS) and {e.decision for e in reads} == {"allow"}
    assert {e.actor for e in reads} == {"ann", "bea"}
    # the order is the campaign's: created again with the same random state, the same orders
    again = campaign(ctx, site, overlap=1.0, candidates=4)
    later = [json.loads(r[0]) for r in ctx.conn.execute(
        "SELECT shown_order FROM campaign_assignments WHERE campaign_id=? ORDER BY item_id",
        (again.campaign_id,)).fetchall()]
    assert sorted(map(tuple, later)) == sorted(map(tuple, orders))


def test_a_judgement_is_stored_as_candidates_not_screen_letters(ctx: Any, site: dict) -> None:
    info = campaign(ctx, site, candidates=3, models=["base:tiny-a"])
    first = my_items(ctx, site["ann"], info.campaign_id)[0]
    order = json.loads(ctx.conn.execute("SELECT shown_order FROM campaign_assignments WHERE"
                                        " assignment_id=?", (first,)).fetchone()[0])
    saved = feedback.judge_item(ctx, site["ann"], first, "rank",
                                feedback.parse_labels("C A B", 3))
    assert saved["ranking"] == ["C", "A", "B"]
    ranking = json.loads(ctx.conn.execute("SELECT ranking FROM campaign_assignments WHERE"
                                          " assignment_id=?", (first,)).fetchone()[0])
    assert ranking == [order[2], order[0], order[1]]
    assert feedback.next_assignment(ctx, site["ann"], info.campaign_id) != first
    with pytest.raises(Conflict, match="already judged"):
        feedback.judge_item(ctx, site["ann"], first, "skip")


@pytest.mark.parametrize("forged", ["ca_0000000000000000", "", "x" * 300, "ca_' OR 1=1 --"])
def test_a_forged_item_id_is_refused_and_audited(ctx: Any, site: dict, forged: str) -> None:
    campaign(ctx, site)
    before = stored(ctx)
    with pytest.raises(AccessDenied):
        feedback.open_item(ctx, site["ann"], forged)
    with pytest.raises(AccessDenied):
        feedback.judge_item(ctx, site["ann"], forged, "pick", [0])
    assert stored(ctx) == before
    denials = [e for e in ctx.audit.query(limit=1000) if e.decision == "deny"
               and e.action in ("campaign.item.read", "campaign.item.judge")]
    assert len(denials) == 2 and {e.actor for e in denials} == {"ann"}


def test_another_reviewers_item_is_refused(ctx: Any, site: dict) -> None:
    info = campaign(ctx, site, overlap=0.0)
    bea_item = my_items(ctx, site["bea"], info.campaign_id)[0]
    assert bea_item not in my_items(ctx, site["ann"], info.campaign_id)
    before = stored(ctx)
    for who in ("ann", "cid", "olivia", "carol", "audra"):
        with pytest.raises(AccessDenied) as refused:
            feedback.open_item(ctx, site[who], bea_item)
        with pytest.raises(AccessDenied):
            feedback.judge_item(ctx, site[who], bea_item, "pick", [0])
        if who in ("ann", "cid"):
            assert refused.value.reasons == [
                f"assignment: campaign_item {bea_item} is not assigned to {who}"]
    assert stored(ctx) == before


def test_a_closed_campaign_takes_no_judgement(ctx: Any, site: dict) -> None:
    info = campaign(ctx, site)
    item = my_items(ctx, site["ann"], info.campaign_id)[0]
    feedback.close_campaign(ctx, site["olivia"], info.campaign_id)  # nothing judged: no dataset
    before = stored(ctx)
    with pytest.raises(AccessDenied) as refused:
        feedback.judge_item(ctx, site["ann"], item, "pick", [1])
    assert refused.value.reasons == [
        "state: campaign.item.judge needs OPEN, campaign_item is CLOSED"]
    with pytest.raises(AccessDenied):
        feedback.open_item(ctx, site["ann"], item)
    with pytest.raises(AccessDenied, match="campaign.close"):
        feedback.close_campaign(ctx, site["olivia"], info.campaign_id)
    assert stored(ctx) == before
    assert feedback.show_campaign(ctx, site["olivia"], info.campaign_id).result_dataset_id is None


@pytest.mark.parametrize(("verdict", "positions", "message"), [
    ("rank", [0, 0, 1], "lists every candidate"),
    ("rank", [0, 1], "lists every candidate"),
    ("rank", [2, 1, 0, 3], "only the candidates shown"),
    ("rank", [-1, 0, 1], "only the candidates shown"),
    ("pick", [0, 1], "one best candidate"),
    ("pick", [], "one best candidate"),
    ("both_bad", [0], "names no candidate"),
    ("skip", [1], "names no candidate"),
    ("best", [0], "verdict must be one of"),
    ("rank", [True, 0, 1], "whole numbers"),
    ("rank", "012", "whole numbers"),
])
def test_a_malformed_judgement_is_refused_and_changes_nothing(
        ctx: Any, site: dict, verdict: str, positions: Any, message: str) -> None:
    info = campaign(ctx, site, candidates=3, models=["base:tiny-a"])
    item = my_items(ctx, site["ann"], info.campaign_id)[0]
    before = stored(ctx)
    with pytest.raises(InvalidInput, match=message):
        feedback.judge_item(ctx, site["ann"], item, verdict, positions)
    assert stored(ctx) == before


def test_labels_parse_and_refuse_what_is_not_shown() -> None:
    assert feedback.parse_labels("B A C", 3) == [1, 0, 2]
    assert feedback.parse_labels("b>a>c", 3) == [1, 0, 2]
    assert feedback.parse_labels("bac", 3) == [1, 0, 2]
    with pytest.raises(InvalidInput, match="not one of the candidates A, B"):
        feedback.parse_labels("A C", 2)


@pytest.mark.parametrize(("options", "message"), [
    ({"models": []}, "at least one model"),
    ({"models": ["gpt-4"]}, "not a model"),
    ({"candidates": 1}, "2 to 8"),
    ({"candidates": 2, "models": ["base:tiny-a", "base:tiny-b", "base:x"]}, "one candidate per"),
    ({"overlap": 1.5}, "0 to 1"),
    ({"name": " "}, "1-200 characters"),
    ({"reviewers": ["olivia"]}, "cannot judge campaign items"),
])
def test_bad_settings_create_nothing(ctx: Any, site: dict, options: dict, message: str) -> None:
    before = stored(ctx), ctx.conn.execute("SELECT count(*) FROM objects").fetchone()[0]
    with pytest.raises(InvalidInput, match=message):
        campaign(ctx, site, **options)
    assert (stored(ctx), ctx.conn.execute("SELECT count(*) FROM objects").fetchone()[0]) == before


def test_only_operators_create_and_only_from_approved_prompts(ctx: Any, site: dict) -> None:
    for who in ("ann", "carol", "audra", "adam"):
        with pytest.raises(AccessDenied, match="campaign.create"):
            feedback.create_campaign(ctx, site[who], name="x", dataset_id=site["dataset_id"],
                                     models=["base:tiny-a"])
    body = json.dumps({"prompt": "hello"}).encode() + b"\n"
    pending = ds.ingest_stream(ctx, site["olivia"], io.BytesIO(body), name="p",
                               source_name="p.jsonl", fmt="jsonl",
                               spec=ds.parse_spec({"task": "raw", "redact": False}))
    with pytest.raises(AccessDenied, match="dataset.read_for_training"):
        campaign(ctx, site, dataset_id=pending.dataset_id)
    assert ctx.conn.execute("SELECT count(*) FROM campaigns").fetchone()[0] == 0


def test_annotators_see_their_campaigns_and_nothing_else(ctx: Any, site: dict) -> None:
    info = campaign(ctx, site)
    listed = feedback.list_campaigns(ctx, site["ann"])
    assert [c["view"] for c in listed] == ["reviewer"]
    assert "models" not in listed[0] and listed[0]["campaign_id"] == info.campaign_id
    assert feedback.list_campaigns(ctx, site["cid"]) == []  # assigned nothing
    with pytest.raises(AccessDenied):
        feedback.show_campaign(ctx, site["ann"], info.campaign_id)
    with pytest.raises(AccessDenied):
        feedback.campaign_results(ctx, site["ann"], info.campaign_id)
    with pytest.raises(AccessDenied, match="annotators only judge"):
        ds.list_datasets(ctx, site["ann"])
    full = feedback.list_campaigns(ctx, site["audra"])
    assert full[0]["view"] == "full" and full[0]["models"] == info.models
    assert feedback.campaign_results(ctx, site["audra"], info.campaign_id)["items"] == 6


def test_assign_adds_reviewers_and_fills_overlap(ctx: Any, site: dict) -> None:
    info = campaign(ctx, site, reviewers=["ann"], overlap=1.0)
    assert len(my_items(ctx, site["ann"], info.campaign_id)) == len(PROMPTS)
    feedback.assign_reviewers(ctx, site["olivia"], info.campaign_id, ["bea"])
    assert len(my_items(ctx, site["bea"], info.campaign_id)) == len(PROMPTS)
    with pytest.raises(InvalidInput, match="cannot judge"):
        feedback.assign_reviewers(ctx, site["olivia"], info.campaign_id, ["audra"])
    with pytest.raises(AccessDenied):
        feedback.assign_reviewers(ctx, site["carol"], info.campaign_id, ["cid"])


def test_cohen_kappa_of_a_known_table() -> None:
    # Cohen's example shape: 50 cases, 20 yes/yes, 15 no/no, 5 yes/no, 10 no/yes
    labels = ([("y", "y")] * 20 + [("n", "n")] * 15 + [("y", "n")] * 5 + [("n", "y")] * 10)
    assert feedback.cohen_kappa(labels) == pytest.approx(0.4)
    assert feedback.cohen_kappa([]) is None
    assert feedback.cohen_kappa([("y", "y")] * 3) is None  # chance agreement already 1


def _judge_all(ctx: Any, site: dict, info: Any, picks: dict[str, int]) -> None:
    for who, pick in picks.items():
        for item in my_items(ctx, site[who], info.campaign_id):
            feedback.judge_item(ctx, site[who], item, "rank", [pick, 1 - pick])


def test_results_give_progress_kappa_and_win_rates(ctx: Any, site: dict) -> None:
    info = campaign(ctx, site, overlap=1.0)
    ann = my_items(ctx, site["ann"], info.campaign_id)
    # ann ranks by model: tiny-a first on every item; bea agrees on four items, skips one
    for item in ann:
        row = ctx.conn.execute("SELECT shown_order FROM campaign_assignments WHERE"
                               " assignment_id=?", (item,)).fetchone()
        order = json.loads(row[0])
        feedback.judge_item(ctx, site["ann"], item, "rank",
                            [order.index(0), order.index(1)])  # candidate 0 is tiny-a's
    for n, item in enumerate(my_items(ctx, site["bea"], info.campaign_id)):
        order = json.loads(ctx.conn.execute("SELECT shown_order FROM campaign_assignments"
                                            " WHERE assignment_id=?", (item,)).fetchone()[0])
        if n == 5:
            feedback.judge_item(ctx, site["bea"], item, "skip")
        elif n == 4:
            feedback.judge_item(ctx, site["bea"], item, "both_bad")
        else:
            feedback.judge_item(ctx, site["bea"], item, "pick", [order.index(0 if n else 1)])
    results = feedback.campaign_results(ctx, site["carol"], info.campaign_id)
    assert results["progress"]["done"] == 12 and results["progress"]["pending"] == 0
    assert results["progress"]["verdicts"] == {"rank": 6, "pick": 4, "both_bad": 1, "skip": 1}
    assert results["agreement"]["items"] == 5 and results["agreement"]["pairs"] == 5
    assert results["agreement"]["observed"] == pytest.approx(3 / 5)
    # ann: first x5; bea: second, first, first, first, neither
    expected = feedback.cohen_kappa([("first", "second"), ("first", "first"),
                                     ("first", "first"), ("first", "first"),
                                     ("first", "neither")])
    assert results["agreement"]["kappa"] == pytest.approx(expected)
    rates = {r["model"]: r for r in results["win_rates"]}
    assert rates["base:tiny-a"]["wins"] == 6 + 3 and rates["base:tiny-b"]["wins"] == 1
    assert rates["base:tiny-a"]["comparisons"] == rates["base:tiny-b"]["comparisons"] == 10
    reviewers = {r["reviewer"] for r in results["progress"]["by_reviewer"]}
    assert all(r.startswith("rv_") for r in reviewers) and '"ann"' not in json.dumps(results)


def test_closing_produces_a_pending_preference_dataset_with_lineage(
        ctx: Any, site: dict, capsys: pytest.CaptureFixture[str]) -> None:
    info = campaign(ctx, site, overlap=1.0, candidates=3)
    for who in ("ann", "bea"):
        for item in my_items(ctx, site[who], info.campaign_id):
            feedback.judge_item(ctx, site[who], item, "rank", [2, 0, 1])
    if not preference_task_ready():
        before = stored(ctx)
        with pytest.raises(InvalidInput, match="invalid dataset spec"):
            feedback.close_campaign(ctx, site["olivia"], info.campaign_id)
        assert stored(ctx) == before  # the campaign stays open, nothing half-made
        pytest.skip("the 'preference' dataset task (helper prefdata) has not landed yet: the "
                    "campaign's dataset cannot be ingested")
    closed = feedback.close_campaign(ctx, site["olivia"], info.campaign_id)
    assert closed.state == "CLOSED" and closed.result_dataset_id
    dataset = ds.get_dataset(ctx, closed.result_dataset_id)
    assert (dataset.state, dataset.task, dataset.uploaded_by) == (
        "PENDING_REVIEW", "preference", "olivia")
    assert dataset.row_count >= 3  # 6 items x 3 pairs, both reviewers agree: duplicates go
    lineage = closed.lineage or {}
    assert lineage["campaign_id"] == info.campaign_id and lineage["models"] == info.models
    assert {r["role"] for r in lineage["reviewers"]} == {"annotator"}
    assert '"ann"' not in json.dumps(lineage) and '"bea"' not in json.dumps(lineage)
    sample = ds.sample_records(ctx, site["carol"], closed.result_dataset_id, n=3)
    assert set(sample[0]) == {"prompt", "chosen", "rejected"}
    # the lineage is sealed in the dataset's ingest report, read by its reviewer
    report = ds.get_report(ctx, site["carol"], closed.result_dataset_id)
    sealed = report["lineage"]
    assert (sealed["campaign_id"], sealed["models"]) == (info.campaign_id, info.models)
    pseudonyms = {r["name"]: r["pseudonym"] for r in info.reviewers}
    assert sorted(sealed["reviewers"], key=lambda r: r["pseudonym"]) == sorted(
        ({"role": "annotator", "pseudonym": pseudonyms[n]} for n in ("ann", "bea")),
        key=lambda r: r["pseudonym"])
    assert not re.search(r"\b(ann|bea)\b", json.dumps(sealed))  # never a user name
    from appliance.cli.datasets import print_lineage

    print_lineage(sealed)
    shown = capsys.readouterr().out
    assert f"made by campaign {info.campaign_id}" in shown and pseudonyms["ann"] in shown
    assert "base:tiny-a, base:tiny-b" in shown and not re.search(r"\b(ann|bea)\b", shown)


def test_the_cli_runs_a_campaign(ctx: Any, site: dict, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.cli.main import main

    home = ["--home", str(ctx.home)]
    monkeypatch.setenv("APPLIANCE_TOKEN", site["olivia_token"])
    # the real worker process generates the candidates; `campaign wait` follows it
    assert main(["campaign", "create", site["dataset_id"], "--name", "cli", "--model",
                 "base:tiny-a", "--model", "base:tiny-b", "--reviewer", "ann",
                 "--max-new-tokens", "6", "--no-wait", "--json", *home]) == 0
    created = json.loads(capsys.readouterr().out)
    campaign_id = created["campaign_id"]
    assert created["state"] == "GENERATING" and created["progress_text"] == (
        "generating 0/12 candidates")
    assert main(["campaign", "wait", campaign_id, *home]) == 0
    followed = capsys.readouterr()
    assert f"campaign {campaign_id} is open: 6 items" in followed.out
    assert "GENERATING  generating" in followed.err and "OPEN  open" in followed.err
    assert main(["campaign", "assign", campaign_id, "bea", *home]) == 0
    assert "ann, bea" in capsys.readouterr().out
    assert main(["campaign", "list", *home]) == 0
    assert campaign_id in capsys.readouterr().out
    assert main(["campaign", "show", campaign_id, *home]) == 0
    shown = capsys.readouterr().out
    assert "0/6 judged" in shown and "undefined" in shown
    monkeypatch.setenv("APPLIANCE_TOKEN", site["carol_token"])
    assert main(["campaign", "close", campaign_id, *home]) == 4  # compliance: access denied
    assert "may not campaign.close" in capsys.readouterr().err
    monkeypatch.setenv("APPLIANCE_TOKEN", site["olivia_token"])
    assert main(["campaign", "close", campaign_id, *home]) == 0
    assert "no judgement gave a pair" in capsys.readouterr().out
