"""Console pages for feedback campaigns: the list and the create form (operators), a campaign's
generation progress (it reloads itself while GENERATING) and then its results (progress,
agreement, win rates; operators, compliance, auditors), and the judging page
(annotators: one prompt, its candidates lettered in this reviewer's order, rank or pick, skip,
both bad; keyboard shortcuts from static/campaign.js, plain forms without it).

Every page calls the service functions of :mod:`appliance.feedback` with the session's user, so
each item shown is a ``campaign.item.read`` through the gate, and each form carries the session's
CSRF token as the other console forms do.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from appliance import datasets as ds
from appliance import feedback
from appliance.api.deps import ContextDep
from appliance.api.web.charts import Bar, BarChart, BarGroup
from appliance.api.web.console import ConsoleDep, FormDep, can, redirect, render
from appliance.errors import InvalidInput

router = APIRouter(include_in_schema=False)
NUMBERS = {"candidates": int, "overlap": float, "random_state": int, "max_prompts": int,
           "max_new_tokens": int}


@router.get("/campaigns")
def list_campaigns(request: Request, ctx: ContextDep, console: ConsoleDep) -> Response:
    """Campaigns the user may see or judge, and (operators) the form that starts one."""
    from appliance.identity import list_users
    from appliance.training import chat

    campaigns = feedback.list_campaigns(ctx, console.principal)
    may_create = can(ctx, console.principal, "campaign.create",
                     {"type": "campaign", "id": "new"}, "feedback")
    values: dict[str, Any] = {"campaigns": campaigns, "may_create": may_create}
    if may_create:
        values["datasets"] = ds.list_datasets(ctx, console.principal, ds.APPROVED)
        values["models"] = chat.generative_models(ctx, console.principal)
        values["annotators"] = [u.name for u in list_users(ctx)
                                if u.role == "annotator" and not u.revoked_at]
    return render(request, "campaigns.html", console, title="Campaigns", **values)


@router.post("/campaigns")
def create_campaign(request: Request, ctx: ContextDep, console: ConsoleDep,
                    form: FormDep) -> Response:
    """Create the campaign; a worker generates its candidates (the page shows progress)."""
    options: dict[str, Any] = {}
    for name, kind in NUMBERS.items():
        value = str(form.get(name, "")).strip()
        if value:
            try:
                options[name] = kind(value)
            except ValueError:
                raise InvalidInput(f"{name.replace('_', ' ')} must be a number") from None
    info = feedback.create_campaign(
        ctx, console.principal, name=str(form.get("name", "")),
        dataset_id=str(form.get("dataset_id", "")),
        models=[str(m) for m in form.getlist("models")],
        reviewers=[str(r) for r in form.getlist("reviewers")],
        prompt_field=str(form.get("prompt_field", "") or "prompt"),
        start_worker_process=request.app.state.start_job_workers, **options)
    return redirect(f"/campaigns/{info.campaign_id}", console,
                    f"Campaign {info.campaign_id} is generating {info.candidates} candidates "
                    f"for each of its {info.progress.get('prompts', 0)} items.")


@router.get("/campaigns/{campaign_id}")
def show_campaign(request: Request, ctx: ContextDep, console: ConsoleDep,
                  campaign_id: str) -> Response:
    """A campaign's results: progress, Cohen's kappa, per-model win rates with a chart."""
    info = feedback.show_campaign(ctx, console.principal, campaign_id)
    if info.state in (feedback.GENERATING, feedback.FAILED):  # nothing judged yet, or ever
        return render(request, "campaign.html", console, campaign=info, results=None,
                      chart=None, may_manage=False, annotators=[],
                      title=f"Campaign {info.name}")
    results = feedback.campaign_results(ctx, console.principal, campaign_id)
    resource = info.resource()
    may_manage = can(ctx, console.principal, "campaign.close", resource, "feedback")
    annotators: list[str] = []
    if may_manage:
        from appliance.identity import list_users

        taken = {r["name"] for r in info.reviewers}
        annotators = [u.name for u in list_users(ctx) if u.role == "annotator"
                      and not u.revoked_at and u.name not in taken]
    return render(request, "campaign.html", console, campaign=info, results=results,
                  chart=win_chart(results["win_rates"]), may_manage=may_manage,
                  annotators=annotators, title=f"Campaign {info.name}")


def win_chart(rates: list[dict[str, Any]], *, width: int = 640, label_width: int = 220,
              bar_height: int = 18, gap: int = 6) -> BarChart:
    """Per-model win rates as bars on a 0-100 % scale (the full width is 100 %, so two models
    at 50 % show two half bars, not two full ones)."""
    span = width - label_width - 60
    group = BarGroup(title="win rate, % of comparisons won", y=14)
    y = 22.0
    for rate in rates:
        if rate["win_rate"] is None:
            continue
        percent = round(100 * rate["win_rate"])
        group.bars.append(Bar(rate["model"], percent, y, max(1.0, span * percent / 100)))
        y += bar_height + gap
    return BarChart(width, int(y) + 4, label_width, bar_height, [group] if group.bars else [])


@router.post("/campaigns/{campaign_id}/assign")
def assign_reviewers(request: Request, ctx: ContextDep, console: ConsoleDep, form: FormDep,
                     campaign_id: str) -> Response:
    """Add annotators; items that still want a reviewer go to them."""
    feedback.assign_reviewers(ctx, console.principal, campaign_id,
                              [str(r) for r in form.getlist("reviewers")])
    return redirect(f"/campaigns/{campaign_id}", console, "Reviewers assigned.")


@router.post("/campaigns/{campaign_id}/close")
def close_campaign(request: Request, ctx: ContextDep, console: ConsoleDep, form: FormDep,
                   campaign_id: str) -> Response:
    """Close the campaign into a PENDING_REVIEW preference dataset."""
    info = feedback.close_campaign(ctx, console.principal, campaign_id)
    message = (f"Campaign closed: dataset {info.result_dataset_id} awaits review."
               if info.result_dataset_id else "Campaign closed: no judgement gave a pair.")
    return redirect(f"/campaigns/{campaign_id}", console, message)


@router.get("/campaigns/{campaign_id}/judge")
def judge_page(request: Request, ctx: ContextDep, console: ConsoleDep,
               campaign_id: str) -> Response:
    """The reviewer's next item (one audited read), or the end of their share."""
    assignment_id = feedback.next_assignment(ctx, console.principal, campaign_id)
    item = feedback.open_item(ctx, console.principal, assignment_id) if assignment_id else None
    mine = [c for c in feedback.list_campaigns(ctx, console.principal)
            if c["campaign_id"] == campaign_id]
    return render(request, "judge.html", console, item=item, campaign_id=campaign_id,
                  summary=mine[0] if mine else None, title="Judge")


@router.post("/campaigns/{campaign_id}/judge")
def judge_item(request: Request, ctx: ContextDep, console: ConsoleDep, form: FormDep,
               campaign_id: str) -> Response:
    """Save one verdict, then on to the next item."""
    verdict = str(form.get("verdict", ""))
    count = int(str(form.get("count", "0")) or 0) if str(form.get("count", "0")).isdigit() else 0
    text = str(form.get("ranking", "") if verdict == "rank" else form.get("choice", ""))
    positions = feedback.parse_labels(text, count) if verdict in ("rank", "pick") else []
    feedback.judge_item(ctx, console.principal, str(form.get("assignment_id", "")), verdict,
                        positions)
    return redirect(f"/campaigns/{campaign_id}/judge", console,
                    "Skipped." if verdict == "skip" else "Saved.")
