"""``appliance campaign create|wait|list|show|assign|close``: feedback campaigns, on this home.

``create`` records the campaign and starts the worker that generates its candidates
(:mod:`appliance.feedback.generation`); it waits for the campaign to open, with its progress on
standard error, unless ``--no-wait`` (then ``campaign wait`` follows it later).

Judging happens in the web console (``/campaigns``), where an annotator sees one item at a
time; the CLI runs the campaign around it. Each command acts as the user behind --token or
$APPLIANCE_TOKEN, through the same service functions, policy and audit log as the console.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from appliance import feedback
from appliance.feedback.service import MAX_PROMPTS

if TYPE_CHECKING:
    from appliance.context import Context

from .common import add_json, add_token, caller, context, print_fields, print_json, print_table


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    campaign = commands.add_parser(
        "campaign", help="feedback campaigns: candidates judged blind by annotators"
    ).add_subparsers(dest="campaign_command", required=True, metavar="ACTION")

    create = campaign.add_parser("create", help="generate candidates (a worker process) and "
                                 "open a campaign")
    create.add_argument("dataset_id", help="an APPROVED dataset whose records hold a prompt")
    create.add_argument("--name", required=True, help="the campaign's name")
    create.add_argument("--model", action="append", dest="models", required=True,
                        metavar="MODEL", help="a generative model (mdl_... or base:<name>); "
                        "repeat for several")
    create.add_argument("--candidates", type=int, default=2,
                        help="candidates per prompt, spread over the models (default 2)")
    create.add_argument("--reviewer", action="append", dest="reviewers", default=[],
                        metavar="USER", help="an annotator to assign; repeat for several")
    create.add_argument("--overlap", type=float, default=0.0,
                        help="share of items shown to two reviewers, for agreement (0 to 1)")
    create.add_argument("--random-state", type=int, default=0,
                        help="seeds sampling, overlap and the order shown (default 0)")
    create.add_argument("--prompt-field", default="prompt", help="the prompt's field")
    create.add_argument("--max-prompts", type=int, default=MAX_PROMPTS,
                        help="use at most this many records")
    create.add_argument("--max-new-tokens", type=int, default=48,
                        help="length of each candidate in tokens (default 48)")
    create.add_argument("--wait", action=argparse.BooleanOptionalAction, default=True,
                        help="wait until the candidates are generated and the campaign is "
                             "open (default); --no-wait returns once it is GENERATING")
    _common(create)
    create.set_defaults(handler=cmd_create)

    wait = campaign.add_parser("wait", help="follow a GENERATING campaign until it opens "
                               "(restarting its worker if it died)")
    wait.add_argument("campaign_id", help="the campaign (cmp_...)")
    _common(wait)
    wait.set_defaults(handler=cmd_wait)

    ls = campaign.add_parser("list", help="campaigns you may see or judge")
    _common(ls)
    ls.set_defaults(handler=cmd_list)

    show = campaign.add_parser("show", help="a campaign and its results")
    show.add_argument("campaign_id", help="the campaign (cmp_...)")
    _common(show)
    show.set_defaults(handler=cmd_show)

    assign = campaign.add_parser("assign", help="add annotators to an open campaign")
    assign.add_argument("campaign_id", help="the campaign (cmp_...)")
    assign.add_argument("reviewers", nargs="+", metavar="USER", help="annotators to add")
    _common(assign)
    assign.set_defaults(handler=cmd_assign)

    close = campaign.add_parser("close", help="close into a PENDING_REVIEW preference dataset")
    close.add_argument("campaign_id", help="the campaign (cmp_...)")
    _common(close)
    close.set_defaults(handler=cmd_close)


def _common(parser: argparse.ArgumentParser) -> None:
    add_token(parser)
    add_json(parser)


def cmd_create(args: argparse.Namespace) -> int:
    ctx = context(args)
    info = feedback.create_campaign(
        ctx, caller(ctx, args), name=args.name, dataset_id=args.dataset_id, models=args.models,
        candidates=args.candidates, reviewers=args.reviewers, overlap=args.overlap,
        random_state=args.random_state, prompt_field=args.prompt_field,
        max_prompts=args.max_prompts, max_new_tokens=args.max_new_tokens)
    if not args.wait:
        if args.json:
            print_json(info.as_dict())
        else:
            print(f"campaign {info.campaign_id} is {info.progress_text()}; follow it with: "
                  f"appliance campaign wait {info.campaign_id}")
        return 0
    print(f"campaign {info.campaign_id} created; generating its candidates", file=sys.stderr)
    return _follow(ctx, info, args.json)


def cmd_wait(args: argparse.Namespace) -> int:
    ctx = context(args)
    info = feedback.show_campaign(ctx, caller(ctx, args), args.campaign_id)  # one campaign.show
    return _follow(ctx, info, args.json)


def _follow(ctx: Context, info: feedback.CampaignInfo, as_json: bool) -> int:
    """Wait for the campaign to leave GENERATING; 0 once OPEN (or already further on)."""
    final = feedback.wait_for_campaign(
        ctx, info.campaign_id,
        on_update=lambda c: print(f"{c.state}  {c.progress_text()}", file=sys.stderr))
    if as_json:
        print_json(final.as_dict())
    elif final.state == feedback.FAILED:
        print(f"campaign {final.campaign_id} FAILED: {final.error}")
    else:
        print(f"campaign {final.campaign_id} is {final.state.lower()}: {final.items} items, "
              f"{final.candidates} candidates each, {len(final.reviewers)} reviewer(s)")
    return 1 if final.state == feedback.FAILED else 0


def cmd_list(args: argparse.Namespace) -> int:
    ctx = context(args)
    items = feedback.list_campaigns(ctx, caller(ctx, args))
    if args.json:
        print_json(items)
        return 0
    print_table([(c["campaign_id"], c["name"], c["state"], _share(c)) for c in items],
                ("CAMPAIGN", "NAME", "STATE", "ITEMS"))
    return 0


def _share(summary: dict[str, Any]) -> str:
    if summary["view"] == "reviewer":
        return f"{summary['done']}/{summary['assigned']} judged by you"
    if summary["state"] in (feedback.GENERATING, feedback.FAILED):
        return f"{summary['progress_text']}, {', '.join(summary['models'])}"
    return f"{summary['items']} items, {', '.join(summary['models'])}"


def cmd_show(args: argparse.Namespace) -> int:
    ctx = context(args)
    principal = caller(ctx, args)
    info = feedback.show_campaign(ctx, principal, args.campaign_id)
    results = feedback.campaign_results(ctx, principal, args.campaign_id)
    if args.json:
        print_json({"campaign": info.as_dict(), "results": results})
        return 0
    progress, agreement = results["progress"], results["agreement"]
    kappa = agreement["kappa"]
    if info.state in (feedback.GENERATING, feedback.FAILED):
        print_fields({
            "campaign": f"{info.campaign_id} ({info.name})", "state": info.state,
            "progress": info.progress_text(), "prompts from": info.dataset_id,
            "models": ", ".join(info.models),
            "reviewers": ", ".join(f"{r['name']} ({r['pseudonym']})" for r in info.reviewers)})
        return 0
    print_fields({
        "campaign": f"{info.campaign_id} ({info.name})", "state": info.state,
        "prompts from": info.dataset_id, "models": ", ".join(info.models),
        "reviewers": ", ".join(f"{r['name']} ({r['pseudonym']})" for r in info.reviewers),
        "progress": f"{progress['done']}/{progress['assignments']} judged",
        "kappa": (f"{kappa:.3f} over {agreement['pairs']} pairwise outcomes"
                  if kappa is not None else "undefined (no item judged twice, or no spread)"),
        "win rates": "; ".join(
            f"{r['model']} {r['wins']}/{r['comparisons']}" for r in results["win_rates"]),
        "dataset": info.result_dataset_id or "-",
    })
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    ctx = context(args)
    info = feedback.assign_reviewers(ctx, caller(ctx, args), args.campaign_id, args.reviewers)
    if args.json:
        print_json(info.as_dict())
    else:
        print(f"campaign {info.campaign_id}: reviewers "
              f"{', '.join(r['name'] for r in info.reviewers)}")
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    ctx = context(args)
    info = feedback.close_campaign(ctx, caller(ctx, args), args.campaign_id)
    if args.json:
        print_json(info.as_dict())
    elif info.result_dataset_id:
        print(f"campaign {info.campaign_id} closed: dataset {info.result_dataset_id} "
              f"({(info.lineage or {}).get('pairs', 0)} pairs) is PENDING_REVIEW")
    else:
        print(f"campaign {info.campaign_id} closed: no judgement gave a pair, no dataset")
    return 0
