"""Plotly figures in the portals' one style, for the charts recharts has no equivalent of.

Gauges, scatter plots with percentile lines and heatmaps, built from read-model
values (never from SQL) and shown with `rx.plotly`. Colours and fonts come
from `portal_common.styles`; every figure has a transparent background (the
card is the background), no mode bar and no animation, so a screenshot shows
it finished.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from portal_common import styles
from portal_common.formatting import PERCENT, PP

FONT = "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
#: Passed to rx.plotly(config=...): no plotly logo and tool bar on a dashboard card.
PLOT_CONFIG: dict[str, Any] = {"displayModeBar": False, "responsive": True}

#: A figure as the browser gets it: plotly's JSON as plain data (what Reflex sends for a go.Figure var).
FigureJson = dict[str, Any]


def figure_json(fig: go.Figure) -> FigureJson:
    """The figure as plain data for a page state's var (shown with `rx.plotly(data=var.to(go.Figure))`).

    Reflex pickles every state it loads for an event to Redis and back, and
    deep-copies a new tab's defaults. A go.Figure var is rebuilt from its dict
    with full validation each time, the whole default template included (about
    10 ms per figure, for every figure of every state loaded); plain data costs
    next to nothing, and the browser gets the same JSON.
    """
    return json.loads(fig.to_json())


def base_layout(height: int, **overrides: Any) -> dict[str, Any]:
    """The layout every portal figure starts from."""
    layout: dict[str, Any] = {
        "height": height,
        "autosize": True,
        "margin": {"l": 48, "r": 16, "t": 16, "b": 40},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT, "size": 12, "color": styles.CHART_COLORS["text"]},
        "hoverlabel": {"font": {"family": FONT, "size": 12}},
        "showlegend": False,
        "transition": {"duration": 0},
    }
    layout.update(overrides)
    return layout


def empty_figure(height: int = 260) -> go.Figure:
    """A blank figure (before data arrives, or when there is nothing to draw)."""
    fig = go.Figure(layout=base_layout(height))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def gauge_figure(
    value: float | None,
    *,
    target: float,
    warning: float,
    status: str,
    reference: float | None = None,
    height: int = 220,
) -> go.Figure:
    """A 0-100 % gauge: red below `warning`, yellow up to `target`, green above; the target as a line.

    The number has one decimal at most (the portal's rule for percentages), the
    change against `reference` is in percentage points.
    """
    if value is None:
        return empty_figure(height)
    bar = {"green": styles.CHART_COLORS["good"], "yellow": styles.CHART_COLORS["warn"]}.get(
        status, styles.CHART_COLORS["bad"]
    )
    indicator = go.Indicator(
        mode="gauge+number+delta" if reference is not None else "gauge+number",
        value=value,
        number={"suffix": PERCENT, "valueformat": ".1~f", "font": {"size": 34}},
        delta={"reference": reference, "valueformat": ".1~f", "suffix": PP,
               "increasing": {"color": styles.CHART_COLORS["good"]},
               "decreasing": {"color": styles.CHART_COLORS["bad"]}}
        if reference is not None else None,
        gauge={
            "axis": {"range": [0, 100], "ticksuffix": "%", "tickvals": [0, warning, target, 100], "tickwidth": 1},
            "bar": {"color": bar, "thickness": 0.35},
            "bgcolor": "rgba(0,0,0,0)",
            "borderwidth": 0,
            "steps": [
                {"range": [0, warning], "color": styles.BAND_COLORS["red"]},
                {"range": [warning, target], "color": styles.BAND_COLORS["yellow"]},
                {"range": [target, 100], "color": styles.BAND_COLORS["green"]},
            ],
            "threshold": {"line": {"color": "#334155", "width": 3}, "thickness": 0.85, "value": target},
        },
        domain={"x": [0, 1], "y": [0, 1]},
    )  # fmt: skip
    return go.Figure(indicator, layout=base_layout(height, margin={"l": 40, "r": 40, "t": 24, "b": 8}))


def scatter_figure(
    groups: Sequence[tuple[str, str, list[str], list[float], list[str]]],
    *,
    lines: Sequence[tuple[str, float | None]] = (),
    y_title: str = "",
    height: int = 340,
) -> go.Figure:
    """Points in groups (one trace each: name, colour, x, y, hover text) with labelled horizontal lines.

    A click on a point reports the group's trace index (`curveNumber`) and the
    point's index in it (`pointIndex`), so callers keep the ids in the same order.
    Lines (e.g. 50th / 85th percentile) are layout shapes, not traces.
    """
    fig = go.Figure(layout=base_layout(height, showlegend=True, hovermode="closest",
                                       legend={"orientation": "h", "y": -0.18, "x": 0}))  # fmt: skip
    for name, color, xs, ys, texts in groups:
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=name,
                text=texts,
                hovertemplate="%{text}<extra></extra>",
                marker={"color": color, "size": 9, "opacity": 0.8, "line": {"width": 1, "color": "white"}},
            )
        )
    dashes = ["dash", "dot", "dashdot"]
    for n, (label, value) in enumerate(lines):
        if value is None:
            continue
        fig.add_hline(
            y=value, line_dash=dashes[n % len(dashes)], line_color="#334155", line_width=1.5,
            annotation_text=label, annotation_position="top left", annotation_font_size=11,
        )  # fmt: skip
    fig.update_xaxes(type="date", gridcolor=styles.CHART_COLORS["grid"], tickformat="%d %b", showline=False)
    fig.update_yaxes(title_text=y_title, gridcolor=styles.CHART_COLORS["grid"], rangemode="tozero", zeroline=False)
    return fig


def heatmap_figure(
    x_labels: list[str],
    y_labels: list[str],
    values: list[list[float | None]],
    counts: list[list[int]],
    *,
    value_label: str,
    count_label: str,
    value_suffix: str = "",
    colorscale: list[list[Any]] | None = None,
    zmin: float | None = None,
    zmax: float | None = None,
    height: int | None = None,
) -> go.Figure:
    """A grid of values (None: no data, left blank) with what is behind each cell in the hover text."""
    texts = [
        [
            f"{y} · {x}<br>{value_label}: {v:g}{value_suffix}<br>{count_label}: {c}" if v is not None
            else f"{y} · {x}<br>no {count_label}"
            for x, v, c in zip(x_labels, row, crow, strict=True)
        ]
        for y, row, crow in zip(y_labels, values, counts, strict=True)
    ]  # fmt: skip
    rows = max(1, len(y_labels))
    fig = go.Figure(
        go.Heatmap(
            x=x_labels,
            y=y_labels,
            z=values,
            text=texts,
            hovertemplate="%{text}<extra></extra>",
            colorscale=colorscale or styles.HEAT_SCALE,
            zmin=zmin,
            zmax=zmax,
            xgap=2,
            ygap=2,
            hoverongaps=False,
            colorbar={"thickness": 10, "outlinewidth": 0, "ticksuffix": value_suffix, "len": 0.9},
        ),
        layout=base_layout(height or min(520, 60 + 34 * rows), margin={"l": 120, "r": 16, "t": 8, "b": 40}),
    )
    fig.update_yaxes(autorange="reversed", showgrid=False, type="category")
    fig.update_xaxes(showgrid=False, type="category", automargin=True)
    return fig
