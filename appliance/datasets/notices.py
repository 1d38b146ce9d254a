"""What an ingest tells its user besides "stored": records dropped and why, and warnings.

Every sentence here is built from counts, field names and dataset ids, never from a value, so it
can go into the report, the CLI output and the API response alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from appliance.datasets.spec import DatasetSpec

if TYPE_CHECKING:
    from appliance.datasets.clean import Cleaner


def role_of(spec: DatasetSpec, field: str) -> str:
    for role in ("text", "label", "prompt", "response", "chosen", "rejected", "responses",
                 "ranking", "rating"):
        if getattr(spec, f"{role}_field") == field:
            return f"{role} field"
    return "field"


def drop_reasons(spec: DatasetSpec, cleaner: Cleaner, dropped_pii: int) -> list[str]:
    """One phrase per reason, with its count: ``3 missing 'category' (label field)``."""
    out = [f"{n} missing {field!r} ({role_of(spec, field)})"
           for field, n in sorted(cleaner.missing.items())]
    out += [f"{n} with {field!r} over {spec.cleaning.max_chars} characters"
            for field, n in sorted(cleaner.too_long.items())]
    # "2 with a 'ranking' that is not a best-first list of indices into 'responses'"
    out += [f"{n} {problem}" for problem, n in sorted(cleaner.malformed.items())]
    if cleaner.counts["dropped_duplicate"]:
        out.append(f"{cleaner.counts['dropped_duplicate']} duplicate")
    if dropped_pii:
        out.append(f"{dropped_pii} holding PII whose operator is drop_record")
    return out


def drop_summary(spec: DatasetSpec, cleaner: Cleaner, dropped_pii: int) -> str | None:
    """``2 of 3 records dropped: 2 missing 'category' (label field)``, or None if none was."""
    reasons = drop_reasons(spec, cleaner, dropped_pii)
    if not reasons:
        return None
    total = (sum(cleaner.missing.values()) + sum(cleaner.too_long.values())
             + sum(cleaner.malformed.values()) + cleaner.counts["dropped_duplicate"]
             + dropped_pii)
    return f"{total} of {cleaner.counts['records_in']} records dropped: {', '.join(reasons)}"


def nothing_left(spec: DatasetSpec, cleaner: Cleaner, dropped_pii: int) -> str:
    summary = drop_summary(spec, cleaner, dropped_pii)
    return f"no records left: {summary}" if summary else "no records left after cleaning"


def content_warnings(spec: DatasetSpec, cleaner: Cleaner, redaction: dict[str, Any]) -> list[str]:
    """Warnings about what was stored: drops, label types, kept fields that look like PII."""
    out: list[str] = []
    summary = drop_summary(spec, cleaner, redaction.get("records_dropped_pii", 0))
    if summary:
        out.append(summary)
    for kind, n in sorted(cleaner.label_kinds.items()):
        out.append(f"label field {spec.label_field!r} holds {kind} in {n} records; "
                   "they are stored as given")
    for field, n in sorted(redaction.get("kept_with_pii", {}).items()):
        entities = redaction["fields"][field]["entities"]
        kinds = ", ".join(f"{e} {c}" for e, c in sorted(entities.items()))
        out.append(f"kept field {field!r} has {n} values that look like PII ({kinds}); they are "
                   "stored as given: check it should be kept, or redact it (drop --keep-field)")
    for field, n in sorted(redaction.get("names_redacted", {}).items()):
        entities = redaction["fields"][field]["entities"]
        kinds = ", ".join(f"{e} {c}" for e, c in sorted(entities.items()))
        out.append(f"{role_of(spec, field)} {field!r} holds names such as categories or intents "
                   f"(snake_case values), and redaction changed {n} of them ({kinds}); a model "
                   "trained on it learns the placeholders. If they are names, not personal "
                   f"data, keep the field as given: --keep-field {field}")
    return out


def duplicate_warnings(same_name: list[str], same_content: list[tuple[str, str, str]],
                       name: str) -> list[str]:
    """The name or the stored content of existing datasets, said once each (still accepted)."""
    out: list[str] = []
    if same_name:
        out.append(f"the name {name!r} is already used by {', '.join(same_name)}")
    for dataset_id, other, state in same_content:
        out.append(f"the same content is already stored as {dataset_id} ({other!r}, {state})")
    return out
