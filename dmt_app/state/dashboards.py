"""States of the analytics pages: each calls one services.dashboards function and keeps its result."""

from __future__ import annotations

from typing import Any, ClassVar, TypedDict

import reflex as rx

from core.errors import NotFound
from dmt_app.routes import sprint_url
from dmt_app.state import charts
from dmt_app.state.base import CompanyState, ProjectPageEvents, rule_totals
from dmt_app.state.drill import DrillState
from portal_common.charts import FigureJson, empty_figure, figure_json
from services import dashboards as dash
from services.auth import CurrentUser


def _dump(rows: list[Any]) -> list[dict[str, Any]]:
    return [r.model_dump() for r in rows]


class DashboardState(ProjectPageEvents, CompanyState):
    SHARED_DATA: ClassVar[bool] = True  # KPIs, velocity, gauge, forecast, burndown: the same for every user of the project

    kpi: dash.Kpis = dash.Kpis(project_id=0)
    velocity_chart: list[dict[str, Any]] = []
    forecast: dash.Forecast = dash.Forecast()
    charts: dash.DashboardCharts = dash.DashboardCharts(project_id=0, forecast=dash.ForecastCard(project_id=0))
    gauge_figure: FigureJson = figure_json(empty_figure())
    burn: list[dict[str, Any]] = []

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        with dash.one_page_load():
            return (dash.kpis(user, project_id), dash.velocity_series(user, project_id),
                    dash.dashboard_charts(user, project_id))  # fmt: skip

    def _apply(self, data: Any) -> None:
        self.kpi, v, self.charts = data
        self.velocity_chart = _dump(v.points[-6:])
        self.forecast = v.forecast
        self.gauge_figure = charts.compliance_gauge_figure(self.charts.gauge)
        self.burn = _dump(self.charts.burndown.burn)


def velocity_rows(v: dash.VelocitySeries) -> list[dict[str, Any]]:
    """Chart rows: past sprints, then a 'next sprint' row carrying the P85..P50 forecast band."""
    rows = _dump(v.points)
    fc = v.forecast
    if fc.p50 is not None and fc.p85 is not None:
        low, high = min(fc.p50, fc.p85), max(fc.p50, fc.p85)
        rows.append(
            {
                "sprint_name": "Next (forecast)",
                "forecast_p85": low,
                "forecast_band": round(high - low, 1),
                "forecast_p50": high,
            }
        )
    return rows


class VelocityState(ProjectPageEvents, CompanyState):
    data: dash.VelocitySeries = dash.VelocitySeries(project_id=0)
    chart: list[dict[str, Any]] = []
    #: The cycle-time scatter of the last `period` days, its figure and the item id behind each point.
    period: str = "90"
    scatter: dash.CycleTimeScatter = dash.CycleTimeScatter(project_id=0)
    scatter_figure: FigureJson = figure_json(empty_figure())
    _scatter_ids: list[list[int]] = []
    #: The table under the scatter lists all its points, not only the slowest `CYCLE_ROWS`.
    cycle_rows_all: bool = False

    def _inputs(self) -> dict[str, Any]:
        return {"days": int(self.period) if self.period.isdigit() else 90}

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.velocity_series(user, project_id), dash.cycle_time_scatter(user, project_id, inputs["days"])

    def _apply(self, data: Any) -> None:
        self.data, self.scatter = data
        self.chart = velocity_rows(self.data)
        self.scatter_figure, self._scatter_ids = charts.cycle_time_figure(self.scatter)

    @rx.event
    async def pick_period(self, value: str):
        """The scatter's period (days)."""
        self.period = value
        await self._refresh()

    @rx.var
    def cycle_rows(self) -> list[dash.CyclePoint]:
        """The scatter's own points, slowest first: the keyboard route to each point (the table under the chart)."""
        return charts.slowest_first(self.scatter, None if self.cycle_rows_all else charts.CYCLE_ROWS)

    @rx.event
    def toggle_cycle_rows(self):
        """Show every point of the scatter in its table, or only the slowest again."""
        self.cycle_rows_all = not self.cycle_rows_all

    @rx.event
    def open_point(self, points: list[dict[str, Any]]):
        """A click on a scatter point opens its item (the drill-down dialog)."""
        item_id = charts.item_at(self._scatter_ids, points)
        if item_id is not None:
            return DrillState.show_item(item_id)


class ThroughputState(ProjectPageEvents, CompanyState):
    data: dash.ThroughputSeries = dash.ThroughputSeries(project_id=0)
    chart: list[dict[str, Any]] = []

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.throughput_series(user, project_id)

    def _apply(self, data: Any) -> None:
        self.data = data
        self.chart = _dump(data.rows)


class QualityState(ProjectPageEvents, CompanyState):
    data: dash.Quality = dash.Quality(project_id=0)
    chart: list[dict[str, Any]] = []
    rules_chart: list[dict[str, Any]] = []
    #: Compliance by developer x sprint (rows only for roles allowed to see names).
    heatmap: dash.Heatmap = dash.Heatmap()
    heatmap_figure: FigureJson = figure_json(empty_figure())

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.quality(user, project_id), dash.compliance_heatmap(user, project_id)

    def _apply(self, data: Any) -> None:
        self.data, self.heatmap = data
        self.chart = _dump(self.data.series)
        self.rules_chart = rule_totals(self.data.flags_by_rule)
        self.heatmap_figure = charts.compliance_heatmap_figure(self.heatmap)


class PrHealthState(ProjectPageEvents, CompanyState):
    data: dash.PrHealth = dash.PrHealth(project_id=0)
    buckets: list[dict[str, Any]] = []
    series: list[dict[str, Any]] = []
    #: Review wait by the weekday and hour a PR was opened.
    heatmap: dash.Heatmap = dash.Heatmap()
    heatmap_figure: FigureJson = figure_json(empty_figure())

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.pr_health(user, project_id), dash.review_wait_heatmap(user, project_id)

    def _apply(self, data: Any) -> None:
        self.data, self.heatmap = data
        self.buckets = _dump(self.data.buckets)
        self.series = _dump(self.data.series)
        self.heatmap_figure = charts.review_wait_figure(self.heatmap)


class SprintRow(TypedDict):
    """A sprint in the team's table, with the link to its deep-dive."""

    sprint_id: int
    sprint_name: str
    state: str
    committed_points: float
    completed_points: float
    committed_items: int
    completed_items: int
    blocked_items: int
    compliance_rate: float | None
    open_flags: int
    url: str


def sprint_rows(detail: dash.SprintDetail) -> list[SprintRow]:
    """The project's sprints, newest first, each with the URL of its deep-dive page."""
    return [
        SprintRow(
            sprint_id=p.sprint_id,
            sprint_name=p.sprint_name,
            state=p.state,
            committed_points=p.committed_points,
            completed_points=p.completed_points,
            committed_items=p.committed_items,
            completed_items=p.completed_items,
            blocked_items=p.blocked_items,
            compliance_rate=p.compliance_rate,
            open_flags=p.open_flags,
            url=sprint_url(p.sprint_name, detail.project_id),
        )
        for p in detail.sprints
    ]


def _no_sprint() -> dash.SprintDetail:
    return dash.SprintDetail(project_id=0, sprint=dash.SprintPoint(sprint_id=0, sprint_name="", state=""))


class TeamState(ProjectPageEvents, CompanyState):
    """Team overview: the current sprint's figures and every sprint, each linking to its deep-dive."""

    detail: dash.SprintDetail = _no_sprint()
    sprints: list[SprintRow] = []
    current_url: str = ""

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.sprint_detail(user, project_id, None, limit=0)

    def _apply(self, data: Any) -> None:
        self.detail = data
        self.sprints = sprint_rows(data)
        self.current_url = sprint_url(data.sprint.sprint_name, data.project_id) if data.sprint.sprint_id else ""


def find_sprint(user: CurrentUser, project_id: int, sprint_name: str) -> dash.SprintDetail | None:
    """The deep-dive of the project's sprint with this name (the newest when names repeat), or None."""
    choice = next((c for c in dash.sprint_options(user, project_id) if c.label == sprint_name), None)
    if choice is None:
        return None
    return dash.sprint_detail(user, project_id, int(choice.value))


class SprintState(ProjectPageEvents, CompanyState):
    """The deep-dive of one sprint (`/team/sprint/<name>`): figures, burndown, burnup and every item."""

    detail: dash.SprintDetail = _no_sprint()
    burn: list[dict[str, Any]] = []
    sprint_items: list[dash.ItemRow] = []
    sprint_names: list[str] = []
    #: The sprint name in the URL when this project has no sprint of that name.
    missing: str = ""

    def _inputs(self) -> dict[str, Any]:
        return {"sprint_name": self.route_param("sprint_name")}

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        name = inputs["sprint_name"]
        found = find_sprint(user, project_id, name) if name else None
        if found is not None:
            return found, ""
        return dash.sprint_detail(user, project_id, None, limit=0), name

    def _apply(self, data: Any) -> None:
        detail, self.missing = data
        self.sprint_names = [p.sprint_name for p in detail.sprints]
        if self.missing:
            self.detail, self.burn, self.sprint_items = _no_sprint(), [], []
            return
        self.detail = detail
        self.burn = _dump(detail.burn)
        self.sprint_items = detail.items

    @rx.event
    def open_sprint(self, sprint_name: str):
        """The sprint picker: go to that sprint's own URL."""
        return rx.redirect(sprint_url(sprint_name, self.project_id))


class DevelopersState(ProjectPageEvents, CompanyState):
    """The project's developers (anonymised per role), each linking to their own page."""

    data: dash.DeveloperList = dash.DeveloperList(project_id=0, names_visible=False)

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.developers(user, project_id)

    def _apply(self, data: Any) -> None:
        self.data = data


class DeveloperState(ProjectPageEvents, CompanyState):
    """One developer (`/developers/<identity id>`): each sprint against the team average."""

    detail: dash.DeveloperDetail = dash.DeveloperDetail(project_id=0)
    chart: list[dict[str, Any]] = []

    def _inputs(self) -> dict[str, Any]:
        return {"developer_id": self.route_param("developer_id")}

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        raw = inputs["developer_id"]
        if not raw.isdigit():
            raise NotFound(f"developer {raw!r} not found")
        return dash.developer_detail(user, project_id, int(raw))

    def _apply(self, data: Any) -> None:
        self.detail = data
        self.chart = _dump(data.series)


class MeState(ProjectPageEvents, CompanyState):
    detail: dash.DeveloperDetail = dash.DeveloperDetail(project_id=0)
    chart: list[dict[str, Any]] = []

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.me(user, project_id)

    def _apply(self, data: Any) -> None:
        self.detail = data
        self.chart = _dump(data.series)
