"""``appliance dataset ...``: ingest, list, show, review, sample, report, delete.

Each command runs against the local home, or against a remote service when ``APPLIANCE_URL`` is
set (:func:`appliance.cli.remote.backend`); the output is the same either way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from appliance import datasets as ds
from appliance.errors import InvalidInput

from .common import add_json, add_token, print_fields, print_json, print_table
from .remote import backend

#: The preference shapes' own options (task preference; the rated shape also takes
#: --response-field).
PREFERENCE_FLAGS = (
    ("--chosen-field", "the preferred answer (preference, pairwise); redacted"),
    ("--rejected-field", "the worse answer (preference, pairwise); redacted"),
    ("--responses-field", "a list of answers (preference, ranked); each redacted"),
    ("--ranking-field", "indices into the responses, best first (preference, ranked); kept as "
     "given"),
    ("--rating-field", "the response's rating: true/false, up/down or a number (preference, "
     "rated); kept as given"),
)
PREFERENCE_FIELDS = tuple(flag[2:].replace("-", "_") for flag, _ in PREFERENCE_FLAGS)


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    dataset = commands.add_parser("dataset", help="datasets").add_subparsers(
        dest="dataset_command", required=True, metavar="ACTION")

    ingest = dataset.add_parser("ingest", help="validate, clean, redact and store a JSONL/CSV file")
    ingest.add_argument("file", help="input file, or - for standard input")
    ingest.add_argument("--name", required=True, help="the dataset's name")
    ingest.add_argument("--format", choices=("jsonl", "csv"),
                        help="input format (default: from the file's extension; jsonl for -)")
    ingest.add_argument("--spec", type=Path, help="dataset spec file (TOML or YAML)")
    ingest.add_argument("--task", choices=("raw", "classification", "sft", "preference"),
                        help="what the records are for; decides the fields they need")
    ingest.add_argument("--text-field", help="the free-text field (classification, raw)")
    ingest.add_argument("--label-field", help="the label (classification); kept as given, "
                        "like a --keep-field")
    ingest.add_argument("--prompt-field", help="the prompt field (sft, preference: a text or a "
                        "list of {role, content} turns)")
    ingest.add_argument("--response-field", help="the response field (sft; preference, rated)")
    ingest.add_argument("--messages-field",
                        help="a chat field (sft, instead of --prompt-field/--response-field): a "
                        "list of {role, content} turns; contents redacted, roles kept")
    for flag, what in PREFERENCE_FLAGS:
        ingest.add_argument(flag, help=what)
    ingest.add_argument("--redact-field", action="append", default=[], dest="redact_fields",
                        help="a free-text field cleaned like the text field (repeatable); every "
                        "field not kept is redacted anyway")
    ingest.add_argument("--keep-field", action="append", default=[], dest="keep_fields",
                        metavar="FIELD",
                        help="store this field as given, for labels and ids (repeatable; dotted "
                        "paths for nested fields). Every other field, named or not, is redacted; "
                        "kept values that look like PII are flagged in the report")
    ingest.add_argument("--drop-field", action="append", default=[], dest="drop_fields",
                        help="remove this field from every record (repeatable)")
    ingest.add_argument("--operator", choices=("placeholder", "mask", "pseudonym", "drop_record"),
                        help="default anonymization operator")
    ingest.add_argument("--no-redact", action="store_true", help="store text fields as given")
    ingest.add_argument("--classification",
                        choices=("public", "internal", "confidential", "restricted"),
                        help="data classification (restricted needs two approvals)")
    ingest.add_argument("--lowercase", action="store_true", help="lowercase the text when cleaning")
    ingest.add_argument("--no-progress", action="store_true", help="print no progress lines")
    add_json(ingest)
    add_token(ingest)
    ingest.set_defaults(handler=cmd_ingest)

    ls = dataset.add_parser("list", help="list datasets (metadata only)")
    ls.add_argument("--state", help="only datasets in this state (e.g. PENDING_REVIEW)")
    add_json(ls)
    add_token(ls)
    ls.set_defaults(handler=cmd_list)

    for verb in ("show", "report"):
        p = dataset.add_parser(verb, help=f"{verb} a dataset's "
                               + ("metadata" if verb == "show" else "redaction report"))
        p.add_argument("dataset_id", help="the dataset (ds_...)")
        add_json(p)
        add_token(p)
        p.set_defaults(handler=cmd_show if verb == "show" else cmd_report)

    for verb in ("approve", "reject", "revoke"):
        p = dataset.add_parser(verb, help=f"{verb} a dataset (compliance)")
        p.add_argument("dataset_id", help="the dataset (ds_...)")
        p.add_argument("--reason", default="", help="why, for the record")
        add_json(p)
        add_token(p)
        p.set_defaults(handler=cmd_review, verb=verb)

    delete = dataset.add_parser("delete", help="crypto-shred a dataset")
    delete.add_argument("dataset_id", help="the dataset (ds_...)")
    add_token(delete)
    delete.set_defaults(handler=cmd_delete)

    sample = dataset.add_parser("sample", help="show redacted records to a reviewer")
    sample.add_argument("dataset_id", help="the dataset (ds_...)")
    sample.add_argument("-n", type=int, default=None, help="how many records (default 5)")
    sample.add_argument("--low-confidence", action="store_true",
                        help="the lowest-scored replacements first, each in its redacted "
                             "context, instead of records (-n: how many, default 20)")
    add_token(sample)
    sample.set_defaults(handler=cmd_sample)


def spec_from_args(args: argparse.Namespace) -> ds.DatasetSpec:
    data: dict[str, Any] = ds.load_spec_file(args.spec) if args.spec else {}
    flags = {
        "task": args.task, "text_field": args.text_field, "label_field": args.label_field,
        "prompt_field": args.prompt_field, "response_field": args.response_field,
        "messages_field": args.messages_field, "classification": args.classification,
        "default_operator": args.operator,
        **{key: getattr(args, key) for key in PREFERENCE_FIELDS},
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    for key in ("redact_fields", "keep_fields", "drop_fields"):
        if getattr(args, key):
            data[key] = [*data.get(key, []), *getattr(args, key)]
    if args.no_redact:
        data["redact"] = False
    if args.lowercase:
        data.setdefault("cleaning", {})["lowercase"] = True
    if "task" not in data and (args.text_field or args.label_field):
        data["task"] = "classification"
    return ds.parse_spec(data)


def cmd_ingest(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    target = backend(args)
    # A bar on a terminal; plain periodic lines for a log or a pipe.
    progress = None if args.no_progress else "bar" if sys.stderr.isatty() else "lines"
    if args.file == "-":
        fmt = ds.detect_format("-", args.format or "jsonl")
        result = target.ingest_stream(sys.stdin.buffer, name=args.name, fmt=fmt, spec=spec,
                                      progress=progress, source_name="<stdin>")
    else:
        path = Path(args.file)
        if path.is_dir():
            raise InvalidInput(f"{path}: is a directory; give one JSONL or CSV file")
        if not path.is_file():
            raise InvalidInput(f"{path}: no such file")
        fmt = ds.detect_format(path.name, args.format)
        with path.open("rb") as stream:
            result = target.ingest_stream(stream, name=args.name, fmt=fmt, spec=spec,
                                          total_bytes=path.stat().st_size, progress=progress,
                                          source_name=str(path))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    fields = result.report.get("fields", {})
    if args.json:
        print_json({"dataset_id": result.dataset_id, "rows": result.rows,
                    "content_hash": result.content_hash, "state": ds.PENDING,
                    "fields": fields, "warnings": result.warnings})
    else:
        print(f"stored dataset {result.dataset_id}: {result.rows} records, state {ds.PENDING}")
        print(f"content sha256 {result.content_hash}")
        print_field_table(fields)
    return 0


#: How the report's field actions read to a person.
ACTIONS = {"redacted": "redacted", "kept": "kept as given", "dropped": "dropped",
           "unredacted": "as given (redaction off)"}


def print_field_table(fields: dict[str, Any]) -> None:
    """Every field and what was done to it, with counts; kept fields with PII are flagged."""
    if not fields:
        return
    rows = []
    for name, row in fields.items():
        entities = ", ".join(f"{e} {n}" for e, n in sorted(row["entities"].items()))
        flag = "FLAG: looks like PII" if row["action"] == "kept" and row["values_with_pii"] else "-"
        rows.append((name, ACTIONS.get(row["action"], row["action"]), row["values"],
                     row["values_with_pii"], flag, entities or "-"))
    # The check before the entity list, which can be long: a flag is never off-screen.
    print_table(rows, ("FIELD", "ACTION", "VALUES", "WITH PII", "CHECK", "ENTITIES"))


def cmd_list(args: argparse.Namespace) -> int:
    items = backend(args).list_datasets(args.state)
    if args.json:
        print_json([i.as_dict() for i in items])
    else:
        print_table([(i.dataset_id, i.name, i.state, i.task, i.classification, i.row_count,
                      i.uploaded_by) for i in items],
                    ("ID", "NAME", "STATE", "TASK", "CLASS", "ROWS", "UPLOADED BY"))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    info = backend(args).show_dataset(args.dataset_id)
    if args.json:
        print_json(info.as_dict())
        return 0
    print_fields({k: v for k, v in info.as_dict().items() if k != "reviews"})
    print("reviews" if info.reviews else "reviews  none yet")
    for review in info.reviews:  # the reason as kept: PII redacted, its hash as audited
        reason = review["reason"] or "(no reason given)"
        digest = f" [sha256 {review['reason_sha256'][:12]}]" if review["reason_sha256"] else ""
        print(f"  {review['at'][:19]}  {review['decision']} by {review['reviewer']}: "
              f"{reason}{digest}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    report = backend(args).get_report(args.dataset_id)
    if args.json:
        print_json(report)
        return 0
    print(f"dataset {report['dataset_id']}: {report['rows']} records stored")
    print("cleaning:")
    for key, value in sorted(report.get("cleaning", {}).items()):
        print(f"  {key:22} {value}")
    print(f"records with PII redacted: {report.get('records_touched', 0)}")
    print_lineage(report.get("lineage"))
    print_field_table(report.get("fields", {}))
    for warning in report.get("warnings", []):
        print(f"warning: {warning}")
    for field, counts in sorted(report.get("entities_by_field", {}).items()):
        print(f"field {field}:")
        top = max(counts.values()) if counts else 1
        for entity, count in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"  {entity:18} {count:6}  {'#' * max(1, round(30 * count / top))}")
    return 0


def print_lineage(lineage: dict[str, Any] | None) -> None:
    """Where a dataset the appliance made comes from (a feedback campaign), as sealed in its
    report: reviewers by role and pseudonym, as they were recorded."""
    if not lineage:
        return
    print(f"made by campaign {lineage.get('campaign_id')} ({lineage.get('campaign_name', '')})"
          f" from dataset {lineage.get('source_dataset_id', '-')}")
    print(f"  models     {', '.join(lineage.get('models', []))}")
    print("  reviewers  " + (", ".join(f"{r.get('pseudonym')} ({r.get('role')})"
                                       for r in lineage.get("reviewers", [])) or "-"))
    print(f"  judgements {lineage.get('judgements', 0)}, pairs {lineage.get('pairs', 0)}")


def cmd_review(args: argparse.Namespace) -> int:
    info = backend(args).review_dataset(args.verb, args.dataset_id, args.reason)
    if args.json:
        print_json(info.as_dict())
    else:
        print(f"dataset {info.dataset_id} is now {info.state}")
        if info.state == ds.PENDING and info.approvals:
            print(f"  approvals so far: {', '.join(info.approvals)} (restricted: needs two)")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    info = backend(args).delete_dataset(args.dataset_id)
    print(f"dataset {info.dataset_id} deleted: its data keys are destroyed")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    if args.low_confidence:
        queue = backend(args).review_queue(args.dataset_id, args.n or 20)
        if not queue:
            print("no replacement is recorded for review in this dataset")
        for m in queue:
            context = f"{m['before']}[{m['replaced']}]{m['after']}".replace("\n", " ")
            print(f"{m['score']:.2f}  {m['entity']:<14} record {m['row'] + 1:<6} "
                  f"{m['field']:<16} {context}")
        return 0
    for record in backend(args).sample_records(args.dataset_id, args.n or 5):
        print(json.dumps(record, ensure_ascii=False, sort_keys=True))
    return 0
