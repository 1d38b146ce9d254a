"""A campaign's candidates generated as a job of its own: GENERATING, then OPEN or FAILED.

The worker's body (:func:`appliance.feedback.generate_candidates`) runs in this process, on the
tiny Llama bases of ``test_campaign_service``; the worker process itself is exercised by that
file's CLI test. Failure paths: a prompt dataset revoked between create and generation, an
error after some items were sealed (they are shredded), a worker interrupted mid-way (the next
one resumes after the last batch it stored). And the schema migration that brought the states.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from appliance import datasets as ds
from appliance import db, feedback
from appliance.errors import AccessDenied, InvalidInput
from tests.datasets import test_campaign_service as service_tests
from tests.datasets.test_campaign_service import PROMPTS, my_items

# the same fixtures: two tiny bases, annotators ann, bea and cid, an approved prompt dataset
tiny_bases = service_tests.tiny_bases
site = service_tests.site

SETTINGS: dict[str, Any] = {"name": "tone check", "models": ["base:tiny-a", "base:tiny-b"],
                            "candidates": 2, "reviewers": ["ann", "bea"], "overlap": 0.5,
                            "random_state": 7, "max_new_tokens": 6}


def create(ctx: Any, site: dict[str, Any], **options: Any) -> feedback.CampaignInfo:
    return feedback.create_campaign(ctx, site["olivia"], dataset_id=site["dataset_id"],
                                    start_worker_process=False, **{**SETTINGS, **options})


def failing_generate(monkeypatch: pytest.MonkeyPatch, after: int, error: BaseException) -> None:
    """chat.generate answers ``after`` calls, then raises; batches of two prompts."""
    from appliance.training import chat

    real, calls = chat.generate, []

    def generate(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > after:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(chat, "MAX_BATCH", 2)
    monkeypatch.setattr(chat, "generate", generate)


def test_create_records_a_generating_campaign_and_the_worker_opens_it(ctx: Any,
                                                                      site: dict) -> None:
    info = create(ctx, site)
    assert (info.state, info.items, info.pid) == ("GENERATING", 0, None)
    assert info.progress == {"done": 0, "total": 2 * len(PROMPTS), "prompts": len(PROMPTS)}
    assert info.progress_text() == f"generating 0/{2 * len(PROMPTS)} candidates"
    assert [r["name"] for r in info.reviewers] == ["ann", "bea"]  # known, but nothing assigned
    listed = feedback.list_campaigns(ctx, site["ann"])
    assert [(c["state"], c["assigned"]) for c in listed] == [("GENERATING", 0)]
    assert feedback.next_assignment(ctx, site["ann"], info.campaign_id) is None
    with pytest.raises(AccessDenied, match="campaign.assign needs OPEN, campaign is GENERATING"):
        feedback.assign_reviewers(ctx, site["olivia"], info.campaign_id, ["cid"])
    with pytest.raises(AccessDenied, match="campaign.close needs OPEN, campaign is GENERATING"):
        feedback.close_campaign(ctx, site["olivia"], info.campaign_id)
    assert not ctx.audit.query(action="model.generate", limit=10)  # nothing generated yet

    opened = feedback.generate_candidates(ctx, info.campaign_id)
    assert opened is not None and (opened.state, opened.items, opened.pid) == (
        "OPEN", len(PROMPTS), None)
    assert opened.progress["done"] == opened.progress["total"] == 2 * len(PROMPTS)
    assert opened.opened_at and len(my_items(ctx, site["ann"], info.campaign_id)) >= 4
    assert feedback.generate_candidates(ctx, info.campaign_id) is None  # nothing left to do
    # the worker acts as the creator: its reads and generations are olivia's, audited
    reads = ctx.audit.query(action="dataset.read_for_training", limit=10)
    assert [(e.actor, e.details["call"]) for e in reads] == [
        ("olivia", "campaign.create"), ("olivia", "campaign.generate")]
    generated = [e for e in ctx.audit.query(action="model.generate", limit=10)
                 if e.decision == "allow"]
    assert len(generated) == 2 and {e.actor for e in generated} == {"olivia"}
    assert [e.details["items"] for e in ctx.audit.query(action="campaign.stored")] == [6]


def test_a_prompt_dataset_revoked_before_generation_fails_the_campaign(ctx: Any,
                                                                       site: dict) -> None:
    info = create(ctx, site)
    ds.revoke_dataset(ctx, site["carol"], site["dataset_id"], "withdrawn")
    failed = feedback.generate_candidates(ctx, info.campaign_id)
    assert failed is not None and failed.state == "FAILED" and failed.items == 0
    assert "dataset.read_for_training" in (failed.error or "")
    assert failed.progress_text().startswith("failed: ")
    [event] = ctx.audit.query(action="campaign.failed")
    assert event.actor == "olivia" and event.details == {"error": "AccessDenied"}
    with pytest.raises(AccessDenied, match="campaign.close needs OPEN, campaign is FAILED"):
        feedback.close_campaign(ctx, site["olivia"], info.campaign_id)


def test_an_error_after_some_batches_shreds_what_was_sealed(
        ctx: Any, site: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    info = create(ctx, site)
    failing_generate(monkeypatch, after=3, error=InvalidInput("the model ran out of patience"))
    failed = feedback.generate_candidates(ctx, info.campaign_id)
    assert failed is not None and failed.state == "FAILED"
    assert failed.error == "the model ran out of patience" and failed.items == 0
    rows = ctx.conn.execute("SELECT wrapped_key FROM objects WHERE kind='campaign-item'")
    keys = [r[0] for r in rows.fetchall()]
    assert len(keys) == 2 and keys == [None, None]  # the first batch was sealed, then shredded
    assert ctx.conn.execute("SELECT count(*) FROM campaign_assignments").fetchone()[0] == 0


def test_an_interrupted_worker_is_resumed_after_its_last_batch(
        ctx: Any, site: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.training import chat

    real = chat.generate
    reference = create(ctx, site, name="reference")
    monkeypatch.setattr(chat, "MAX_BATCH", 2)
    feedback.generate_candidates(ctx, reference.campaign_id)
    info = create(ctx, site)
    failing_generate(monkeypatch, after=4, error=KeyboardInterrupt())  # in batch 3 of 3
    with pytest.raises(KeyboardInterrupt):
        feedback.generate_candidates(ctx, info.campaign_id)
    stopped = feedback.show_campaign(ctx, site["olivia"], info.campaign_id)
    assert (stopped.state, stopped.items) == ("GENERATING", 4)
    assert stopped.progress_text() == "generating 8/12 candidates"
    monkeypatch.setattr(chat, "generate", real)
    resumed = feedback.generate_candidates(ctx, info.campaign_id)
    assert resumed is not None and (resumed.state, resumed.items) == ("OPEN", len(PROMPTS))
    # seeded per slot: the resumed campaign holds the candidates an uninterrupted one does
    def texts(campaign_id: str) -> list[list[str]]:
        return [sorted(c["text"] for c in feedback.open_item(ctx, site["ann"], a).candidates)
                for a in my_items(ctx, site["ann"], campaign_id)]

    assert texts(info.campaign_id) == texts(reference.campaign_id)


def test_schema_v6_keeps_the_campaigns_of_v5(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / db.DB_FILE)
    try:
        for version, script in enumerate(db.MIGRATIONS[:5], start=1):  # a v5 home
            for statement in db._split(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={version}")
        conn.execute("INSERT INTO datasets(dataset_id, name, state, source_format, row_count,"
                     " content_hash, uploaded_by, created_at, updated_at) VALUES"
                     " ('ds_1', 'p', 'APPROVED', 'jsonl', 1, 'h', 'olivia', 't', 't')")
        conn.execute("INSERT INTO campaigns(campaign_id, name, state, dataset_id, models,"
                     " candidates, overlap, random_state, created_by, created_at) VALUES"
                     " ('cmp_1', 'old', 'OPEN', 'ds_1', '[\"base:x\"]', 2, 0, 0, 'olivia', 't')")
        assert db.schema_version(conn) == 5
        assert db.migrate(conn) == db.schema_version(conn) == 6
        from appliance.feedback import store

        info = store.get_campaign(conn, "cmp_1")
        assert (info.state, info.created_role, info.pid, info.progress, info.error) == (
            "OPEN", "operator", None, {}, None)
        with pytest.raises(sqlite3.OperationalError, match="duplicate column"):
            conn.execute("ALTER TABLE campaigns ADD COLUMN progress TEXT")
    finally:
        conn.close()


def test_ingest_refuses_a_lineage_that_is_not_json(ctx: Any, site: dict) -> None:
    import io

    before = ctx.conn.execute("SELECT count(*) FROM datasets").fetchone()[0]
    body = json.dumps({"prompt": "hi"}).encode() + b"\n"
    for bad in ({"campaign_id": object()}, ["cmp_1"]):
        with pytest.raises(InvalidInput, match="lineage must be a mapping"):
            ds.ingest_stream(ctx, site["olivia"], io.BytesIO(body), name="x",
                             source_name="x.jsonl", fmt="jsonl",
                             spec=ds.parse_spec({"task": "raw", "redact": False}),
                             lineage=bad)  # type: ignore[arg-type]
    assert ctx.conn.execute("SELECT count(*) FROM datasets").fetchone()[0] == before


def test_a_campaign_no_worker_owns_is_recovered_by_a_worker_process(ctx: Any,
                                                                    site: dict) -> None:
    """What ``appliance serve`` at start-up and the ``appliance worker`` runner do: a
    GENERATING campaign whose worker is gone (here: never started, then a pid that is not a
    campaign worker) gets a real worker process, once."""
    import os

    info = create(ctx, site)
    ctx.conn.execute("UPDATE campaigns SET pid=? WHERE campaign_id=?",
                     (os.getpid(), info.campaign_id))  # alive, but not its worker
    assert feedback.recover_campaigns(ctx) == [info.campaign_id]
    assert feedback.recover_campaigns(ctx) == []  # its worker is alive now (or done)
    opened = feedback.wait_for_campaign(ctx, info.campaign_id, poll_s=0.2, timeout_s=300)
    assert (opened.state, opened.items, opened.pid) == ("OPEN", len(PROMPTS), None)
