"""Plotly figures of the company pages, from read models (`services.dashboards`): gauge, scatter, heatmaps.

Pure functions: the page states call them in `_apply` and keep the figure in a var, as plain
plotly JSON (`portal_common.charts.figure_json`: cheap in a state that round-trips through Redis).
"""

from __future__ import annotations

import functools
import json

from portal_common import styles
from portal_common.charts import FigureJson, figure_json, gauge_figure, heatmap_figure, scatter_figure
from services import dashboards as dash

#: Item types in the scatter, in legend order, with their names.
SCATTER_TYPES = (("story", "Stories"), ("bug", "Bugs"), ("task", "Tasks"), ("other", "Other"))
#: How many of the scatter's points its table lists before "Show all".
CYCLE_ROWS = 10


def compliance_gauge_figure(gauge: dash.ComplianceGauge) -> FigureJson:
    """The ComplianceGauge of a read model; its change is the KPI card's (against the unrounded average)."""
    reference = gauge.value - gauge.delta if gauge.value is not None and gauge.delta is not None else None
    return json.loads(_gauge_json(gauge.value, gauge.target, gauge.warning, gauge.status, reference))


@functools.lru_cache(maxsize=256)
def _gauge_json(value: float | None, target: float, warning: float, status: str, reference: float | None) -> str:
    """A gauge's JSON, a pure function of five numbers: built and validated once, not on every dashboard load (~4 ms)."""
    return json.dumps(figure_json(gauge_figure(value, target=target, warning=warning, status=status, reference=reference)))


def _hover(p: dash.CyclePoint) -> str:
    title = p.title if len(p.title) <= 60 else p.title[:59] + "…"
    days = f"{p.cycle_days:g} day" + ("" if p.cycle_days == 1 else "s")
    return f"<b>{p.key}</b> {title}<br>{days} · done {p.done_day}<br>{p.assignee}"


def cycle_time_figure(data: dash.CycleTimeScatter) -> tuple[FigureJson, list[list[int]]]:
    """The cycle-time ScatterPlot (one trace per item type) and the item ids by trace and point index."""
    groups, ids = [], []
    for bucket, name in SCATTER_TYPES:
        points = [p for p in data.points if p.item_type == bucket]
        if not points:
            continue
        groups.append((name, styles.CHART_COLORS[bucket], [p.done_at for p in points],
                       [p.cycle_days for p in points], [_hover(p) for p in points]))  # fmt: skip
        ids.append([p.item_id for p in points])
    lines = [(f"P50 {data.p50:g} days", data.p50), (f"P85 {data.p85:g} days", data.p85)] if data.total else []
    return figure_json(scatter_figure(groups, lines=lines, y_title="cycle time (days)")), ids


def slowest_first(data: dash.CycleTimeScatter, limit: int | None = CYCLE_ROWS) -> list[dash.CyclePoint]:
    """The scatter's points by cycle time, slowest first (then the latest done), at most `limit` (None: all)."""
    ordered = sorted(data.points, key=lambda p: (p.cycle_days, p.done_at, p.item_id), reverse=True)
    return ordered if limit is None else ordered[:limit]


def item_at(ids: list[list[int]], points: list[dict]) -> int | None:
    """The item id of the first clicked point (plotly's curveNumber and pointIndex), None if unknown."""
    for point in points or []:
        curve, index = point.get("curveNumber"), point.get("pointIndex", point.get("pointNumber"))
        if isinstance(curve, int) and isinstance(index, int) and 0 <= curve < len(ids) and 0 <= index < len(ids[curve]):
            return ids[curve][index]
    return None


def review_wait_figure(data: dash.Heatmap) -> FigureJson:
    """The review-wait Heatmap: weekdays x hours, median hours to the first review."""
    return figure_json(heatmap_figure(
        data.x_labels, data.y_labels, data.values, data.counts, value_label=data.value_label,
        count_label=data.count_label, value_suffix=" h", height=320,
    ))  # fmt: skip


def compliance_heatmap_figure(data: dash.Heatmap) -> FigureJson:
    """The compliance Heatmap: developers x sprints, percent compliant (red low, green high)."""
    return figure_json(heatmap_figure(
        data.x_labels, data.y_labels, data.values, data.counts, value_label=data.value_label,
        count_label=data.count_label, value_suffix="%", colorscale=styles.GOOD_BAD_SCALE, zmin=0, zmax=100,
    ))  # fmt: skip
