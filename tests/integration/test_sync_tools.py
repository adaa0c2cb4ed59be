"""run_sync with the real Jira and GitHub connectors against the faithful tool fakes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from core.crypto import encrypt_secret
from etl.sync import run_sync
from models.db import public_session, tenant_schema_of, tenant_session
from models.public import Project, SourceConfig
from services import sources
from services.audit import Actor
from tests.fakes import github as gh_fake
from tests.fakes import jira as jira_fake
from tests.fakes.server import FaultControls, serve

SIZE = 240


@dataclass
class Tools:
    slug: str
    jira_id: int
    github_id: int
    jira: Any
    github: dict[str, Any]


@pytest.fixture
def tools(make_tenant) -> Iterator[Tools]:
    tenant = make_tenant("tools")
    jira_data = jira_fake.generate_dataset(seed=11, size=SIZE, project_key="ACME")
    gh_data = gh_fake.generate_dataset(
        seed=11, size=SIZE // 2, repositories=["acme/shop"], work_item_keys=[f"ACME-{n}" for n in range(1, SIZE + 1)]
    )
    with serve(jira_fake.create_app(jira_data, FaultControls())) as jira_url, serve(gh_fake.create_app(gh_data)) as gh_url:
        with public_session() as s:
            project = Project(tenant_id=tenant.id, key="ACME", name="Acme")
            s.add(project)
            s.flush()
            jira = SourceConfig(
                tenant_id=tenant.id, project_id=project.id or 0, name="Jira", source_type="jira", base_url=jira_url,
                username=jira_data.api_user_email, token_encrypted=encrypt_secret(jira_data.token),
                config_json={"project_key": "ACME", "deployment": "cloud"}, historical_import_days=3650,
            )  # fmt: skip
            github = SourceConfig(
                tenant_id=tenant.id, project_id=project.id or 0, name="GitHub", source_type="github", base_url=gh_url,
                token_encrypted=encrypt_secret(gh_fake.DEFAULT_TOKEN),
                config_json={"repositories": ["acme/shop"], "project_keys": ["ACME"]}, historical_import_days=3650,
            )  # fmt: skip
            s.add(jira)
            s.add(github)
            s.commit()
            yield Tools(tenant.slug, jira.id or 0, github.id or 0, jira_data, gh_data)


def q(slug: str, sql: str) -> Any:
    with tenant_session(slug) as s:
        schema = tenant_schema_of(s)
        return s.execute(sa.text(sql.replace("S.", f'"{schema}".'))).scalar_one()


def test_jira_and_github_sync_end_to_end_and_join_up(tools: Tools) -> None:
    # The admin's flow: discover the custom fields, accept the proposed mapping.
    found = sources.discover_fields(tools.jira_id)
    assert found.ok, found.message
    mapping = sources.proposed_mappings(found)
    assert {"story_points", "sprint"} <= set(mapping)
    sources.save_field_mappings(tools.jira_id, mapping, Actor.system("test"))
    run = run_sync(tools.slug, tools.jira_id, "backfill", batch_size=100)
    assert run.status == "succeeded", run.error
    assert run.items_fetched == run.items_upserted == SIZE
    pr_run = run_sync(tools.slug, tools.github_id, "incremental")
    assert pr_run.status == "succeeded", pr_run.error
    assert pr_run.prs_upserted == SIZE // 2
    assert q(tools.slug, "SELECT count(*) FROM S.work_items") == SIZE
    assert q(tools.slug, "SELECT count(DISTINCT sprint_id) FROM S.work_items") >= 5
    assert q(tools.slug, "SELECT count(*) FROM S.work_item_pull_requests") >= SIZE // 4
    # The same people in both tools are one identity (matched by e-mail).
    assert q(
        tools.slug,
        "SELECT count(*) FROM S.pull_requests p WHERE p.author_identity_id IN (SELECT assignee_identity_id FROM S.work_items)",
    ) > 0
    # A repeated sync changes nothing (GitHub through GraphQL: one small query).
    again = run_sync(tools.slug, tools.jira_id)
    assert again.items_upserted == 0
    queries = tools.github["graphql_queries"]
    assert run_sync(tools.slug, tools.github_id).prs_upserted == 0
    assert tools.github["graphql_queries"] == queries + 1


def test_github_rest_path_keeps_etags_between_syncs(tools: Tools) -> None:
    with public_session() as s:
        source = s.get(SourceConfig, tools.github_id)
        source.config_json = {**source.config_json, "api": "rest"}
        s.add(source)
        s.commit()
    assert run_sync(tools.slug, tools.github_id, "incremental").prs_upserted == SIZE // 2
    with public_session() as s:
        assert set(s.get(SourceConfig, tools.github_id).config_json["etags"]) == {"acme/shop"}
    assert run_sync(tools.slug, tools.github_id).prs_upserted == 0
    assert tools.github["graphql_queries"] == 0
