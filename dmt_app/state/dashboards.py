"""States of the analytics pages: each calls one services.dashboards function and keeps its result."""

from __future__ import annotations

from typing import Any

import reflex as rx

from dmt_app.state.base import CompanyState, ProjectPageEvents, rule_totals
from services import dashboards as dash
from services.auth import CurrentUser


def _dump(rows: list[Any]) -> list[dict[str, Any]]:
    return [r.model_dump() for r in rows]


class DashboardState(ProjectPageEvents, CompanyState):
    kpi: dash.Kpis = dash.Kpis(project_id=0)
    velocity_chart: list[dict[str, Any]] = []
    forecast: dash.Forecast = dash.Forecast()

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        with dash.one_page_load():
            return dash.kpis(user, project_id), dash.velocity_series(user, project_id)

    def _apply(self, data: Any) -> None:
        self.kpi, v = data
        self.velocity_chart = _dump(v.points[-6:])
        self.forecast = v.forecast


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

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.velocity_series(user, project_id)

    def _apply(self, data: Any) -> None:
        self.data = data
        self.chart = velocity_rows(data)


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

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.quality(user, project_id)

    def _apply(self, data: Any) -> None:
        self.data = data
        self.chart = _dump(data.series)
        self.rules_chart = rule_totals(data.flags_by_rule)


class PrHealthState(ProjectPageEvents, CompanyState):
    data: dash.PrHealth = dash.PrHealth(project_id=0)
    buckets: list[dict[str, Any]] = []
    series: list[dict[str, Any]] = []

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.pr_health(user, project_id)

    def _apply(self, data: Any) -> None:
        self.data = data
        self.buckets = _dump(data.buckets)
        self.series = _dump(data.series)


class TeamState(CompanyState):
    """Team overview (sprint list) and the deep-dive of one sprint."""

    detail: dash.SprintDetail = dash.SprintDetail(
        project_id=0, sprint=dash.SprintPoint(sprint_id=0, sprint_name="", state="")
    )
    burn: list[dict[str, Any]] = []
    sprint_items: list[dash.ItemRow] = []
    sprint_choice: str = ""

    def _inputs(self) -> dict[str, Any]:
        return {"sprint": self.sprint_choice}

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        sprint = int(inputs["sprint"]) if inputs.get("sprint") else None
        try:
            return dash.sprint_detail(user, project_id, sprint)
        except dash.NotFound:
            return dash.sprint_detail(user, project_id, None)  # the sprint belongs to another project

    def _apply(self, data: Any) -> None:
        self.detail = data
        self.burn = _dump(data.burn)
        self.sprint_items = data.items
        self.sprint_choice = str(data.sprint.sprint_id) if data.sprint.sprint_id else ""

    @rx.event
    async def load(self):
        self.loading = True
        yield
        await self._refresh()

    @rx.event
    async def pick_project(self, value: str):
        self.loading = True
        self.sprint_choice = ""
        yield
        await self._refresh(value)

    @rx.event
    async def pick_sprint(self, value: str):
        self.sprint_choice = value
        self.loading = True
        yield
        await self._refresh()

    @rx.event
    async def on_live(self, events: list[dict[str, Any]]):
        await self._live(events)


class DevelopersState(CompanyState):
    data: dash.DeveloperList = dash.DeveloperList(project_id=0, names_visible=False)
    selected: str = ""
    detail: dash.DeveloperDetail = dash.DeveloperDetail(project_id=0)
    detail_chart: list[dict[str, Any]] = []

    def _inputs(self) -> dict[str, Any]:
        return {"selected": self.selected}

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        devs = dash.developers(user, project_id)
        ids = [d.identity_id for d in devs.developers]
        chosen = int(inputs["selected"]) if inputs.get("selected") else None
        if chosen not in ids:
            chosen = ids[0] if ids else None
        detail = dash.developer_detail(user, project_id, chosen) if chosen else dash.DeveloperDetail(project_id=0)
        return devs, detail

    def _apply(self, data: Any) -> None:
        self.data, self.detail = data
        self.selected = str(self.detail.identity_id or "")
        self.detail_chart = _dump(self.detail.series)

    @rx.event
    async def load(self):
        self.loading = True
        yield
        await self._refresh()

    @rx.event
    async def pick_project(self, value: str):
        self.loading = True
        self.selected = ""
        yield
        await self._refresh(value)

    @rx.event
    async def pick_developer(self, identity_id: int):
        self.selected = str(identity_id)
        await self._refresh()

    @rx.event
    async def on_live(self, events: list[dict[str, Any]]):
        await self._live(events)


class MeState(ProjectPageEvents, CompanyState):
    detail: dash.DeveloperDetail = dash.DeveloperDetail(project_id=0)
    chart: list[dict[str, Any]] = []

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        return dash.me(user, project_id)

    def _apply(self, data: Any) -> None:
        self.detail = data
        self.chart = _dump(data.series)
