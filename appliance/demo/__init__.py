"""``appliance demo``: the whole workflow on a throwaway home, narrated.

Each step uses the same service functions as the CLI and the API, so the demo is also a smoke test
of the product. Steps that belong to subsystems not installed in this build are skipped with a
note rather than faked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance import datasets as ds
from appliance.context import AUDIT_DIR, Context, init_home, open_context
from appliance.demo.sample_data import SAMPLE_FILE
from appliance.errors import AccessDenied, IntegrityError
from appliance.gate import Principal
from appliance.identity import add_user

USERS = (("olivia", "operator"), ("carol", "compliance"), ("dmitri", "compliance"),
         ("audra", "auditor"), ("adam", "admin"), ("nadia", "annotator"))

Say = Callable[[str], None]


def run_demo(
    home: Path | None = None, *, say: Say = print, train: bool = True, sft: bool | None = None,
    sft_base: Path | None = None, feedback: bool = True,
) -> dict[str, Any]:
    """Run every step; returns a summary (also used by the tests).

    ``train`` runs the classifier and its export, ``sft`` (default: as ``train``) the chat
    model; ``sft_base`` is a causal LM directory the demo's admin registers for it (default:
    the bundled SmolLM2). ``feedback`` runs the feedback loop on the chat model (a campaign,
    a reward model and DPO) when the SFT step made one."""
    root = home or Path(tempfile.mkdtemp(prefix="appliance-demo-"))
    say(f"== 1. initialise a fresh home at {root}")
    init_home(root, force=home is not None and (root / "config.json").exists())
    ctx = open_context(root)
    summary: dict[str, Any] = {"home": str(root)}
    tokens = _users(ctx, say)
    summary["tokens"] = tokens
    people = {name: Principal(name, role) for name, role in USERS}

    say("\n== 3. the operator ingests support tickets: parse, clean, redact PII, encrypt")
    originals = [json.loads(line) for line in SAMPLE_FILE.read_text("utf-8").splitlines()]
    with SAMPLE_FILE.open("rb") as stream:
        result = ds.ingest_stream(
            ctx, people["olivia"], stream, name="support-tickets", source_name=SAMPLE_FILE.name,
            fmt="jsonl", spec=ds.parse_spec({"task": "classification", "text_field": "text",
                                             "label_field": "category",
                                             "keep_fields": ["ticket_id", "channel"]}),
            total_bytes=SAMPLE_FILE.stat().st_size)
    dataset_id = result.dataset_id
    summary["dataset_id"] = dataset_id
    say(f"stored {dataset_id}: {result.rows} records, state PENDING_REVIEW")
    _show_redaction(ctx, people["carol"], dataset_id, originals, say)

    say("\n== 4. separation of duties: the operator tries to approve its own upload")
    try:
        ds.approve_dataset(ctx, people["olivia"], dataset_id)
        raise AssertionError("the policy let an operator approve its own dataset")
    except AccessDenied as denied:
        say(f"DENIED: {denied}")
        summary["self_approval_denied"] = str(denied)

    say("\n== 5. compliance reviews a redacted sample and approves")
    for record in ds.sample_records(ctx, people["carol"], dataset_id, 2):
        say(f"  sample: {record['text']}")
    info = ds.approve_dataset(ctx, people["carol"], dataset_id, "PII redacted; fit for training")
    say(f"dataset {dataset_id} is {info.state} (approved by carol)")

    if train:
        _train_and_export(ctx, people, dataset_id, say, summary)
    if train if sft is None else sft:  # the chat model follows --no-train unless told apart
        _fine_tune_replies(ctx, people, originals, say, summary, sft_base)
    if feedback and summary.get("sft_model_id"):
        _learn_from_feedback(ctx, people, originals, say, summary)

    say("\n== 9. the auditor verifies the log")
    summary["audit"] = _verify(ctx, root, say)

    say("\n== 10. nothing readable at rest: search the home for every ticket sentence")
    found = find_plaintext(root, [r["text"] for r in originals])
    summary["plaintext_hits"] = found
    say(f"searched {_count_files(root)} files for {len(originals)} ticket texts: "
        f"{len(found)} found" + (" -- FAILURE" if found else ""))
    for path in found:
        say(f"  ticket text in {path}")
    say("\n== done")
    say(f"home: {root}")
    say(f"serve the console:  appliance --home {root} serve   then open http://127.0.0.1:8443/")
    for name, role in USERS:
        say(f"  sign in as {name} ({role}) with token {tokens[name]}")
    ctx.close()
    return summary


def _users(ctx: Context, say: Say) -> dict[str, str]:
    say("\n== 2. create users (tokens are shown once and stored only as hashes)")
    tokens = {}
    for name, role in USERS:
        user, token = add_user(ctx, name, role)
        tokens[name] = token
        say(f"  {user.name:8} {user.role}")
    return tokens


def _show_redaction(
    ctx: Context, reviewer: Principal, dataset_id: str, originals: list[dict[str, Any]], say: Say
) -> None:
    stored = ds.sample_records(ctx, reviewer, dataset_id, 3)
    by_id = {r["ticket_id"]: r for r in originals}
    for record in stored:
        say(f"  before: {by_id[record['ticket_id']]['text']}")
        say(f"  after:  {record['text']}")
    report = ds.get_report(ctx, reviewer, dataset_id)
    say("redaction report (entity counts per field):")
    for field, counts in report.get("entities_by_field", {}).items():
        for entity, count in sorted(counts.items(), key=lambda kv: -kv[1]):
            say(f"  {field}.{entity:16} {count:5}  {'#' * min(40, count // 5 + 1)}")
    cleaning = report.get("cleaning", {})
    say(f"cleaning: {json.dumps(cleaning, sort_keys=True)}")
    from appliance.datasets.review import low_confidence

    queue = low_confidence(ctx, reviewer, dataset_id, 3)
    if queue:
        say("the reviewer's queue (least sure replacements first):")
        for m in queue:
            context = f"{m.before[-30:]}[{m.replaced}]{m.after[:30]}".replace("\n", " ")
            say(f"  {m.score:.2f} {m.entity:14} record {m.row + 1:<5} {context}")


def _train_and_export(
    ctx: Context, people: dict[str, Principal], dataset_id: str, say: Say,
    summary: dict[str, Any],
) -> None:
    try:
        from appliance.demo.training_step import train_and_export
    except ModuleNotFoundError:
        say("\n== 6. (training is not part of this build yet; skipped)")
        return
    say("\n== 6. fine-tune a LoRA classifier on the approved data, then a two-person export")
    summary.update(train_and_export(ctx, people, dataset_id, say))


def _fine_tune_replies(
    ctx: Context, people: dict[str, Principal], originals: list[dict[str, Any]], say: Say,
    summary: dict[str, Any], base_dir: Path | None,
) -> None:
    try:
        from appliance.demo.sft_step import fine_tune_replies
    except ModuleNotFoundError:
        say("\n== 7. (fine-tuning a chat model is not part of this build yet; skipped)")
        return
    say("\n== 7. fine-tune a small chat model to answer tickets in our categories and tone")
    summary.update(fine_tune_replies(ctx, people, originals, say, base_dir))


def _learn_from_feedback(
    ctx: Context, people: dict[str, Principal], originals: list[dict[str, Any]], say: Say,
    summary: dict[str, Any],
) -> None:
    try:
        from appliance.demo.feedback_step import learn_from_feedback
    except ModuleNotFoundError:
        say("\n== 8. (learning from feedback is not part of this build yet; skipped)")
        return
    say("\n== 8. learn from feedback: an annotator ranks answers, then a reward model and DPO")
    summary.update(learn_from_feedback(ctx, people, originals, say, summary))


def _verify(ctx: Context, root: Path, say: Say) -> dict[str, Any]:
    from appliance import audit

    public_key = audit.load_public_key_file(root / "keys" / "audit-signing.pub")
    report = audit.verify_log(root / AUDIT_DIR, public_key)
    say(f"OK: {report.events} events, {report.checkpoints} signed checkpoints")
    copy = Path(tempfile.mkdtemp(prefix="audit-copy-"))
    try:
        shutil.copytree(root / AUDIT_DIR, copy / "audit")
        segment = sorted((copy / "audit").glob("segment-*.jsonl"))[0]
        lines = segment.read_text("utf-8").splitlines(keepends=True)
        index = min(5, len(lines) - 1)
        event = json.loads(lines[index])
        event["decision"] = "allow" if event["decision"] == "deny" else "deny"
        lines[index] = json.dumps(event) + "\n"
        segment.write_text("".join(lines), "utf-8")
        say(f"tampering: flipped the decision of event {event['seq']} in a copy of the log")
        try:
            audit.verify_log(copy / "audit", public_key)
            caught = ""
        except IntegrityError as exc:
            caught = str(exc)
        say(f"verify on the copy: {'FAILED as it should: ' + caught if caught else 'PASSED?!'}")
    finally:
        shutil.rmtree(copy)
    return {"events": report.events, "tamper_detected": bool(caught)}


def find_plaintext(root: Path, needles: list[str]) -> list[str]:
    """Files under ``root`` that contain any needle, as UTF-8 or as JSON-escaped text.

    One pass with ``grep -F`` (Aho-Corasick over every needle at once); the needles go through
    a pipe, never a file, and a pure-Python scan serves where grep is missing.
    """
    forms: set[str] = set()
    for needle in needles:
        for candidate in (needle, needle[:40]):
            if len(candidate.encode()) >= 12:
                forms.add(candidate)
                forms.add(json.dumps(candidate)[1:-1])
    if not forms:
        return []
    grep = shutil.which("grep")
    if grep:
        found = subprocess.run(  # noqa: S603
            [grep, "-rlFa", "-f", "-", str(root)], input="\n".join(sorted(forms)).encode(),
            capture_output=True, check=False)
        if found.returncode in (0, 1):
            return sorted(found.stdout.decode().splitlines())
    encoded = [form.encode() for form in forms]
    return [str(p) for p in sorted(root.rglob("*"))
            if p.is_file() and any(form in p.read_bytes() for form in encoded)]


def _count_files(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())
