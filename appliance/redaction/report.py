"""The redaction report: counts only, never a value. And its chart, as a small standalone SVG.

``RedactionReport`` counts, per field, the texts seen, the texts touched (at least one span), the
records dropped, and the spans per entity type. ``to_dict`` holds numbers and the names of fields
and entity types, nothing from the texts. ``merge`` adds up reports from several workers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html import escape
from typing import Any, Protocol


class _Span(Protocol):
    entity_type: str


@dataclass
class FieldCounts:
    texts: int = 0
    touched: int = 0
    dropped: int = 0
    entities: Counter[str] = field(default_factory=Counter)


@dataclass
class RedactionReport:
    fields: dict[str, FieldCounts] = field(default_factory=dict)

    def add(self, field_name: str, spans: list[Any], dropped: bool = False) -> None:
        counts = self.fields.setdefault(field_name, FieldCounts())
        counts.texts += 1
        counts.touched += bool(spans)
        counts.dropped += dropped
        counts.entities.update(s.entity_type for s in spans)

    def merge(self, other: RedactionReport) -> None:
        for name, theirs in other.fields.items():
            ours = self.fields.setdefault(name, FieldCounts())
            ours.texts += theirs.texts
            ours.touched += theirs.touched
            ours.dropped += theirs.dropped
            ours.entities.update(theirs.entities)

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.fields.values():
            total.update(counts.entities)
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": {
                name: {"texts": c.texts, "texts_touched": c.touched, "records_dropped": c.dropped,
                       "entities": dict(sorted(c.entities.items()))}
                for name, c in sorted(self.fields.items())
            },
            "entities": dict(sorted(self.totals().items())),
            "texts_touched": sum(c.touched for c in self.fields.values()),
        }


_BAR_H, _GAP, _LABEL_W, _BAR_W, _COLORS = 16, 4, 210, 320, ("#3b6ea5", "#c0504d", "#4f9d69",
                                                           "#8064a2", "#d9822b", "#4bacc6")


def render_chart_svg(report: RedactionReport) -> str:
    """Horizontal bars: one group per field, one bar per entity type, labelled with its count."""
    rows: list[tuple[str, str, int, int]] = []  # (field, entity, count, field index)
    for i, (name, counts) in enumerate(sorted(report.fields.items())):
        for entity, n in sorted(counts.entities.items(), key=lambda kv: (-kv[1], kv[0])):
            rows.append((name, entity, n, i))
    peak = max((r[2] for r in rows), default=1)
    height = max(1, len(rows)) * (_BAR_H + _GAP) + 40
    width = _LABEL_W + _BAR_W + 70
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif" font-size="12">',
             '<title>Redacted entities per field</title>',
             '<text x="4" y="16" font-weight="bold">Redacted entities per field</text>']
    if not rows:
        parts.append('<text x="4" y="44">No personal data found.</text>')
    for j, (name, entity, n, i) in enumerate(rows):
        y = 28 + j * (_BAR_H + _GAP)
        w = max(1, round(_BAR_W * n / peak))
        color = _COLORS[i % len(_COLORS)]
        parts.append(f'<text x="{_LABEL_W - 6}" y="{y + 12}" text-anchor="end">'
                     f'{escape(name)} · {escape(entity)}</text>')
        parts.append(f'<rect x="{_LABEL_W}" y="{y}" width="{w}" height="{_BAR_H}" fill="{color}"/>')
        parts.append(f'<text x="{_LABEL_W + w + 4}" y="{y + 12}">{n}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
