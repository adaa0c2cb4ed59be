"""Projects and their DMT settings (control plane)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError
from sqlmodel import Session, select

from core.errors import Conflict, NotFound, ValidationFailed
from core.realtime import bump_data_version
from etl.rules import RULES_BY_ID
from models.base import utcnow
from models.db import public_session
from models.public import DEFAULT_COMPLIANCE_TARGET, Project, Tenant
from services import audit
from services.audit import Actor


def _check_compliance_target(value: float) -> float:
    # One message for 0, 101, NaN and infinity alike; pydantic's own bound messages name only one side.
    if not 0 < value <= 100:
        raise PydanticCustomError(
            "compliance_target_range",
            "the compliance target is a percentage above 0 and at most 100, not {value}",
            {"value": f"{value:g}"},
        )
    return value


#: The DMT compliance rate a project aims for, in percent: above 0, at most 100.
ComplianceTarget = Annotated[
    float,
    AfterValidator(_check_compliance_target),
    Field(json_schema_extra={"exclusiveMinimum": 0, "maximum": 100}),
]


class ProjectDefinition(BaseModel):
    """A new project's fields; the tenant comes from elsewhere (`ProjectCreate`, or the API's path)."""

    key: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    coverage_threshold: float = Field(default=80.0, ge=0, le=100)
    compliance_target: ComplianceTarget = DEFAULT_COMPLIANCE_TARGET


class ProjectCreate(ProjectDefinition):
    tenant_id: int


class ProjectSettingsUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    coverage_threshold: float | None = Field(default=None, ge=0, le=100)
    compliance_target: ComplianceTarget | None = None
    rules_config: dict[str, Any] | None = None
    exception_warning_days: int | None = Field(default=None, ge=0, le=90)
    sprint_ending_days: int | None = Field(default=None, ge=0, le=30)
    is_active: bool | None = None


class ProjectPublic(BaseModel):
    id: int
    tenant_id: int
    key: str
    name: str
    description: str
    is_active: bool
    coverage_threshold: float
    compliance_target: float
    rules_config: dict[str, Any]
    exception_warning_days: int
    sprint_ending_days: int

    @classmethod
    def of(cls, p: Project) -> ProjectPublic:
        return cls(**p.model_dump(include=set(cls.model_fields)))


def create_project(data: ProjectCreate, actor: Actor) -> Project:
    with public_session() as session:
        if session.get(Tenant, data.tenant_id) is None:
            raise NotFound(f"tenant {data.tenant_id} not found")
        key = data.key.upper()
        exists = session.exec(select(Project).where(Project.tenant_id == data.tenant_id, Project.key == key)).first()
        if exists:
            raise Conflict(f"project key {key} is already used in this tenant", field="key")
        project = Project(
            tenant_id=data.tenant_id,
            key=key,
            name=data.name.strip(),
            description=data.description,
            coverage_threshold=data.coverage_threshold,
            compliance_target=data.compliance_target,
        )
        session.add(project)
        try:
            session.flush()
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"project key {key} is already used in this tenant", field="key") from exc
        audit.record(
            session,
            actor,
            "project.create",
            "project",
            project.id,
            new=audit.snapshot(project),
            tenant_id=project.tenant_id,
        )
        session.commit()
        return project


def _project_in(session: Session, project_id: int, tenant_id: int | None = None) -> Project:
    project = session.get(Project, project_id)
    if project is None or (tenant_id is not None and project.tenant_id != tenant_id):
        raise NotFound(f"project {project_id} not found")
    return project


def get_project(project_id: int, tenant_id: int | None = None) -> Project:
    """A project (detached, columns loaded); with tenant_id, only if it belongs to that tenant (else NotFound)."""
    with public_session() as session:
        return _project_in(session, project_id, tenant_id)


def list_projects(tenant_id: int) -> list[Project]:
    """The tenant's projects by name."""
    with public_session() as session:
        return list(session.exec(select(Project).where(Project.tenant_id == tenant_id).order_by(Project.name)).all())


def update_project_settings(project_id: int, data: ProjectSettingsUpdate, actor: Actor) -> Project:
    with public_session() as session:
        project = _project_in(session, project_id)
        old = audit.snapshot(project)
        values = data.model_dump(exclude_unset=True)
        if values.get("rules_config") is not None:
            for rule_id, conf in values["rules_config"].items():
                if rule_id not in RULES_BY_ID:
                    raise ValidationFailed(f"unknown rule {rule_id!r}", field="rules_config")
                if not isinstance(conf, dict):
                    raise ValidationFailed(f"settings of {rule_id} must be an object", field="rules_config")
        for name, value in values.items():
            if value is not None:
                setattr(project, name, value)
        project.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "project.update",
            "project",
            project.id,
            old=old,
            new=audit.snapshot(project),
            tenant_id=project.tenant_id,
        )
        session.commit()
        tenant = session.get(Tenant, project.tenant_id)
    if tenant is not None:  # the dashboards show the settings (the gauge's target): cached page data is stale
        bump_data_version(tenant.slug)
    return project
