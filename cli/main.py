"""`dmt`: operate the platform from a shell (migrations, tenants, users, demo data, keys)."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from cli.demo import seed
from cli.launcher import run_everything
from core.errors import ServiceError
from etl.forecast import forecast_tenant
from etl.metrics import rebuild_metrics
from models.db import active_tenant_slugs, all_tenant_slugs, get_tenant_by_slug, public_session
from models.enums import ProjectRole, UserRole
from models.migrate import migrate_tenants, upgrade_public
from models.public import Project
from services.alerts import evaluate_and_alert
from services.audit import Actor
from services.doctor import run_checks
from services.retention import restore_job
from services.secrets_rotation import rotate_all_secrets
from services.tenant_backup import backup_tenant, restore_tenant
from services.tenants import TenantCreate, create_tenant
from services.users import UserCreate, create_user, set_project_role

app = typer.Typer(help="DMT-SLDP platform command line", no_args_is_help=True, pretty_exceptions_enable=False)
console = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _guard(fn):
    """Turn service errors and a dead database into one clear line instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ServiceError as exc:
            _fail(exc.message)
        except OperationalError as exc:
            _fail(f"cannot reach the database: {str(exc.orig).strip().splitlines()[0]}")
        except RuntimeError as exc:
            _fail(str(exc))

    return wrapper


@app.command()
@_guard
def migrate(
    parallel: Annotated[int, typer.Option(help="tenant schemas migrated at once")] = 4,
    tenant: Annotated[list[str] | None, typer.Option(help="only these tenant slugs")] = None,
) -> None:
    """Apply the public stream, then the tenant stream to every tenant schema (idempotent)."""
    upgrade_public()
    console.print("public schema: up to date")
    slugs = tenant or all_tenant_slugs()
    with Progress(
        TextColumn("tenant schemas"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("migrate", total=len(slugs))
        report = migrate_tenants(slugs, parallel=parallel, on_progress=lambda *_: progress.advance(task))
    console.print(
        f"{report.tenants} tenant schemas: {report.applied} migrated, {report.already_current} already current, "
        f"{len(report.failed)} failed ({report.seconds:.1f} s)"
    )
    for slug, error in report.failed.items():
        console.print(f"[red]{slug}[/red]: {error}")
    if report.failed:
        raise typer.Exit(1)


@app.command("create-admin")
@_guard
def create_admin(
    email: str, password: Annotated[str, typer.Option(prompt=True, hide_input=True)], name: str = ""
) -> None:
    """Create a platform administrator."""
    user = create_user(
        UserCreate(email=email, password=password, full_name=name, role=UserRole.PLATFORM_ADMIN), Actor.system("cli")
    )
    console.print(f"platform admin {user.email} created (id {user.id})")


@app.command("create-tenant")
@_guard
def create_tenant_cmd(slug: str, name: str, retention_days: int = 730) -> None:
    """Create a tenant and provision its schema."""
    tenant = create_tenant(TenantCreate(name=name, slug=slug, retention_days=retention_days), Actor.system("cli"))
    console.print(f"tenant {tenant.slug} created with schema {tenant.schema_name}")


@app.command("create-user")
@_guard
def create_user_cmd(
    email: str,
    tenant: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    name: str = "",
    project: Annotated[str | None, typer.Option(help="project key to give a role on")] = None,
    role: Annotated[str, typer.Option(help="viewer, developer, tech_lead or project_manager")] = "developer",
) -> None:
    """Create a company user of a tenant, optionally with a project role."""

    actor = Actor.system("cli")
    with public_session() as session:
        t = get_tenant_by_slug(session, tenant)
        proj = None
        if project:
            proj = session.exec(
                select(Project).where(Project.tenant_id == t.id, Project.key == project.upper())
            ).first()
            if proj is None:
                _fail(f"project {project} not found in tenant {tenant}")
    try:
        project_role = ProjectRole(role)
    except ValueError:
        _fail(f"unknown role {role!r}: use one of {', '.join(r.value for r in ProjectRole)}")
    user = create_user(UserCreate(email=email, password=password, full_name=name, tenant_id=t.id), actor)
    if proj is not None:
        set_project_role(user.id, proj.id, project_role, actor)
    console.print(f"user {user.email} created in {tenant}")


@app.command("seed-demo")
@_guard
def seed_demo(
    fake_base_url: Annotated[str | None, typer.Option(help="base URL of the running fake tool servers")] = None,
) -> None:
    """Create the demo admin, tenants acme and globex, projects, users and a realistic history (idempotent)."""
    seed(fake_base_url=fake_base_url, log=console.print)


@app.command("rotate-keys")
@_guard
def rotate_keys() -> None:
    """Re-encrypt every stored secret under the first key of FERNET_KEYS (MultiFernet rotation)."""
    counts = rotate_all_secrets()
    console.print("re-encrypted: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@app.command("rebuild-metrics")
@_guard
def rebuild_metrics_cmd(
    tenant: Annotated[list[str] | None, typer.Option(help="tenant slugs (default all)")] = None,
) -> None:
    """Recompute compliance, sprint and developer metrics and the forecasts for every tenant from the normalised tables."""
    for slug in tenant or active_tenant_slugs():
        evaluate_and_alert(slug)
        rebuild_metrics(slug)
        forecast_tenant(slug)
        console.print(f"{slug}: compliance evaluated, metrics rebuilt, forecasts made")


@app.command("backup-tenant")
@_guard
def backup_tenant_cmd(tenant: str, path: str) -> None:
    """Write one tenant's data and control-plane rows to a backup archive (tar.gz)."""

    manifest = backup_tenant(tenant, Path(path), Actor.system("cli"))
    rows = sum(t["rows"] for t in manifest["tables"].values())
    console.print(f"backup of {tenant}: {rows} rows in {len(manifest['tables'])} tables -> {path}")


@app.command("restore-tenant")
@_guard
def restore_tenant_cmd(
    path: str, replace: Annotated[bool, typer.Option(help="drop the existing tenant data first")] = False
) -> None:
    """Restore a tenant from a `dmt backup-tenant` archive."""

    restored = restore_tenant(Path(path), Actor.system("cli"), replace=replace)
    console.print(f"restored {sum(restored.values())} rows from {path}")


@app.command("restore-archive")
@_guard
def restore_archive_cmd(job_id: int) -> None:
    """Bring a retention job's archived quarter back into its tenant."""
    restored = restore_job(job_id, Actor.system("cli"))
    console.print(f"restored {sum(restored.values())} rows from retention job {job_id}")


@app.command()
def doctor(as_json: Annotated[bool, typer.Option("--json", help="one JSON object per check")] = False) -> None:
    """Check the configuration: secrets, database, migrations, Redis, workers, cookies, proxies, outbox."""
    checks = run_checks()
    if as_json:
        for check in checks:
            print(json.dumps({"check": check.name, "status": check.status, "detail": check.detail}))
    else:
        colours = {"ok": "green", "warn": "yellow", "fail": "red"}
        for check in checks:
            colour = colours[check.status]
            console.print(
                f"[{colour}]{check.status:>4}[/{colour}]  {check.name:<17} {check.detail}",
                highlight=False,
                soft_wrap=True,
            )
    if any(check.status == "fail" for check in checks):
        raise typer.Exit(1)


@app.command()
def run() -> None:
    """Start the whole product (see `make run`): fakes, worker, beat and both portals."""
    sys.exit(run_everything())


if __name__ == "__main__":
    app()
