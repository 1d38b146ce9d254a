"""Local administration: ``init``, ``user``, ``keys``, ``policy``.

These run on the appliance's own shell against the home and are recorded in the audit log as the
local administrator (only someone with access to the home's key files can run them anyway).
"""

from __future__ import annotations

import argparse
import json
import textwrap

from appliance.context import init_home
from appliance.errors import InvalidInput
from appliance.gate import authorize
from appliance.identity import LOCAL_ADMIN, ROLES, add_user, list_users, revoke_user, rotate_token

from .common import add_json, context, print_fields, print_json, print_table


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    init = commands.add_parser("init", help="create a new home (keys, database, audit log)")
    init.add_argument("--force", action="store_true",
                      help="DESTROY an existing home and everything in it first")
    init.add_argument("--key-source", choices=("file", "passphrase"), default="file",
                      help="master key from a key file (default) or a passphrase in an env var")
    init.set_defaults(handler=cmd_init)

    user = commands.add_parser("user", help="manage users and their API tokens").add_subparsers(
        dest="user_command", required=True, metavar="ACTION")
    add = user.add_parser("add", help="create a user; prints its token once")
    add.add_argument("name", help="user name (2-64 of a-z 0-9 _ . -, starting with a letter)")
    add.add_argument("--role", required=True, choices=ROLES, help=ROLE_HELP)
    add.add_argument("--ttl-days", type=int, help="token lifetime (default from config)")
    add.set_defaults(handler=cmd_user_add)
    ls = user.add_parser("list", help="list users (never their tokens)")
    add_json(ls)
    ls.set_defaults(handler=cmd_user_list)
    revoke = user.add_parser("revoke", help="revoke a user's token")
    revoke.add_argument("name", help="the user")
    revoke.set_defaults(handler=cmd_user_revoke)
    rotate = user.add_parser("rotate-token", help="issue a new token, invalidating the old one")
    rotate.add_argument("name", help="the user")
    rotate.set_defaults(handler=cmd_user_rotate)

    keys = commands.add_parser("keys", help="master key management").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION")
    keys.add_parser("rotate", help="new master key; re-wrap every data key; destroy the old one"
                    ).set_defaults(handler=cmd_keys_rotate)

    policy = commands.add_parser("policy", help="inspect policy decisions").add_subparsers(
        dest="policy_command", required=True, metavar="ACTION")
    check = policy.add_parser(
        "check", help="explain the decision for an action and role",
        description=textwrap.fill(
            "Ask the policy what it would decide, and why; nothing is read or changed (the check "
            "itself is audited as policy.check). Exit 0 on allow, 4 on deny.", 79),
        epilog=_RESOURCE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("action", help="the action, e.g. dataset.approve, model.export.download")
    check.add_argument("--as-role", required=True, choices=ROLES, help="the caller's role")
    check.add_argument("--as-user", default="someone",
                       help="the caller's name (default someone); separation of duties "
                       "compares it with uploaded_by or requested_by")
    check.add_argument("--resource", default="{}", metavar="JSON",
                       help="the resource's attributes as a JSON object (fields below)")
    check.add_argument("--purpose", default="explain",
                       help="the declared purpose (default explain): review for "
                       "dataset.read_sample, training for dataset.read_for_training")
    add_json(check)
    check.set_defaults(handler=cmd_policy_check)


#: What a user of each role does (DESIGN.md's role table), for ``user add --help``.
ROLE_HELPS = {
    "operator": "ingests data, runs jobs and campaigns",
    "compliance": "reviews and approves datasets and exports",
    "auditor": "reads and verifies the audit log",
    "admin": "users, keys, base models",
    "annotator": "judges the feedback campaigns it is assigned to, nothing else",
}
ROLE_HELP = "the user's one role: " + "; ".join(f"{r} ({ROLE_HELPS[r]})" for r in ROLES)

#: What each resource attribute the policy reads means (appliance/gate RESOURCE_FIELDS).
RESOURCE_FIELDS = {
    "type": "what the action acts on: dataset, export, job, model, base_model, campaign or "
            "campaign_item",
    "id": "its id (ds_..., exp_..., job_..., mdl_..., cmp_..., ca_...); actions on a resource "
          "need one",
    "state": "its lifecycle state: PENDING_REVIEW, APPROVED, REJECTED, REVOKED (datasets, "
             "exports); QUEUED, RUNNING, ... (jobs); OPEN, CLOSED (campaigns and their items)",
    "classification": "a dataset's: public, internal, confidential or restricted (restricted "
                      "needs two distinct approvals, and only compliance reads its samples)",
    "uploaded_by": "who uploaded the dataset: they may not approve or reject it",
    "requested_by": "who requested the export: they may not approve or reject it, and only "
                    "they may download it",
    "approvals": "names that already approved the dataset (a JSON list): none of them may "
                 "approve again",
    "created_by": "who created the job, model or campaign",
    "owner": "a campaign item's assigned reviewer (an annotator): only they may read or "
             "judge it",
}

_RESOURCE_HELP = "resource fields (--resource):\n" + "\n".join(
    textwrap.fill(text, 79, initial_indent=f"  {name:<15} ", subsequent_indent=" " * 18)
    for name, text in RESOURCE_FIELDS.items()) + """

example (separation of duties): carol may not approve a dataset she uploaded:
  appliance policy check dataset.approve --as-role compliance --as-user carol \\
      --resource '{"type": "dataset", "id": "ds_1", "state": "PENDING_REVIEW",
                   "classification": "internal", "uploaded_by": "carol", "approvals": []}'
the same dataset uploaded by olivia: ALLOW"""


def cmd_init(args: argparse.Namespace) -> int:
    if args.force:
        print("WARNING: --force destroys the existing home, its keys and every dataset in it.")
    settings = init_home(args.home, force=args.force, key_source=args.key_source)
    print(f"initialised appliance home at {settings.home}")
    print(f"  master key source: {settings.key_source}; policy backend: {settings.policy_backend}")
    print(f"  next: appliance user add NAME --role {'|'.join(ROLES)}")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    ctx = context(args)
    user, token = add_user(ctx, args.name, args.role, ttl_days=args.ttl_days)
    print(f"created user {user.name} ({user.role}), token expires {user.expires_at}")
    print("token (shown once, store it now):")
    print(token)
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    ctx = context(args)
    authorize(ctx, LOCAL_ADMIN, "user.manage", {"type": "user", "id": "*"}, "administration",
              {"operation": "list"})
    users = list_users(ctx)
    if args.json:
        print_json([u.as_dict() for u in users])
    else:
        print_table([(u.name, u.role, u.expires_at, u.revoked_at or "-") for u in users],
                    ("NAME", "ROLE", "EXPIRES", "REVOKED"))
    return 0


def cmd_user_revoke(args: argparse.Namespace) -> int:
    user = revoke_user(context(args), args.name)
    print(f"revoked {user.name} at {user.revoked_at}")
    return 0


def cmd_user_rotate(args: argparse.Namespace) -> int:
    token = rotate_token(context(args), args.name)
    print(f"new token for {args.name} (shown once; the old one no longer works):")
    print(token)
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    ctx = context(args)
    authorize(ctx, LOCAL_ADMIN, "keys.rotate", {"type": "keys", "id": "master"}, "administration")
    result = ctx.vault.rotate_master_key()
    print_fields({k: v for k, v in dict(result).items()})
    return 0


def cmd_policy_check(args: argparse.Namespace) -> int:
    from appliance.policy import explain

    try:
        resource = json.loads(args.resource)
    except ValueError as exc:
        raise InvalidInput(f"--resource is not valid JSON: {exc}") from None
    if not isinstance(resource, dict):
        raise InvalidInput("--resource must be a JSON object")
    unknown = sorted(set(resource) - set(RESOURCE_FIELDS))
    if unknown:  # the gate never passes these to the policy, so a typo would go unnoticed
        raise InvalidInput(f"--resource: unknown field(s) {', '.join(unknown)}; the policy "
                           f"reads {', '.join(RESOURCE_FIELDS)} (see --help)")
    ctx = context(args)
    authorize(ctx, LOCAL_ADMIN, "policy.check", {"type": "policy", "id": args.action},
              "administration")
    decision = explain(ctx.policy, args.action, args.as_role, resource, user=args.as_user,
                       purpose=args.purpose)
    if args.json:
        print_json({"allow": decision.allow, "reasons": decision.reasons,
                    "policy_hash": decision.policy_hash})
    else:
        print(f"{'ALLOW' if decision.allow else 'DENY'}: {args.action} as {args.as_role}")
        for reason in decision.reasons:
            print(f"  - {reason}")
        print(f"policy {decision.policy_hash}")
    return 0 if decision.allow else 4
