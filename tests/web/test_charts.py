"""The console's chart geometry: axes drawn from the data."""

from __future__ import annotations

import re

import pytest

from appliance.api.web.charts import line_chart, nice_ticks, tick_labels


def labels(ticks: list[tuple[float, str]]) -> list[str]:
    return [text for _, text in ticks]


def test_one_point_gets_distinct_whole_step_ticks_and_no_negative_loss() -> None:
    """What a job's single final-step point drew before: x ticks "32 32 32 33 33", y below 0."""
    chart = line_chart([(32, 0.7)])
    xs = labels(chart.x_ticks)
    assert len(set(xs)) == len(xs) >= 3 and all(x.isdigit() for x in xs)
    assert float(xs[0]) <= 32 <= float(xs[-1])
    assert all(float(y) >= 0 for y in labels(chart.y_ticks))
    assert not chart.empty


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 0.0), (0.01, 0.012), (0.5, 0.6), (0.05, 2.3),
                                        (1.0986, 1.0986), (3.0, 1500.0)])
def test_loss_axes_never_go_below_zero_and_cover_the_data(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi, floor=0.0)
    assert ticks[0] >= 0 and ticks[0] <= lo and ticks[-1] >= hi
    texts = tick_labels(ticks)
    assert len(set(texts)) == len(texts)
    assert 3 <= len(ticks) <= 7


def test_negative_data_still_shows_below_zero() -> None:
    assert nice_ticks(-1.0, 2.0, floor=0.0)[0] <= -1.0


def test_steps_are_whole_numbers_from_zero() -> None:
    chart = line_chart([(3, 1.1), (6, 0.9), (9, 0.7), (12, 0.6)])
    assert labels(chart.x_ticks)[0] == "0" and all(t.isdigit() for t in labels(chart.x_ticks))
    assert len(chart.points.split()) == 4


def test_training_and_validation_series_share_the_axes() -> None:
    chart = line_chart({"train": [(3, 1.0), (6, 0.8), (12, 0.5)], "eval": [(12, 0.9)]},
                       labels={"train": "training loss", "eval": "validation loss"})
    assert [s.name for s in chart.series] == ["train", "eval"]
    assert len(chart.series[1].points.split()) == 1
    assert chart.data_json("eval") == "[[12.0, 0.9]]"
    top = max(float(t) for t in labels(chart.y_ticks))
    assert top >= 1.0
    for series in chart.series:  # every point lies in the plot area
        for x, y in (map(float, p.split(",")) for p in re.findall(r"[\d.]+,[\d.]+", series.points)):
            assert chart.left <= x <= chart.width - chart.pad
            assert chart.pad <= y <= chart.height - chart.bottom
