"""run_sync of the deployment sources against the fakes: deployments and their commits loaded set-based, linked to
the PRs they shipped by merge commit (and through them to work items), idempotent, incremental."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from core.crypto import encrypt_secret
from etl.sync import run_sync
from models.db import public_session, tenant_schema_of, tenant_session
from models.public import Project, SourceConfig
from tests.fakes import azure_devops_git, azure_pipelines, github
from tests.fakes import github_deployments as gd
from tests.fakes.server import serve


@dataclass
class Sources:
    slug: str
    project_id: int
    prs: int
    deployments: int
    data: dict[str, Any]


def q(slug: str, sql: str, **params: Any) -> Any:
    with tenant_session(slug) as s:
        schema = tenant_schema_of(s)
        return s.execute(sa.text(sql.replace("S.", f'"{schema}".')), params).scalar_one()


def _sources(tenant: Any, *configs: dict[str, Any]) -> tuple[int, list[int]]:
    with public_session() as s:
        project = Project(tenant_id=tenant.id, key="SHIP", name="Shipping")
        s.add(project)
        s.flush()
        rows = [
            SourceConfig(tenant_id=tenant.id, project_id=project.id or 0, historical_import_days=3650, **config)
            for config in configs
        ]
        s.add_all(rows)
        s.commit()
        return project.id or 0, [r.id or 0 for r in rows]


@pytest.fixture
def github_sources(make_tenant) -> Iterator[Sources]:
    tenant = make_tenant("ship")
    data = github.generate_dataset(seed=8, size=60, repositories=["acme/shop"])
    gd.add_deployments(data, seed=8)
    with serve(gd.create_app(data)) as url:
        token = encrypt_secret(github.DEFAULT_TOKEN)
        project_id, (prs, deployments) = _sources(
            tenant,
            {"name": "PRs", "source_type": "github", "base_url": url, "token_encrypted": token,
             "config_json": {"repositories": ["acme/shop"]}},
            {"name": "Deploys", "source_type": "github_deployments", "base_url": url, "token_encrypted": token,
             "config_json": {"repositories": ["acme/shop"], "per_page": 20}},
        )  # fmt: skip
        yield Sources(tenant.slug, project_id, prs, deployments, data)


def test_github_deployments_load_and_link_to_the_prs_they_shipped(github_sources: Sources) -> None:
    src = github_sources
    store = src.data["repos"]["acme/shop"]
    assert run_sync(src.slug, src.prs, "backfill").status == "succeeded"
    run = run_sync(src.slug, src.deployments, "backfill")
    assert run.status == "succeeded", run.error
    assert run.deployments_fetched == run.deployments_upserted == len(store["deployments"])
    assert q(src.slug, "SELECT count(*) FROM S.deployments WHERE project_id = :p", p=src.project_id) == len(
        store["deployments"]
    )
    # Every merged PR reachable from the last production deployment (and after the first) was shipped there once.
    production = q(
        src.slug,
        """SELECT count(DISTINCT pr.id) FROM S.deployments d
           JOIN S.deployment_changes c ON c.deployment_id = d.id
           JOIN S.pull_requests pr ON pr.merge_commit_sha = c.sha AND pr.project_id = d.project_id
           WHERE d.environment = 'production' AND d.status = 'success'""",
    )
    merged = [p for p in store["pulls"].values() if p.get("merge_commit_sha")]
    successes = sorted(
        (d for d in store["deployments"] if d["environment"] == "production" and store["statuses"][d["id"]][0]["state"] in ("success", "inactive")),
        key=lambda d: d["created_at"],
    )  # fmt: skip
    first, last = store["positions"][successes[0]["sha"]], store["positions"][successes[-1]["sha"]]
    reachable = {c["sha"] for c in store["history"][first + 1 : last + 1]}
    assert production == sum(p["merge_commit_sha"] in reachable for p in merged) > 0
    assert q(src.slug, "SELECT count(*) FROM S.pull_requests WHERE first_commit_at IS NOT NULL") == len(store["pulls"])
    # A repeated sync rewrites nothing.
    again = run_sync(src.slug, src.deployments, "backfill")
    assert again.deployments_fetched == len(store["deployments"]) and again.deployments_upserted == 0
    # An incremental sync after a new deployment loads it with its commits.
    sha = gd.push_commit(
        src.data, "acme/shop", "Hotfix: VAT on shipping", when=datetime.now(UTC) + timedelta(minutes=1)
    )
    gd.deploy(src.data, "acme/shop", "production", when=datetime.now(UTC) + timedelta(minutes=2))
    later = run_sync(src.slug, src.deployments, "incremental")
    assert later.status == "succeeded" and later.deployments_upserted >= 1
    assert q(
        src.slug, "SELECT is_revert FROM S.deployments WHERE commit_sha = :sha AND environment = 'production'", sha=sha
    )
    assert (
        q(
            src.slug,
            """SELECT count(*) FROM S.deployment_changes c JOIN S.deployments d ON d.id = c.deployment_id
           WHERE d.commit_sha = :sha AND d.environment = 'production' AND c.sha = :sha""",
            sha=sha,
        )
        == 1
    )


def test_azure_pipelines_load_and_link_to_azure_repos_prs(make_tenant) -> None:
    tenant = make_tenant("ship")
    git = azure_devops_git.generate_dataset(
        seed=9, size=50, organization="acme", project="Mobile", repositories=["mobile-app"]
    )
    pipes = azure_pipelines.generate_dataset(git, seed=9)
    with serve(azure_devops_git.create_app(git)) as git_url, serve(azure_pipelines.create_app(pipes)) as pipes_url:
        token = encrypt_secret(git["token"])
        _project_id, (prs, deployments) = _sources(
            tenant,
            {"name": "Repos", "source_type": "azure_devops_git", "base_url": git_url + "/acme", "token_encrypted": token,
             "config_json": {"project": "Mobile", "repositories": ["mobile-app"]}},
            {"name": "Pipelines", "source_type": "azure_pipelines", "base_url": pipes_url + "/acme",
             "token_encrypted": token, "config_json": {"project": "Mobile", "mode": "environments"}},
        )  # fmt: skip
        assert run_sync(tenant.slug, prs, "backfill").status == "succeeded"
        run = run_sync(tenant.slug, deployments, "backfill")
        assert run.status == "succeeded", run.error
        assert run.deployments_upserted == len(pipes["records"])
        linked = q(
            tenant.slug,
            """SELECT count(DISTINCT pr.id) FROM S.deployments d
               JOIN S.deployment_changes c ON c.deployment_id = d.id
               JOIN S.pull_requests pr ON pr.merge_commit_sha = c.sha
               WHERE d.environment = 'production'""",
        )
        completed = sum(p["status"] == "completed" for p in git["pulls"].values())
        assert 0 < linked <= completed
        assert q(tenant.slug, "SELECT count(DISTINCT environment) FROM S.deployments") == 2
