"""`dmt seed-demo`: the demo platform admin, tenants acme and globex, projects, users, sources and history.

Idempotent: what exists is kept. The history is generated as normalised
records and loaded through the same loader a real sync uses (etl/demo.py);
the demo sources point at the fake tool servers that `make run` starts, so
Test connection, Discover fields and Sync work for real.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import select

from core.crypto import encrypt_secret
from core.settings import get_settings
from models.db import public_session
from models.enums import ProjectRole, UserRole
from models.migrate import migrate_tenants, upgrade_public
from models.public import Project, SourceConfig, Tenant, User
from services import audit
from services.audit import Actor
from services.projects import ProjectCreate, create_project
from services.tenants import TenantCreate, all_tenant_slugs, create_tenant
from services.users import UserCreate, create_user, set_project_role

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
    {"email": "lead@acme.example", "name": "Lena Lead", "tenant": "acme", "role": ProjectRole.TECH_LEAD},
    {"email": "dev@acme.example", "name": "Dev Patel", "tenant": "acme", "role": ProjectRole.DEVELOPER},
    {"email": "pm@acme.example", "name": "Paula Manager", "tenant": "acme", "role": ProjectRole.PROJECT_MANAGER},
    {"email": "viewer@acme.example", "name": "Victor Viewer", "tenant": "acme", "role": ProjectRole.VIEWER},
    {"email": "lead@globex.example", "name": "Gloria Lead", "tenant": "globex", "role": ProjectRole.TECH_LEAD},
]

#: Demo sources per project key: (source type, path on the fake server, token, username, config).
SOURCES: dict[str, list[tuple[str, str, str, str | None, dict[str, Any]]]] = {
    "ACME": [
        ("jira", "/jira", "demo-jira-token", "bot@acme.example", {"project_key": "ACME", "deployment": "cloud"}),
        ("github", "/github", "demo-github-token", None, {"owner": "acme", "repo": "web-platform"}),
    ],
    "MOB": [
        ("clickup", "/clickup", "demo-clickup-token", None, {"team_id": "9001"}),
        (
            "azure_devops_git",
            "/azure",
            "demo-azure-token",
            None,
            {"organization": "acme", "project": "Mobile", "repository": "mobile-app"},
        ),
    ],
    "GLX": [
        ("azure_boards", "/azure", "demo-azure-token", None, {"organization": "globex", "project": "Billing"}),
        (
            "azure_devops_git",
            "/azure",
            "demo-azure-token",
            None,
            {"organization": "globex", "project": "Billing", "repository": "billing"},
        ),
    ],
}


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


def _ensure_sources(projects: dict[str, Project], fake_base_url: str) -> dict[str, list[SourceConfig]]:
    result: dict[str, list[SourceConfig]] = {}
    for key, specs in SOURCES.items():
        project = projects[key]
        result[key] = []
        for source_type, path, token, username, config in specs:
            with public_session() as session:
                source = session.exec(
                    select(SourceConfig).where(
                        SourceConfig.project_id == project.id, SourceConfig.source_type == source_type
                    )
                ).first()
                if source is None:
                    source = SourceConfig(
                        tenant_id=project.tenant_id,
                        project_id=project.id,
                        name=f"{project.name} {source_type.replace('_', ' ').title()}",
                        source_type=source_type,
                        base_url=fake_base_url.rstrip("/") + path,
                        username=username,
                        token_encrypted=encrypt_secret(token),
                        config_json=config,
                        request_budget_per_minute=6000,
                    )
                    session.add(source)
                    session.flush()
                    audit.record(
                        session,
                        ACTOR,
                        "source.create",
                        "source",
                        source.id,
                        new=audit.snapshot(source),
                        tenant_id=source.tenant_id,
                    )
                    session.commit()
                result[key].append(source)
    return result


def seed(fake_base_url: str | None = None, log: Callable[[str], Any] = print) -> None:
    upgrade_public()
    migrate_tenants(all_tenant_slugs())
    _ensure_admin(log)
    tenants = _ensure_tenants(log)
    projects = _ensure_projects(tenants)
    _ensure_users(tenants, projects)
    sources = _ensure_sources(projects, fake_base_url or "http://127.0.0.1:8900")
    from etl.demo import load_demo_history

    for seed_number, (key, project) in enumerate(sorted(projects.items()), start=1):
        tenant = next(t for t in tenants.values() if t.id == project.tenant_id)
        loaded = load_demo_history(tenant.slug, project.id, [s.id for s in sources[key]], seed=seed_number)
        if loaded:
            log(f"{tenant.slug}/{key}: demo history loaded ({loaded})")
    log("demo ready")
