"""What a compliance reviewer sees beside the redacted records: each placeholder's type and score.

The ingest keeps, in the sealed report, a ``review`` section (``redact.ReviewQueue``): the marks
of the first ``REVIEW_ROWS`` stored rows and the dataset's lowest-scored marks. A mark is a
position in the STORED (redacted) text, the entity type and the detector's score, never a value.

- ``page_marks`` gives the marks of the rows on a sample page, per top-level text field, for the
  console to annotate each placeholder;
- ``low_confidence`` is the reviewer's queue: the lowest-scored replacements first, each with the
  redacted text around it, read in ONE audited sample read of just the rows it needs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from appliance.datasets.fields import leaf_text
from appliance.datasets.service import get_report, read_records

if TYPE_CHECKING:
    from appliance.context import Context
    from appliance.gate import Principal

#: Characters of redacted text shown on each side of a queued replacement.
CONTEXT_CHARS = 60
#: Below this score a replacement is borderline: the console marks it for a second look.
BORDERLINE = 0.7


@dataclass(frozen=True)
class QueuedMark:
    """One replacement in the reviewer's queue; ``before``/``replaced``/``after`` are the stored,
    already redacted text (nothing a sample read would not show)."""

    row: int
    field: str
    entity: str
    score: float
    before: str
    replaced: str
    after: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def review_section(report: dict[str, Any]) -> dict[str, Any]:
    section = report.get("review")
    return section if isinstance(section, dict) else {"rows": {}, "lowest": []}


def page_marks(report: dict[str, Any], first_row: int,
               count: int) -> list[dict[str, list[tuple[int, int, str, float]]]]:
    """For rows ``first_row`` .. ``first_row + count - 1``: {top-level field: [(start, end,
    entity, score)]}. Nested values and rows past the covered ones get no marks."""
    rows = review_section(report).get("rows", {})
    out: list[dict[str, list[tuple[int, int, str, float]]]] = []
    for row in range(first_row, first_row + count):
        fields: dict[str, list[tuple[int, int, str, float]]] = {}
        for path, ordinal, start, end, entity, score in rows.get(str(row), []):
            if "." not in path and ordinal == 0:
                fields.setdefault(path, []).append((start, end, entity, score))
        out.append({f: sorted(m) for f, m in fields.items()})
    return out


def low_confidence(ctx: Context, principal: Principal, dataset_id: str,
                   n: int = 50) -> list[QueuedMark]:
    """The ``n`` lowest-scored replacements of the dataset, lowest first, in context."""
    lowest = review_section(get_report(ctx, principal, dataset_id)).get("lowest", [])[:n]
    if not lowest:
        return []
    wanted = sorted({m[0] for m in lowest})
    records = read_records(ctx, principal, dataset_id, purpose="review",
                           action="dataset.read_sample",
                           details={"order": "low_confidence", "rows": wanted})
    by_row: dict[int, dict[str, Any]] = {}
    last, needed = wanted[-1], set(wanted)
    for index, record in enumerate(records):
        if index in needed:
            by_row[index] = record
        if index >= last:
            break
    out = []
    for row, path, ordinal, start, end, entity, score in lowest:
        text = leaf_text(by_row.get(row, {}), path, ordinal)
        if text is None or end > len(text):
            continue  # the stored record does not hold it (a format change): skip, not guess
        out.append(QueuedMark(row, path, entity, score,
                              text[max(0, start - CONTEXT_CHARS) : start], text[start:end],
                              text[end : end + CONTEXT_CHARS]))
    return out
