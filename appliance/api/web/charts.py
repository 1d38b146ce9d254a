"""Geometry for the console's inline SVG charts, computed on the server.

The templates only place what these functions return, so the pages need no chart library and no
inline style (the Content-Security-Policy allows none): sizes are SVG attributes, colours come from
CSS classes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class Bar:
    label: str
    value: int
    y: float
    width: float


@dataclass
class BarGroup:
    title: str
    y: float
    bars: list[Bar] = field(default_factory=list)


@dataclass
class BarChart:
    width: int
    height: int
    label_width: int
    bar_height: int
    groups: list[BarGroup]

    @property
    def empty(self) -> bool:
        return not any(g.bars for g in self.groups)


def entity_bars(by_field: Mapping[str, Mapping[str, int]], *, width: int = 640,
                label_width: int = 170, bar_height: int = 18, gap: int = 6) -> BarChart:
    """Horizontal bars of entity counts, one group per field, longest bar = full width."""
    top = max((c for counts in by_field.values() for c in counts.values()), default=0)
    span = width - label_width - 60
    y = 0.0
    groups = []
    for name in sorted(by_field):
        group = BarGroup(title=name, y=y + 14)
        y += 22
        for entity, count in sorted(by_field[name].items(), key=lambda kv: (-kv[1], kv[0])):
            bar_width = span * count / top if top else 0.0
            group.bars.append(Bar(entity, int(count), y, max(1.0, bar_width)))
            y += bar_height + gap
        groups.append(group)
        y += gap
    return BarChart(width, int(y) + 4, label_width, bar_height, groups)


@dataclass
class LineChart:
    width: int
    height: int
    points: str
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    left: int
    bottom: int

    @property
    def empty(self) -> bool:
        return not self.points


def line_chart(values: Sequence[tuple[float, float]], *, width: int = 640, height: int = 260,
               left: int = 56, bottom: int = 28, pad: int = 12) -> LineChart:
    """A polyline of (step, value) pairs scaled into the plot area, with a few tick labels."""
    finite = [(x, y) for x, y in values if math.isfinite(x) and math.isfinite(y)]
    if not finite:
        return LineChart(width, height, "", [], [], left, bottom)
    xs = [x for x, _ in finite]
    ys = [y for _, y in finite]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    plot_w, plot_h = width - left - pad, height - bottom - pad

    def sx(x: float) -> float:
        return left + plot_w * (x - x0) / (x1 - x0)

    def sy(y: float) -> float:
        return pad + plot_h * (1 - (y - y0) / (y1 - y0))

    points = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in finite)
    x_ticks = [(sx(x0 + (x1 - x0) * i / 4), f"{x0 + (x1 - x0) * i / 4:.0f}") for i in range(5)]
    y_ticks = [(sy(y0 + (y1 - y0) * i / 4), f"{y0 + (y1 - y0) * i / 4:.3g}") for i in range(5)]
    return LineChart(width, height, points, x_ticks, y_ticks, left, bottom)


def heat_class(value: int, row_total: int) -> str:
    """A CSS class from 0 (none) to 5 (all of the row) for a confusion-matrix cell."""
    if row_total <= 0 or value <= 0:
        return "heat-0"
    return f"heat-{min(5, 1 + int(5 * value / row_total))}"
