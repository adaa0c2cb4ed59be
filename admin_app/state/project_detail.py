"""Project detail: DMT settings (coverage threshold, compliance target, rule switches and severities) and its sources."""

from __future__ import annotations

from datetime import UTC
from typing import Any, TypedDict

import reflex as rx

from admin_app.state.base import AdminState, error_message, form_int, form_str, int_param
from etl.rules import effective_rules
from services import admin_queries, data_quality, projects, sources


class RuleRow(TypedDict):
    id: str
    message: str
    default_severity: str
    severity: str
    enabled: bool


class PointsRow(TypedDict):
    key: str
    title: str
    points: str
    status: str
    url: str


class SourceRow(TypedDict):
    id: int
    name: str
    source_type: str
    status: str
    last_sync_at: str
    is_active: bool


def rule_rows(rules_config: dict[str, Any]) -> list[RuleRow]:
    return [
        RuleRow(
            id=r.rule.id,
            message=r.rule.message,
            default_severity=str(r.rule.severity),
            severity=r.severity,
            enabled=r.enabled,
        )
        for r in effective_rules(rules_config)
    ]


class ProjectDetailState(AdminState):
    project_id: int = 0
    tenant_id: int = 0
    tenant_name: str = ""
    key: str = ""
    name: str = ""
    description: str = ""
    coverage_threshold: str = "80"
    compliance_target: str = "90"
    exception_warning_days: str = "7"
    sprint_ending_days: str = "2"
    is_active: bool = True
    rules: list[RuleRow] = []
    source_rows: list[SourceRow] = []
    #: Data quality: items whose story points the figures ignore (outside 0..points_ceiling).
    points_rows: list[PointsRow] = []
    points_total: int = 0
    points_ceiling: int = 100
    error: str = ""
    not_found: str = ""
    version: int = 0

    @rx.event
    async def load(self):
        await self.require_admin()
        self.project_id = int_param(self, "project_id")
        try:
            project, tenant = await self.call(admin_queries.project_with_tenant, self.project_id)
        except Exception as exc:  # noqa: BLE001
            self.not_found = error_message(exc)
            return
        self.not_found = self.error = ""
        self.tenant_id, self.tenant_name = tenant.id, tenant.name
        self.key, self.name, self.description = project.key, project.name, project.description
        self.coverage_threshold = f"{project.coverage_threshold:g}"
        self.compliance_target = f"{project.compliance_target:g}"
        self.exception_warning_days = str(project.exception_warning_days)
        self.sprint_ending_days = str(project.sprint_ending_days)
        self.is_active = project.is_active
        self.rules = rule_rows(project.rules_config)
        found = await self.call(sources.list_sources, None, self.project_id)
        self.source_rows = [
            SourceRow(
                id=s.id,
                name=s.name,
                source_type=s.source_type,
                status=s.status,
                last_sync_at=s.last_sync_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
                if s.last_sync_at
                else "never",
                is_active=s.is_active,
            )
            for s in found
        ]
        outliers = await self.call(data_quality.story_point_outliers, self.project_id)
        self.points_total, self.points_ceiling = outliers.total, outliers.ceiling
        self.points_rows = [
            PointsRow(key=o.key, title=o.title, points=f"{o.story_points:g}", status=o.status, url=o.url)
            for o in outliers.items
        ]
        self.version += 1

    @rx.event
    async def save(self, form: dict[str, Any]):
        user = await self.require_admin()
        rules_config = {
            r["id"]: {
                "enabled": bool(form.get(f"rule_{r['id']}_enabled")),
                "severity": form_str(form, f"rule_{r['id']}_severity") or r["severity"],
            }
            for r in self.rules
        }
        try:
            data = projects.ProjectSettingsUpdate(
                name=form_str(form, "name") or None,
                description=form_str(form, "description"),
                coverage_threshold=float(form_str(form, "coverage_threshold") or 0),
                # An emptied field is refused by the service's range check (0 is not a target).
                compliance_target=float(form_str(form, "compliance_target") or 0),
                exception_warning_days=form_int(form, "exception_warning_days", 7),
                sprint_ending_days=form_int(form, "sprint_ending_days", 2),
                is_active=bool(form.get("is_active")),
                rules_config=rules_config,
            )
            await self.call(projects.update_project_settings, self.project_id, data, self.actor_of(user))
        except ValueError as exc:
            self.error = error_message(exc) if hasattr(exc, "errors") else f"not a number: {exc}"
            return None
        except Exception as exc:  # noqa: BLE001
            self.error = error_message(exc)
            return None
        await self.load()
        return rx.toast.success("DMT settings saved")
