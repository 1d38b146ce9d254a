"""Feedback campaigns: create, assign, judge, results, close (DESIGN.md, "How data flows").

A campaign takes an APPROVED prompt dataset (read through the gate as
``dataset.read_for_training``), one or more generative models (``mdl_...`` or ``base:<name>``)
and ``candidates`` (K) per prompt: candidate slot c is written by model ``c mod n`` with sampling
seeded from the campaign's random state and c, through :func:`appliance.training.chat.generate`
(one ``model.generate`` action per model, slot and batch of prompts, with its output guard).
Creating a campaign checks its settings, reads the prompts once to refuse a bad dataset at once,
and records it GENERATING; a worker process (:mod:`appliance.feedback.generation`) then writes
the candidates, seals the items, assigns the reviewers and opens it (or marks it FAILED).

Each item's prompt and candidate texts are sealed in the vault as one object; the database holds
only which model wrote which candidate, the order each reviewer is shown (seeded per item and
reviewer) and the judgements as candidate indices. Every item shown is a ``campaign.item.read``
through the gate (policy, audit event, then decrypt); every judgement a ``campaign.item.judge``
decision. An item is the resource ``campaign_item`` owned by its one reviewer, so the policy
refuses anyone else's (and every id that names no item: the refusal is audited like any other).

Closing expands the judgements into (chosen, rejected) pairs and ingests them with
:func:`appliance.datasets.ingest_stream` as a ``preference`` dataset (PENDING_REVIEW, redacted,
encrypted, to be approved by compliance like any dataset); its lineage (campaign, models,
reviewers by role and pseudonym, never by name) is kept with the campaign and in the
dataset's sealed ingest report (``lineage``), where its reviewer reads it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.db import transaction
from appliance.errors import AccessDenied, Conflict, InvalidInput
from appliance.feedback import agreement, judging, store
from appliance.feedback.store import CLOSED, GENERATING, OPEN, Assignment, CampaignInfo
from appliance.gate import Principal, authorize, begin_action, build_input, read_object

if TYPE_CHECKING:
    from appliance.context import Context

MAX_PROMPTS = 500
MAX_CANDIDATES = 8
MAX_MODELS = 4
PURPOSE = "feedback"
ITEM_OBJECT_KIND = "campaign-item"
PREFERENCE_SPEC = {"task": "preference", "prompt_field": "prompt", "chosen_field": "chosen",
                   "rejected_field": "rejected"}


@dataclass(frozen=True)
class ItemView:
    """What a reviewer sees of one item: the prompt and lettered candidates, nothing else."""

    assignment_id: str
    campaign_id: str
    campaign_name: str
    prompt: Any
    candidates: list[dict[str, str]]
    done: int
    total: int
    verdict: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"assignment_id": self.assignment_id, "campaign_id": self.campaign_id,
                "campaign_name": self.campaign_name, "prompt": self.prompt,
                "candidates": self.candidates, "done": self.done, "total": self.total,
                "verdict": self.verdict}


# -- creating ---------------------------------------------------------------------------------


def create_campaign(
    ctx: Context, principal: Principal, *, name: str, dataset_id: str, models: Sequence[str],
    candidates: int = 2, reviewers: Sequence[str] = (), overlap: float = 0.0,
    random_state: int = 0, prompt_field: str = "prompt", max_prompts: int = MAX_PROMPTS,
    max_new_tokens: int = 48, temperature: float = 0.9, start_worker_process: bool = True,
) -> CampaignInfo:
    """Record the campaign GENERATING (one audited ``campaign.create``) and start the worker
    that generates its candidates. The models are looked up and the prompts read here, once,
    through the gate, so that a missing model or a bad prompt dataset is refused now rather
    than by the worker. ``start_worker_process=False`` leaves the generation to
    :func:`~appliance.feedback.generation.generate_candidates` in this process, or to
    :func:`~appliance.feedback.generation.recover_campaigns` (a separate worker service)."""
    from appliance.feedback import generation
    from appliance.training import chat

    refs = _check_settings(name, models, candidates, overlap, random_state, max_prompts)
    generation_options(candidates, random_state, max_new_tokens, temperature)  # refuse now
    campaign_id = store.new_id("cmp_")
    resource = {"type": "campaign", "id": campaign_id, "created_by": principal.name}
    action = begin_action(ctx, principal, "campaign.create", resource, PURPOSE,
                          {"dataset_id": dataset_id, "models": refs, "candidates": candidates})
    try:
        people = [_reviewer(ctx, n) for n in dict.fromkeys(reviewers)]
        for ref in refs:
            chat.resolve(ctx, ref)  # NotFound, or InvalidInput for a model that cannot generate
        prompts = read_prompts(ctx, principal, dataset_id, prompt_field, max_prompts,
                               campaign_id, "campaign.create")
        settings = {"prompt_field": prompt_field, "max_new_tokens": max_new_tokens,
                    "temperature": temperature, "max_prompts": max_prompts}
        progress = {"done": 0, "total": len(prompts) * candidates, "prompts": len(prompts)}
        now = ctx.now()
        with transaction(ctx.conn):
            ctx.conn.execute(
                "INSERT INTO campaigns(campaign_id, name, state, dataset_id, models, candidates,"
                " overlap, random_state, settings, created_by, created_role, created_at,"
                " progress) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (campaign_id, name.strip(), GENERATING, dataset_id, json.dumps(refs),
                 candidates, overlap, random_state, json.dumps(settings), principal.name,
                 principal.role, now, json.dumps(progress, sort_keys=True)))
            for reviewer, role in people:
                store.add_reviewer(ctx.conn, campaign_id, reviewer, role, now)
            action.complete()  # in the same transaction: the campaign exists iff created
    except BaseException as exc:
        action.fail(exc)
        raise
    if start_worker_process:
        generation.start_worker(ctx, campaign_id)
    return store.get_campaign(ctx.conn, campaign_id)


def generation_options(candidates: int, random_state: int, max_new_tokens: int,
                       temperature: float) -> list[Any]:
    """The sampling options of each candidate slot: seeded by the random state and the slot."""
    from appliance.training import chat

    return [chat.make_options(max_new_tokens=max_new_tokens, temperature=temperature,
                              top_p=0.95, seed=(random_state + 7919 * (c + 1)) % 2**32)
            for c in range(candidates)]


def _check_settings(name: str, models: Sequence[str], candidates: int, overlap: float,
                    random_state: int, max_prompts: int) -> list[str]:
    from appliance.training import chat

    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput("campaign name must be 1-200 characters")
    if isinstance(models, str) or not models:
        raise InvalidInput("name at least one model: mdl_... or base:<name>")
    refs = [str(chat.parse_ref(m)) for m in dict.fromkeys(models)]
    if len(refs) > MAX_MODELS:
        raise InvalidInput(f"at most {MAX_MODELS} models per campaign, got {len(refs)}")
    if isinstance(candidates, bool) or not isinstance(candidates, int) or not (
            2 <= candidates <= MAX_CANDIDATES):
        raise InvalidInput(f"candidates per prompt must be 2 to {MAX_CANDIDATES}")
    if candidates < len(refs):
        raise InvalidInput(f"{candidates} candidates per prompt cannot come from {len(refs)} "
                           "models: give at least one candidate per model")
    if not isinstance(overlap, int | float) or isinstance(overlap, bool) or not 0 <= overlap <= 1:
        raise InvalidInput("overlap is the share of items shown to two reviewers: 0 to 1")
    if isinstance(random_state, bool) or not isinstance(random_state, int) or not (
            0 <= random_state < 2**32):
        raise InvalidInput("random state must be a whole number from 0 to 2**32 - 1")
    if not isinstance(max_prompts, int) or not 1 <= max_prompts <= MAX_PROMPTS:
        raise InvalidInput(f"max prompts must be 1 to {MAX_PROMPTS}")
    return refs


def _reviewer(ctx: Context, name: str) -> tuple[str, str]:
    """A user the policy lets judge an item assigned to them (annotators), with their role."""
    from appliance.identity import get_user

    user = get_user(ctx, name)
    probe = {"type": "campaign_item", "id": "probe", "state": OPEN, "owner": user.name}
    decision = ctx.policy.decide(build_input(Principal(user.name, user.role),
                                             "campaign.item.judge", probe, PURPOSE))
    if not decision.allow or user.revoked_at:
        raise InvalidInput(f"user {user.name} ({user.role}) cannot judge campaign items: "
                           "assign annotators")
    return user.name, user.role


def read_prompts(ctx: Context, principal: Principal, dataset_id: str, field: str, limit: int,
                 campaign_id: str, call: str) -> list[Any]:
    """The campaign's prompts, read through the gate; ``call`` names the step in the audit
    event's details (``campaign.create`` checks them, ``campaign.generate`` uses them)."""
    from appliance.datasets import read_records
    from appliance.datasets.spec import get_path
    from appliance.training import chat

    prompts: list[Any] = []
    records = read_records(ctx, principal, dataset_id,
                           details={"campaign_id": campaign_id, "call": call})
    for index, record in enumerate(records):
        if len(prompts) >= limit:
            break
        value = get_path(record, field)
        if value is None:
            raise InvalidInput(f"record {index} of dataset {dataset_id} has no {field!r} field")
        chat.check_prompt(value, f"record {index} of dataset {dataset_id}")
        prompts.append(value)
    if not prompts:
        raise InvalidInput(f"dataset {dataset_id} holds no prompts")
    return prompts


def overlapping(items: int, overlap: float, random_state: int) -> set[int]:
    import random

    rng = random.Random(random_state)  # noqa: S311  (which items overlap, not a secret)
    return set(rng.sample(range(items), round(overlap * items)))


def audit_step(ctx: Context, principal: Principal, campaign_id: str, details: dict[str, Any],
               action: str = "campaign.stored", reasons: Sequence[str] = ()) -> None:
    """The audit event of a step that needs no decision of its own (it follows one)."""
    ctx.audit.append(actor=principal.name, role=principal.role, action=action,
                     resource=f"campaign:{campaign_id}", purpose=PURPOSE, decision="allow",
                     reasons=list(reasons), policy_hash=ctx.policy.policy_hash, details=details)


# -- running ----------------------------------------------------------------------------------


def assign_reviewers(ctx: Context, principal: Principal, campaign_id: str,
                     reviewers: Sequence[str]) -> CampaignInfo:
    """Add reviewers to an open campaign and hand them the items that still want one."""
    info = store.get_campaign(ctx.conn, campaign_id)
    authorize(ctx, principal, "campaign.assign", info.resource(), PURPOSE,
              {"reviewers": len(reviewers)})
    if isinstance(reviewers, str) or not reviewers:
        raise InvalidInput("name at least one reviewer to assign")
    people = [_reviewer(ctx, n) for n in dict.fromkeys(reviewers)]
    now = ctx.now()
    with transaction(ctx.conn):
        _require_open(ctx, campaign_id)
        for name, role in people:
            store.add_reviewer(ctx.conn, campaign_id, name, role, now)
        added = store.fill_assignments(ctx.conn, campaign_id, info.random_state, now)
    audit_step(ctx, principal, campaign_id, {"assignments_added": added}, "campaign.assigned")
    return store.get_campaign(ctx.conn, campaign_id)


def list_campaigns(ctx: Context, principal: Principal) -> list[dict[str, Any]]:
    """Campaigns the caller may see (``campaign.show``, decided per campaign), and those they
    are assigned to as a reviewer: for those, the name and their own progress only."""
    authorize(ctx, principal, "campaign.list", {"type": "campaign", "id": "*"}, "metadata")
    mine = store.assigned_campaigns(ctx.conn, principal.name)
    out: list[dict[str, Any]] = []
    for campaign_id in store.campaign_ids(ctx.conn):
        info = store.get_campaign(ctx.conn, campaign_id)
        if ctx.policy.decide(build_input(principal, "campaign.show", info.resource(),
                                         "metadata")).allow:
            summary = info.as_dict()
            summary["view"] = "full"
            out.append(summary)
        elif campaign_id in mine:
            own = store.assignments(ctx.conn, campaign_id, principal.name)
            out.append({"campaign_id": campaign_id, "name": info.name, "state": info.state,
                        "view": "reviewer", "assigned": len(own),
                        "done": sum(1 for a in own if a.verdict)})
    return out


def show_campaign(ctx: Context, principal: Principal, campaign_id: str) -> CampaignInfo:
    info = store.get_campaign(ctx.conn, campaign_id)
    authorize(ctx, principal, "campaign.show", info.resource(), "metadata")
    return info


def campaign_results(ctx: Context, principal: Principal, campaign_id: str) -> dict[str, Any]:
    """Progress, Cohen's kappa and per-model win rates (counts and pseudonyms, no text)."""
    info = store.get_campaign(ctx.conn, campaign_id)
    authorize(ctx, principal, "campaign.results", info.resource(), "metadata")
    pseudonyms = {r["name"]: r["pseudonym"] for r in info.reviewers}
    results = agreement.summarize(store.assignments(ctx.conn, campaign_id), info.models,
                                  pseudonyms)
    return {"campaign_id": campaign_id, "state": info.state, "items": info.items,
            "result_dataset_id": info.result_dataset_id, **results}


def next_assignment(ctx: Context, principal: Principal, campaign_id: str) -> str | None:
    """The caller's first item still to judge in this campaign (an id only; nothing is read)."""
    for a in store.assignments(ctx.conn, campaign_id, principal.name):
        if a.verdict is None:
            return a.assignment_id
    return None


def open_item(ctx: Context, principal: Principal, assignment_id: str) -> ItemView:
    """One item as its reviewer sees it: a ``campaign.item.read`` through the gate."""
    found, state = _assignment(ctx, principal, "campaign.item.read", assignment_id)
    data = json.loads(read_object(
        ctx, principal, "campaign.item.read", found.resource(state), found.object_id, PURPOSE,
        {"campaign_id": found.campaign_id, "item_id": found.item_id}))
    texts = data["candidates"]
    own = store.assignments(ctx.conn, found.campaign_id, principal.name)
    return ItemView(
        assignment_id, found.campaign_id, store.get_campaign(ctx.conn, found.campaign_id).name,
        data["prompt"],
        [{"label": judging.label(p), "text": texts[c]} for p, c in enumerate(found.shown_order)],
        sum(1 for a in own if a.verdict), len(own), found.verdict)


def judge_item(ctx: Context, principal: Principal, assignment_id: str, verdict: str,
               positions: Sequence[int] = ()) -> dict[str, Any]:
    """Store one verdict on an item, given as screen positions (0 = A), best first; once."""
    found, state = _assignment(ctx, principal, "campaign.item.judge", assignment_id,
                               {"verdict": verdict if verdict in judging.VERDICTS else "other"})
    authorize(ctx, principal, "campaign.item.judge", found.resource(state), PURPOSE,
              {"campaign_id": found.campaign_id, "item_id": found.item_id,
               "verdict": verdict if verdict in judging.VERDICTS else "other"})
    chosen = judging.check_verdict(verdict, positions, len(found.shown_order))
    if found.verdict is not None:
        raise Conflict(f"item {assignment_id} was already judged ({found.verdict})")
    ranking = judging.to_candidates(chosen, found.shown_order)
    with transaction(ctx.conn):
        if not store.record_judgement(ctx.conn, assignment_id, verdict, ranking, ctx.now()):
            raise Conflict(f"item {assignment_id} was judged meanwhile, or its campaign closed")
    return {"assignment_id": assignment_id, "verdict": verdict,
            "ranking": [judging.label(p) for p in chosen]}


def _assignment(ctx: Context, principal: Principal, action: str, assignment_id: str,
                details: dict[str, Any] | None = None) -> tuple[Assignment, str]:
    """The assignment and its campaign's state. An id that names none is refused by the policy
    (and audited) as any item not assigned to the caller is: ids are not probed for free."""
    found = store.find_assignment(ctx.conn, assignment_id) if isinstance(
        assignment_id, str) and len(assignment_id) <= 64 else None
    if found is None:
        shown = assignment_id if isinstance(assignment_id, str) else ""
        authorize(ctx, principal, action, {"type": "campaign_item", "id": shown[:64]}, PURPOSE,
                  details)
        raise AccessDenied(f"no campaign item {shown[:64]} is assigned to {principal.name}")
    return found, store.get_campaign(ctx.conn, found.campaign_id).state


# -- closing ----------------------------------------------------------------------------------


def close_campaign(ctx: Context, principal: Principal, campaign_id: str) -> CampaignInfo:
    """Close the campaign; its pairs become a PENDING_REVIEW preference dataset (none when no
    judgement prefers one candidate to another)."""
    from appliance.datasets import get_dataset, ingest_stream
    from appliance.datasets.spec import parse_spec

    info = store.get_campaign(ctx.conn, campaign_id)
    action = begin_action(ctx, principal, "campaign.close", info.resource(), PURPOSE,
                          {"campaign_id": campaign_id})
    try:
        judged = [a for a in store.assignments(ctx.conn, campaign_id) if a.verdict]
        records = _pair_records(ctx, principal, info, judged)
        lineage = _lineage(info, judged, len(records))
        dataset_id = None
        if records:
            spec = parse_spec({**PREFERENCE_SPEC,
                               "classification": get_dataset(ctx, info.dataset_id)
                               .classification})
            body = b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)
            result = ingest_stream(ctx, principal, io.BytesIO(body),
                                   name=f"{info.name} (campaign {campaign_id})",
                                   source_name=f"campaign-{campaign_id}.jsonl", fmt="jsonl",
                                   spec=spec, total_bytes=len(body), lineage=lineage)
            dataset_id = result.dataset_id
            lineage["rows"] = result.rows
        with transaction(ctx.conn):
            cursor = ctx.conn.execute(
                "UPDATE campaigns SET state=?, closed_at=?, result_dataset_id=?, lineage=?"
                " WHERE campaign_id=? AND state=?",
                (CLOSED, ctx.now(), dataset_id, json.dumps(lineage), campaign_id, OPEN))
            if cursor.rowcount != 1:
                raise Conflict(f"campaign {campaign_id} was closed meanwhile")
            action.complete()
    except BaseException as exc:
        action.fail(exc)
        raise
    audit_step(ctx, principal, campaign_id,
               {"dataset_id": dataset_id or "", "pairs": len(records)}, "campaign.closed")
    return store.get_campaign(ctx.conn, campaign_id)


def _pair_records(ctx: Context, principal: Principal, info: CampaignInfo,
                  judged: list[Assignment]) -> list[dict[str, Any]]:
    """(prompt, chosen, rejected) for every pair a judgement states; each item read once,
    through the gate, under the campaign's close decision."""
    objects = store.item_objects(ctx.conn, info.campaign_id)
    contents: dict[str, dict[str, Any]] = {}
    records = []
    for a in judged:
        stated = judging.pairs(a.verdict or "", a.ranking or [], len(a.candidate_models))
        if not stated:
            continue
        if a.item_id not in contents:
            contents[a.item_id] = json.loads(read_object(
                ctx, principal, "campaign.close", info.resource(), objects[a.item_id], PURPOSE,
                {"campaign_id": info.campaign_id, "item_id": a.item_id}))
        item = contents[a.item_id]
        texts = item["candidates"]
        # left out: a pair of two equal texts (it teaches nothing), and a pair with an empty
        # answer (a preference record needs both answers; ingest would drop it as missing)
        records += [{"prompt": item["prompt"], "chosen": texts[better], "rejected": texts[worse]}
                    for better, worse in stated if texts[better] != texts[worse]
                    and texts[better].strip() and texts[worse].strip()]
    return records


def _lineage(info: CampaignInfo, judged: list[Assignment], pairs: int) -> dict[str, Any]:
    """Where the dataset came from; reviewers by role and pseudonym, never by name."""
    names = {a.reviewer for a in judged}
    return {
        "campaign_id": info.campaign_id, "campaign_name": info.name,
        "source_dataset_id": info.dataset_id, "models": info.models,
        "candidates_per_prompt": info.candidates, "random_state": info.random_state,
        "reviewers": [{"role": r["role"], "pseudonym": r["pseudonym"]} for r in info.reviewers
                      if r["name"] in names],
        "judgements": len(judged), "pairs": pairs,
    }


def _require_open(ctx: Context, campaign_id: str) -> None:
    row = ctx.conn.execute("SELECT state FROM campaigns WHERE campaign_id=?",
                           (campaign_id,)).fetchone()
    if row is None or row["state"] != OPEN:
        raise Conflict(f"campaign {campaign_id} is not open")
