"""The DORA read model through the REST API (`/api/dora...`) and the DORA export, on a seeded tenant."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_api
from core.crypto import encrypt_secret
from models.db import public_session, tenant_session
from models.public import SourceConfig
from models.tenant import Deployment, DeploymentChange, ExportJob, PullRequest, WorkItem
from services import auth, exports
from tests.integration.test_dashboards_seed import PASSWORD, Seeded, seed_tenant


@pytest.fixture(scope="module")
def seeded(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import os

    from core.settings import reset_settings_cache
    from services.audit import Actor
    from services.tenants import TenantCreate, create_tenant

    os.environ["EXPORT_DIR"] = str(tmp_path_factory.mktemp("dora-exports"))
    reset_settings_cache()
    tenant = create_tenant(TenantCreate(name="Dora", slug=f"dora_{uuid.uuid4().hex[:6]}"), Actor.system("test"))
    s = seed_tenant(tenant)
    now = datetime.now(UTC).replace(microsecond=0)
    with public_session() as session:
        jira = SourceConfig(
            tenant_id=s.tenant_id, project_id=s.project_id, name="Incidents", source_type="jira",
            base_url="https://x.atlassian.net", token_encrypted=encrypt_secret("t"),
            field_mappings={"incident": {"field": "label", "values": {"incident": True}}},
        )  # fmt: skip
        deploys = SourceConfig(
            tenant_id=s.tenant_id, project_id=s.project_id, name="Deploys", source_type="github_deployments",
            base_url="https://api.github.com", token_encrypted=encrypt_secret("t"),
            config_json={"repositories": ["acme/web"], "failure_window_hours": 12},
        )  # fmt: skip
        session.add_all([jira, deploys])
        session.commit()
        jira_id, deploys_id = jira.id or 0, deploys.id or 0
    ids: dict[str, int] = {}
    with tenant_session(s.slug) as session:
        session.add(
            PullRequest(
                source_id=77, project_id=s.project_id, source_type="github", source_pr_id="pr-a", number=11,
                title="Add the cart", url="https://github.com/acme/web/pull/11", state="merged",
                merge_commit_sha="m-a", first_commit_at=now - timedelta(days=12), created_at_source=now - timedelta(days=11),
            )
        )  # fmt: skip
        for name, finished, prs in (
            ("deploy-a", now - timedelta(days=10), ["m-a"]),
            ("deploy-b", now - timedelta(days=3), []),
        ):
            row = Deployment(
                source_id=deploys_id, project_id=s.project_id, source_type="github_deployments",
                source_deployment_id=name, name=name, repository="acme/web", environment="production",
                status="success", commit_sha=f"{name}-sha", finished_at=finished, changes_count=len(prs),
                url=f"https://github.com/acme/web/deployments/{name}",
            )  # fmt: skip
            session.add(row)
            session.flush()
            ids[name] = row.id or 0
            session.add_all(DeploymentChange(deployment_id=row.id or 0, sha=sha, message="Merge") for sha in prs)
        session.add(
            WorkItem(
                source_id=jira_id, project_id=s.project_id, source_type="jira", source_item_id="inc-1", item_key="INC-1",
                title="Checkout down", item_type="bug", labels=["incident"], status_category="done",
                created_at_source=now - timedelta(days=10) + timedelta(hours=2), done_at=now - timedelta(days=10, hours=-5),
            )
        )  # fmt: skip
        session.commit()
    return {"seeded": s, "ids": ids}


def _client(s: Seeded, role: str = "viewer") -> tuple[TestClient, dict[str, str]]:
    token = auth.login(s.users[role], PASSWORD).tokens.access_token
    return TestClient(create_api("company")), {"Authorization": f"Bearer {token}"}


def test_the_four_keys_through_the_api(seeded: dict[str, Any]) -> None:
    s: Seeded = seeded["seeded"]
    client, headers = _client(s)
    answer = client.get("/api/dora", params={"project_id": s.project_id, "period": "30d"}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["environment"] == "production" and body["environments"] == ["production"]
    assert body["failure_window_hours"] == 12 and body["bucket"] == "week" and body["has_data"]
    keys = {k["key"]: k for k in body["keys"]}
    assert keys["deployment_frequency"]["detail"] == "2 deployments"
    assert keys["deployment_frequency"]["value"] == pytest.approx(2 / 30, abs=0.01)
    assert keys["lead_time"]["value"] == pytest.approx(48.0) and keys["lead_time"]["band"] == "high"
    assert keys["change_failure_rate"]["value"] == pytest.approx(50.0) and keys["change_failure_rate"]["band"] == "low"
    assert keys["time_to_restore"]["value"] == pytest.approx(3.0) and keys["time_to_restore"]["band"] == "high"
    assert sum(p["deployments"] for p in body["series"]) == 2 and len(body["series"]) >= 5
    wider = client.get(
        "/api/dora", params={"project_id": s.project_id, "failure_window_hours": 1}, headers=headers
    ).json()
    assert {k["key"]: k["value"] for k in wider["keys"]}["change_failure_rate"] == 0  # 2 h later: outside 1 h


def test_drill_down_endpoints(seeded: dict[str, Any]) -> None:
    s: Seeded = seeded["seeded"]
    client, headers = _client(s, "developer")
    params = {"project_id": s.project_id}
    rows = client.get("/api/dora/deployments", params=params, headers=headers).json()
    assert rows["total"] == 2 and [r["name"] for r in rows["rows"]] == ["deploy-b", "deploy-a"]
    failed = client.get("/api/dora/deployments", params={**params, "failed_only": True}, headers=headers).json()
    assert [r["name"] for r in failed["rows"]] == ["deploy-a"] and failed["rows"][0]["cause"] == "incident INC-1"
    detail = client.get(f"/api/dora/deployments/{seeded['ids']['deploy-a']}", params=params, headers=headers).json()
    assert [p["number"] for p in detail["pull_requests"]] == [11]
    assert detail["pull_requests"][0]["lead_time_hours"] == pytest.approx(48.0)
    incidents = client.get("/api/dora/incidents", params=params, headers=headers).json()
    assert incidents["total"] == 1 and incidents["rows"][0]["item_key"] == "INC-1"
    assert incidents["rows"][0]["deployment_name"] == "deploy-a" and incidents["rows"][0]["caused_failure"]


def test_refusals(seeded: dict[str, Any]) -> None:
    s: Seeded = seeded["seeded"]
    client, headers = _client(s)
    params = {"project_id": s.project_id}
    assert client.get("/api/dora", params={**params, "period": "7d"}, headers=headers).status_code == 422
    assert client.get("/api/dora", params={**params, "environment": "moon"}, headers=headers).status_code == 404
    assert client.get("/api/dora", params={**params, "failure_window_hours": 0}, headers=headers).status_code == 422
    assert client.get("/api/dora", params={"project_id": s.project_id + 10_000}, headers=headers).status_code == 404
    assert client.get("/api/dora/deployments/999999", params=params, headers=headers).status_code == 404
    assert client.get("/api/dora", params=params).status_code == 401


def test_the_dora_export(seeded: dict[str, Any]) -> None:
    s: Seeded = seeded["seeded"]
    user = s.user("tech_lead")
    with tenant_session(s.slug) as session:
        job = ExportJob(
            user_id=user.id, project_id=s.project_id, report="dora", file_format="csv", params={"period": "30d"}
        )
        session.add(job)
        session.commit()
        session.refresh(job)
    assert exports.run_export(s.slug, job.id or 0)["status"] == "finished"
    f = exports.export_file(user, job.id or 0)
    rows = list(csv.reader(io.StringIO(f.path.read_text(encoding="utf-8-sig"))))
    titles = [r[0] for r in rows if r and r[0].startswith("# ")]
    assert titles == ["# Four keys", "# Trend", "# Deployments", "# Incidents"]
    keys = rows[rows.index(["# Four keys"]) + 2 : rows.index(["# Four keys"]) + 6]
    assert [k[0] for k in keys] == [
        "Deployment frequency",
        "Lead time for changes",
        "Change failure rate",
        "Time to restore",
    ]
    assert any(len(r) > 9 and r[1] == "deploy-a" and r[9] == "True" for r in rows)
    assert any(len(r) > 2 and r[2] == "INC-1" for r in rows)
    with pytest.raises(Exception, match="period"):
        exports.start_export(user, exports.ExportRequest(project_id=s.project_id, report="dora", period="2d"))
