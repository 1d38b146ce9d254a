"""Geometry for the console's inline SVG charts, computed on the server.

The templates only place what these functions return, so the pages need no chart library and no
inline style (the Content-Security-Policy allows none): sizes are SVG attributes, colours come from
CSS classes.
"""

from __future__ import annotations

import json
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


def nice_ticks(lo: float, hi: float, count: int = 5, *, integer: bool = False,
               floor: float | None = None) -> list[float]:
    """Round tick values covering [lo, hi], about ``count`` of them (Heckbert's "nice numbers":
    steps of 1, 2, 2.5 or 5 times a power of ten). ``integer`` keeps steps whole (training
    steps); ``floor`` is a bound no tick goes below (0 for a loss) unless the data does."""
    above_floor = floor is not None and lo >= floor
    if hi <= lo:  # one value: widen around it, so that the ticks still differ
        half = abs(lo) * 0.1 or 0.5
        lo, hi = lo - half, hi + half
    if above_floor and floor is not None:
        lo = max(lo, floor)
    raw = (hi - lo) / max(1, count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * 0.999)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(i * step, 12) for i in range(first, last + 1)]


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """The fewest decimals that still tell every tick apart (and show each exactly)."""
    for decimals in range(8):
        labels = [f"{t:.{decimals}f}" for t in ticks]
        if all(abs(float(label) - t) < 1e-9 for label, t in zip(labels, ticks, strict=True)):
            return labels
    return [f"{t:.3g}" for t in ticks]


@dataclass
class Series:
    """One line of a chart: a CSS class, a legend label, and the SVG points."""

    name: str
    label: str
    points: str
    data: list[tuple[float, float]]


@dataclass
class LineChart:
    width: int
    height: int
    series: list[Series]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    left: int
    bottom: int
    pad: int = 12

    @property
    def empty(self) -> bool:
        return not any(s.points for s in self.series)

    @property
    def points(self) -> str:
        """The first series' points (the training loss)."""
        return self.series[0].points if self.series else ""

    def data_json(self, name: str) -> str:
        """A series' (x, y) pairs as JSON, for the page's script to extend live."""
        found = [s.data for s in self.series if s.name == name]
        return json.dumps(found[0] if found else [])


def line_chart(values: Sequence[tuple[float, float]] | Mapping[str, Sequence[tuple[float, float]]],
               *, labels: Mapping[str, str] | None = None, width: int = 640, height: int = 260,
               left: int = 56, bottom: int = 28, pad: int = 12) -> LineChart:
    """Polylines of (step, value) pairs, one per named series, scaled into the plot area.

    Axes come from the data: whole, distinct steps on x; round values on y that never go below
    zero unless a value does (losses). The page's script (static/app.js) draws live updates with
    the same rules.
    """
    named = values if isinstance(values, Mapping) else {"train": values}
    data = {name: [(float(x), float(y)) for x, y in pts if math.isfinite(x) and math.isfinite(y)]
            for name, pts in named.items()}
    every = [p for pts in data.values() for p in pts]
    names = labels or {}
    if not every:
        return LineChart(width, height, [Series(n, names.get(n, n), "", []) for n in data], [],
                         [], left, bottom, pad)
    xs = nice_ticks(min(0.0, min(x for x, _ in every)), max(x for x, _ in every), integer=True)
    ys = nice_ticks(min(y for _, y in every), max(y for _, y in every), floor=0.0)
    x0, x1, y0, y1 = xs[0], xs[-1], ys[0], ys[-1]
    plot_w, plot_h = width - left - pad, height - bottom - pad

    def sx(x: float) -> float:
        return left + plot_w * (x - x0) / (x1 - x0)

    def sy(y: float) -> float:
        return pad + plot_h * (1 - (y - y0) / (y1 - y0))

    series = [Series(name, names.get(name, name),
                     " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts), pts)
              for name, pts in data.items()]
    x_ticks = list(zip([sx(x) for x in xs], tick_labels(xs), strict=True))
    y_ticks = list(zip([sy(y) for y in ys], tick_labels(ys), strict=True))
    return LineChart(width, height, series, x_ticks, y_ticks, left, bottom, pad)


def heat_class(value: int, row_total: int) -> str:
    """A CSS class from 0 (none) to 5 (all of the row) for a confusion-matrix cell."""
    if row_total <= 0 or value <= 0:
        return "heat-0"
    return f"heat-{min(5, 1 + int(5 * value / row_total))}"
