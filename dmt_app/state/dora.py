"""State of the DORA page: the four keys of a project's environment, their trend, and the lists behind them.

Everything is read through services.dashboards.dora (no SQL here). The period,
environment and "only failed" filter live in the URL's query (``?period=180d&env=staging``)
so a view can be shared; the deployment dialog reads one deployment's PRs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode

import reflex as rx

from core.errors import ServiceError
from dmt_app.state.base import CompanyState, ProjectPageEvents
from services.auth import CurrentUser
from services.dashboards import dora

PAGE_SIZE = 25


def _short(sha: str | None) -> str:
    return (sha or "")[:7]


def _when(iso: str | None) -> str:
    return (iso or "")[:16].replace("T", " ")


def _hours(value: float | None) -> str:
    return "-" if value is None else (f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} d")


class DoraState(ProjectPageEvents, CompanyState):
    period: str = dora.DEFAULT_PERIOD
    environment: str = ""
    failed_only: bool = False
    data: dora.DoraOverview = dora.DoraOverview(project_id=0)
    series: list[dict[str, Any]] = []
    cards: list[dict[str, Any]] = []
    deployments: list[dict[str, Any]] = []
    deployments_total: int = 0
    deployments_page: int = 1
    incidents: list[dict[str, Any]] = []
    incidents_total: int = 0
    # The deployment dialog
    detail_open: bool = False
    detail_title: str = ""
    detail_prs: list[dict[str, Any]] = []
    detail_error: str = ""

    # -- page hooks -----------------------------------------------------------
    def _page_opened(self) -> None:
        query = parse_qs(self.router.url.query or "")
        period = (query.get("period") or [""])[0]
        self.period = period if period in dora.PERIODS else dora.DEFAULT_PERIOD
        self.environment = (query.get("env") or [""])[0]
        self.failed_only = (query.get("failed") or [""])[0] == "1"
        self.deployments_page = 1

    def _project_picked(self) -> None:
        self.environment = ""
        self.deployments_page = 1

    def _inputs(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "environment": self.environment or None,
            "failed_only": self.failed_only,
            "page": self.deployments_page,
        }

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        overview = dora.dora_overview(user, project_id, inputs["period"], inputs["environment"])
        env = overview.environment
        deployments = dora.dora_deployments(
            user, project_id, inputs["period"], env, failed_only=inputs["failed_only"], page=inputs["page"],
            page_size=PAGE_SIZE,
        )  # fmt: skip
        incidents = dora.dora_incidents(user, project_id, inputs["period"], env, page_size=PAGE_SIZE)
        return overview, deployments, incidents

    def _apply(self, data: Any) -> None:
        overview, deployments, incidents = data
        self.data = overview
        self.environment = overview.environment or ""
        self.series = [p.model_dump() for p in overview.series]
        self.cards = [k.model_dump() for k in overview.keys]
        self.deployments = [
            {
                **d.model_dump(),
                "short_sha": _short(d.commit_sha),
                "when": _when(d.finished_at),
                "lead": _hours(d.lead_time_median_hours),
            }
            for d in deployments.rows
        ]
        self.deployments_total = deployments.total
        self.incidents = [
            {
                **i.model_dump(),
                "opened": _when(i.opened_at),
                "resolved": _when(i.resolved_at) or "open",
                "restore": _hours(i.restore_hours),
                "deployed": _when(i.deployed_at),
            }
            for i in incidents.rows
        ]
        self.incidents_total = incidents.total

    # -- filters --------------------------------------------------------------
    @rx.var
    def has_more(self) -> bool:
        return self.deployments_page * PAGE_SIZE < self.deployments_total

    @rx.var
    def period_label(self) -> str:
        return self.period.replace("d", " days")

    def _query(self) -> str:
        """The page's filters as its URL query (encoded: an environment's name is the tool's)."""
        parts = {"project": self.project_id, "period": self.period}
        if self.environment:
            parts["env"] = self.environment
        if self.failed_only:
            parts["failed"] = "1"
        return "?" + urlencode(parts)

    @rx.event
    async def set_period(self, value: str):
        self.period = value if value in dora.PERIODS else dora.DEFAULT_PERIOD
        self.deployments_page = 1
        self.loading = True
        yield rx.call_script(f"window.history.replaceState(null, '', window.location.pathname + '{self._query()}')")
        await self._refresh()

    @rx.event
    async def set_environment(self, value: str):
        self.environment = value
        self.deployments_page = 1
        self.loading = True
        yield rx.call_script(f"window.history.replaceState(null, '', window.location.pathname + '{self._query()}')")
        await self._refresh()

    @rx.event
    async def toggle_failed(self, value: bool):
        self.failed_only = bool(value)
        self.deployments_page = 1
        yield rx.call_script(f"window.history.replaceState(null, '', window.location.pathname + '{self._query()}')")
        await self._refresh()

    @rx.event
    async def next_page(self):
        if self.has_more:
            self.deployments_page += 1
            await self._refresh()

    @rx.event
    async def previous_page(self):
        if self.deployments_page > 1:
            self.deployments_page -= 1
            await self._refresh()

    # -- the deployment dialog ------------------------------------------------
    @rx.event
    async def open_deployment(self, deployment_id: int):
        user = await self.require_user()
        self.detail_open, self.detail_error, self.detail_prs = True, "", []
        self.detail_title = "Loading the deployment…"
        yield
        try:
            found = await self.call(dora.dora_deployment, user, self.pid, int(deployment_id))
        except ServiceError as exc:
            self.detail_error = exc.message
            return
        d = found.deployment
        self.detail_title = f"{d.name} · {d.environment} · {_short(d.commit_sha)} · {_when(d.finished_at)}"
        self.detail_prs = [
            {
                **p.model_dump(),
                "label": f"#{p.number} {p.title}" if p.number else p.title,
                "lead": _hours(p.lead_time_hours),
                "first": _when(p.first_commit_at),
                "merged": _when(p.merged_at),
                "items": ", ".join(str(w.get("key") or "") for w in p.work_items if w.get("key")) or "-",
            }
            for p in found.pull_requests
        ]

    @rx.event
    def set_detail_open(self, value: bool):
        self.detail_open = value
