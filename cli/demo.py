"""`dmt seed-demo`: the demo platform admin, tenants acme and globex, projects, users, sources and history.

Idempotent: what exists is kept. The history is generated as normalised
records and loaded through the same loader a real sync uses (etl/demo.py);
the demo sources point at the fake tool servers that `make run` starts, so
Test connection, Discover fields and Sync work for real.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa
from sqlmodel import select

from core.settings import get_settings, reset_settings_cache
from etl.connectors.base import SourceError
from etl.forecast import forecast_project
from etl.identity import add_manual_alias
from etl.sync import run_sync
from models.base import utcnow
from models.db import all_tenant_slugs, public_session, tenant_session
from models.enums import ProjectRole, UserRole
from models.migrate import migrate_tenants, upgrade_public
from models.public import Project, SourceConfig, Tenant, User
from models.tenant import DeveloperIdentity, DmtException, WorkItem
from services import sources
from services.alerts import evaluate_and_alert
from services.audit import Actor
from services.chat_channels import ChatChannelSave, save_channel
from services.exceptions import approve_exception
from services.insights import generate_insights
from services.notifications import NOTIFICATION_KINDS, set_preference
from services.projects import ProjectCreate, create_project
from services.tenants import TenantCreate, create_tenant
from services.users import UserCreate, create_user, set_project_role
from tests.fakes.chat_webhooks import SLACK_PATH, TEAMS_PATH
from tests.fakes.demo import DemoSource, build_demo
from tests.fakes.server import serve

ACTOR = Actor.system("seed-demo")

TENANTS = [
    {"slug": "acme", "name": "Acme Corporation"},
    {"slug": "globex", "name": "Globex"},
]

PROJECTS = [
    {"tenant": "acme", "key": "ACME", "name": "Web Platform", "description": "Customer-facing web application"},
    {"tenant": "acme", "key": "MOB", "name": "Mobile App", "description": "iOS and Android apps"},
    {"tenant": "globex", "key": "GLX", "name": "Billing Engine", "description": "Invoicing and payments"},
]

USERS = [
    {"email": "lead@acme.example", "name": "Alice Martin", "tenant": "acme", "role": ProjectRole.TECH_LEAD},
    {"email": "dev@acme.example", "name": "Bruno Silva", "tenant": "acme", "role": ProjectRole.DEVELOPER},
    {"email": "pm@acme.example", "name": "Paula Manager", "tenant": "acme", "role": ProjectRole.PROJECT_MANAGER},
    {"email": "viewer@acme.example", "name": "Victor Viewer", "tenant": "acme", "role": ProjectRole.VIEWER},
    {"email": "lead@globex.example", "name": "Chen Wei", "tenant": "globex", "role": ProjectRole.TECH_LEAD},
]


def _ensure_admin(log: Callable[[str], Any]) -> None:
    password = get_settings().demo_password
    with public_session() as session:
        if session.exec(select(User).where(User.email == "admin@dmt.local")).first():
            return
    create_user(
        UserCreate(
            email="admin@dmt.local", password=password, full_name="Platform Admin", role=UserRole.PLATFORM_ADMIN
        ),
        ACTOR,
    )
    log("platform admin admin@dmt.local created")


def _ensure_tenants(log: Callable[[str], Any]) -> dict[str, Tenant]:
    existing = set(all_tenant_slugs())
    for spec in TENANTS:
        if spec["slug"] not in existing:
            create_tenant(TenantCreate(name=spec["name"], slug=spec["slug"]), ACTOR)
            log(f"tenant {spec['slug']} created")
    with public_session() as session:
        return {t.slug: t for t in session.exec(select(Tenant).where(Tenant.slug.in_([s["slug"] for s in TENANTS])))}


def _ensure_projects(tenants: dict[str, Tenant]) -> dict[str, Project]:
    projects: dict[str, Project] = {}
    for spec in PROJECTS:
        tenant = tenants[spec["tenant"]]
        with public_session() as session:
            project = session.exec(
                select(Project).where(Project.tenant_id == tenant.id, Project.key == spec["key"])
            ).first()
        if project is None:
            project = create_project(
                ProjectCreate(tenant_id=tenant.id, key=spec["key"], name=spec["name"], description=spec["description"]),
                ACTOR,
            )
        projects[spec["key"]] = project
    return projects


def _ensure_users(tenants: dict[str, Tenant], projects: dict[str, Project]) -> None:
    password = get_settings().demo_password
    for spec in USERS:
        tenant = tenants[spec["tenant"]]
        with public_session() as session:
            user = session.exec(select(User).where(User.email == spec["email"])).first()
        if user is None:
            user = create_user(
                UserCreate(email=spec["email"], password=password, full_name=spec["name"], tenant_id=tenant.id), ACTOR
            )
            for project in projects.values():
                if project.tenant_id == tenant.id:
                    set_project_role(user.id, project.id, spec["role"], ACTOR)


#: The demo users' delivery choices (the rest stay in the app), so the mail catcher and the digest preview
#: have something to show; Acme's Web Platform posts to a fake Slack channel, Globex to a fake Teams one.
DEMO_DELIVERY = {
    "lead@acme.example": {"critical_flags": "immediate", "etl_failure": "immediate", "sprint_ending": "digest",
                          "new_insight": "digest", "exception_requested": "digest", "exception_expiring": "digest"},
    "pm@acme.example": {kind: "digest" for kind in NOTIFICATION_KINDS},
    "dev@acme.example": {"exception_approved": "immediate", "exception_rejected": "immediate"},
    "lead@globex.example": {kind: "digest" for kind in NOTIFICATION_KINDS},
}  # fmt: skip


def _ensure_delivery(tenants: dict[str, Tenant], projects: dict[str, Project], base_url: str) -> None:
    """Delivery preferences of the demo users and the demo's chat channels (the fake webhooks at base_url)."""
    with public_session() as session:
        users = session.exec(select(User).where(User.email.in_(list(DEMO_DELIVERY)))).all()
        for user in users:
            for kind, mode in DEMO_DELIVERY[user.email].items():
                set_preference(user.id or 0, user.tenant_id or 0, kind, mode)
    channels = [
        ChatChannelSave(tenant_id=tenants["acme"].id or 0, project_id=projects["ACME"].id, channel_type="slack",
                        name="#web-platform", webhook_url=base_url + "/chat" + SLACK_PATH),
        ChatChannelSave(tenant_id=tenants["globex"].id or 0, channel_type="teams", name="Globex engineering",
                        webhook_url=base_url + "/chat" + TEAMS_PATH),
    ]  # fmt: skip
    for channel in channels:
        save_channel(channel, ACTOR)


@contextlib.contextmanager
def _fake_tools(base_url: str) -> Iterator[list[DemoSource]]:
    """The demo's fake tools at base_url: use the running ones (make run), else serve them for the seed."""
    app, catalogue = build_demo()
    try:
        httpx.get(f"{base_url}/health", timeout=2).raise_for_status()
        yield catalogue
        return
    except httpx.HTTPError:
        pass
    port = urlsplit(base_url).port or 8900
    with serve(app, port=port):
        yield catalogue


def _ensure_sources(
    projects: dict[str, Project], base_url: str, catalogue: list[DemoSource]
) -> list[tuple[Project, int]]:
    """One source per catalogue entry (created through the same service as the admin portal)."""
    made: list[tuple[Project, int]] = []
    for spec in catalogue:
        project = projects[spec.project_key]
        with public_session() as session:
            source = session.exec(
                select(SourceConfig).where(SourceConfig.project_id == project.id, SourceConfig.name == spec.name)
            ).first()
        if source is None:
            created = sources.create_source(
                project.tenant_id,
                sources.SourceCreate(
                    project_id=project.id,
                    name=spec.name,
                    source_type=spec.source_type,
                    base_url=base_url.rstrip("/") + spec.path,
                    username=spec.username,
                    token=spec.token,
                    config_json=spec.config_json,
                    historical_import_days=400,
                    request_budget_per_minute=6000,
                ),
                ACTOR,
            )
            mappings = spec.field_mappings
            if mappings is None:
                discovery = sources.discover_fields(created.id, tenant_id=project.tenant_id)
                mappings = sources.proposed_mappings(discovery) if discovery.ok else {}
            mappings = {**(mappings or {}), **spec.extra_mappings}
            if mappings:
                sources.save_field_mappings(created.id, mappings, ACTOR)
            made.append((project, created.id))
        else:
            missing = {k: v for k, v in spec.extra_mappings.items() if k not in (source.field_mappings or {})}
            if missing:  # a demo seeded before the entry existed (the incident rule) gets it now
                sources.save_field_mappings(source.id, {**(source.field_mappings or {}), **missing}, ACTOR)
            made.append((project, source.id))
    return made


def _sync_all(tenants: dict[str, Tenant], made: list[tuple[Project, int]], log: Callable[[str], Any]) -> None:
    slug_of = {t.id: t.slug for t in tenants.values()}
    for project, source_id in made:
        with public_session() as session:
            already = session.get(SourceConfig, source_id).last_success_at
        try:
            kind = "incremental" if already else "backfill"
            run = run_sync(slug_of[project.tenant_id], source_id, kind, evaluate=evaluate_and_alert)
        except SourceError as exc:  # recorded on the source and its run; the demo goes on
            log(f"{slug_of[project.tenant_id]}/{project.key} source {source_id}: sync failed: {exc}")
            continue
        log(
            f"{slug_of[project.tenant_id]}/{project.key} source {source_id}: {run.status}, "
            f"{run.items_upserted} work items, {run.prs_upserted} pull requests, {run.deployments_upserted} deployments"
            + (f" ({run.error})" if run.error else "")
        )


#: Demo sign-ins that are also people in the fake tools (their work email there differs):
#: the manual identity mapping an admin would make, so "My metrics" and names join up.
DEMO_PEOPLE = {
    "lead@acme.example": "alice.martin@acme.example",
    "dev@acme.example": "bruno.silva@acme.example",
    "lead@globex.example": "chen.wei@acme.example",
}


def _link_demo_people(tenants: dict[str, Tenant]) -> None:
    with public_session() as session:
        users = {u.email: u for u in session.exec(select(User).where(User.email.in_(list(DEMO_PEOPLE))))}
    for email, tool_email in DEMO_PEOPLE.items():
        user = users.get(email)
        tenant = next((t for t in tenants.values() if user and t.id == user.tenant_id), None)
        if user is None or tenant is None:
            continue
        with tenant_session(tenant.slug) as session:
            identity = session.exec(select(DeveloperIdentity).where(DeveloperIdentity.primary_email == tool_email)).first()
            if identity is None or identity.user_id == user.id:
                continue
            identity.user_id = user.id
            add_manual_alias(session, identity.id, "email", email)
            session.commit()


def _approve_demo_exceptions(
    tenants: dict[str, Tenant], projects: dict[str, Project], log: Callable[[str], Any]
) -> None:
    """A few approved exceptions by named people, one of them expiring soon, as teams really have."""
    for project in projects.values():
        slug = next(t.slug for t in tenants.values() if t.id == project.tenant_id)
        with tenant_session(slug) as session:
            already = session.exec(
                select(DmtException.id)
                .join(WorkItem, WorkItem.id == DmtException.work_item_id)
                .where(WorkItem.project_id == project.id)
                .limit(1)
            ).first()
            if already:
                continue
            candidates = session.exec(
                select(WorkItem.id)
                .where(
                    WorkItem.project_id == project.id,
                    WorkItem.status_category == "done",
                    sa.or_(WorkItem.unit_testing_status.is_(None), WorkItem.unit_testing_status != "done"),
                )
                .order_by(WorkItem.id)
                .limit(3)
            ).all()
        now = utcnow()
        for n, item_id in enumerate(candidates):
            approve_exception(
                slug, item_id, approved_by=["Paula Manager", "Lena Lead", "Gloria Lead"][n % 3],
                reason=["Legacy module without a test harness; covered by end-to-end tests",
                        "Hotfix shipped under incident; tests follow in the next sprint",
                        "Generated code excluded from unit testing by policy"][n % 3],
                expires_at=now + timedelta(days=[45, 4, 90][n % 3]), actor=ACTOR,
            )  # fmt: skip
        if candidates:
            log(f"{slug}/{project.key}: {len(candidates)} approved exceptions")


def _analyse(tenants: dict[str, Tenant], projects: dict[str, Project], log: Callable[[str], Any]) -> None:
    for project in projects.values():
        slug = next(t.slug for t in tenants.values() if t.id == project.tenant_id)
        forecast_project(slug, project.id)
        generate_insights(slug, project.id)
        log(f"{slug}/{project.key}: forecasts and insights written")


def seed(fake_base_url: str | None = None, log: Callable[[str], Any] = print) -> None:
    base_url = (fake_base_url or "http://127.0.0.1:8900").rstrip("/")
    # The demo's sources are the fake tools on this machine: allow that one address for this process.
    fakes = urlsplit(base_url)
    os.environ.setdefault("ALLOWED_PRIVATE_HOSTS", f"{fakes.hostname}:{fakes.port or 80}")
    os.environ.setdefault("DMT_ENVIRONMENT", "demo")
    reset_settings_cache()
    upgrade_public()
    migrate_tenants(all_tenant_slugs())
    _ensure_admin(log)
    tenants = _ensure_tenants(log)
    projects = _ensure_projects(tenants)
    _ensure_users(tenants, projects)
    _ensure_delivery(tenants, projects, base_url)
    with _fake_tools(base_url) as catalogue:
        made = _ensure_sources(projects, base_url, catalogue)
        _sync_all(tenants, made, log)
    _link_demo_people(tenants)
    _approve_demo_exceptions(tenants, projects, log)
    _analyse(tenants, projects, log)
    log("demo ready")
