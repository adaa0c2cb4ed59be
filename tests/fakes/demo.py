"""The demo's fake tools: one process serving all five APIs under path prefixes.

    python -m tests.fakes --port 8900

serves /jira, /clickup, /github, /azure-boards/<org>, /azure-git/<org>,
/azure-pipelines-acme/<org> with seeded datasets whose people are shared (one
identity across tools) and whose pull requests name the work items' keys, so
linking and per-developer metrics join up. GitHub also serves deployments of
its merged PRs (and Azure Pipelines those of Mobile's), and Acme's Jira has
incidents opened after some production deployments, so the DORA page has data. `DEMO_SOURCES` tells `dmt seed-demo` how to configure a source for
each (what an admin would type in the admin portal).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI

from tests.fakes import azure_boards, azure_devops_git, azure_pipelines, clickup, github, github_deployments, jira

JIRA_SIZE = 320
CLICKUP_SIZE = 220
BOARDS_SIZE = 240
DEMO_DAYS = 182  # 13 two-week sprints


@dataclass
class DemoSource:
    project_key: str
    source_type: str
    name: str
    path: str  # appended to the fake server's base URL
    token: str
    username: str | None = None
    config_json: dict[str, Any] = field(default_factory=dict)
    field_mappings: dict[str, Any] | None = None  # None: discover and accept the proposal, as an admin would
    extra_mappings: dict[str, Any] = field(default_factory=dict)  # added to the accepted proposal (an incident rule)


def build_demo() -> tuple[FastAPI, list[DemoSource]]:
    jira_data = jira.generate_dataset(seed=2026, size=JIRA_SIZE, project_key="ACME")
    clickup_data = clickup.generate_dataset(seed=2027, size=CLICKUP_SIZE, project_key="MOB")
    acme_keys = [jira_data.key_of(i) for i in range(JIRA_SIZE)]
    mobile_keys = [f"CU-{clickup_data.task_id(i)}" for i in range(CLICKUP_SIZE)]
    github_data = github.generate_dataset(
        seed=2028,
        size=JIRA_SIZE // 2,
        repositories=["acme/web-platform", "acme/web-api"],
        work_item_keys=acme_keys,
        token="demo-github-token",
        days=DEMO_DAYS,
    )
    acme_git = azure_devops_git.generate_dataset(
        seed=2029,
        size=CLICKUP_SIZE // 2,
        organization="acme",
        project="Mobile",
        repositories=["mobile-app"],
        work_item_keys=mobile_keys,
        token="demo-azure-token",
        days=DEMO_DAYS,
    )
    boards_data = azure_boards.generate_dataset(
        seed=2030,
        size=BOARDS_SIZE,
        organization="globex",
        project="Billing",
        token="demo-azure-token",
        days=DEMO_DAYS,
    )
    globex_git = azure_devops_git.generate_dataset(
        seed=2031,
        size=BOARDS_SIZE // 2,
        organization="globex",
        project="Billing",
        repositories=["billing-engine"],
        work_item_keys=[f"AB#{n}" for n in range(1, BOARDS_SIZE + 1)],
        token="demo-azure-token",
        days=DEMO_DAYS,
    )

    github_deployments.add_deployments(github_data, seed=2028)
    _plant_incidents(jira_data, github_data, random.Random(2032))
    mobile_pipelines = azure_pipelines.generate_dataset(acme_git, seed=2033)

    app = FastAPI(title="DMT-SLDP demo fake tools")
    app.mount("/jira", jira.create_app(jira_data))
    app.mount("/clickup", clickup.create_app(clickup_data))
    app.mount("/github", github_deployments.create_app(github_data))
    app.mount("/azure-git-acme", azure_devops_git.create_app(acme_git))
    app.mount("/azure-boards", azure_boards.create_app(boards_data))
    app.mount("/azure-git-globex", azure_devops_git.create_app(globex_git))
    app.mount("/azure-pipelines-acme", azure_pipelines.create_app(mobile_pipelines))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    sources = [
        DemoSource("ACME", "jira", "Acme Jira", "/jira", jira_data.token, jira_data.api_user_email,
                   {"project_key": "ACME", "deployment": "cloud"},
                   extra_mappings={"incident": {"field": "label", "values": {"incident": True}}}),
        DemoSource("ACME", "github", "Acme GitHub", "/github", "demo-github-token", None,
                   {"repositories": ["acme/web-platform", "acme/web-api"], "project_keys": ["ACME"]}),
        DemoSource("MOB", "clickup", "Mobile ClickUp", "/clickup/api/v2", clickup_data.token, None,
                   {"team_id": clickup_data.team_id}, clickup_data.field_mappings()),
        DemoSource("MOB", "azure_devops_git", "Mobile Azure Repos", "/azure-git-acme/acme", "demo-azure-token", None,
                   {"project": "Mobile", "repositories": ["mobile-app"]}),
        DemoSource("ACME", "github_deployments", "Acme deployments", "/github", "demo-github-token", None,
                   {"repositories": ["acme/web-platform", "acme/web-api"], "failure_window_hours": 24}),
        DemoSource("MOB", "azure_pipelines", "Mobile Pipelines", "/azure-pipelines-acme/acme", "demo-azure-token", None,
                   {"project": "Mobile", "mode": "environments"}),
        DemoSource("GLX", "azure_boards", "Billing Azure Boards", "/azure-boards/globex", "demo-azure-token", None,
                   {"project": "Billing", "fetch_updates": True}),
        DemoSource("GLX", "azure_devops_git", "Billing Azure Repos", "/azure-git-globex/globex", "demo-azure-token", None,
                   {"project": "Billing", "repositories": ["billing-engine"]}),
    ]  # fmt: skip
    return app, sources


def _plant_incidents(jira_data: Any, github_data: dict[str, Any], rng: random.Random) -> None:
    """Incidents in Acme's Jira (label ``incident``): after about one production deployment in five,
    opened a few hours after it and mostly resolved within hours, and a few unrelated ones."""
    now = github_data["now"]
    finished = []
    for store in github_data["repos"].values():
        for deployment in store["deployments"][1:]:  # not the repository's first deployment
            done = next((s for s in store["statuses"][deployment["id"]] if s["state"] == "success"), None)
            if deployment["environment"] == "production" and done is not None:
                finished.append(datetime.fromisoformat(done["created_at"].replace("Z", "+00:00")))
    opened = [at + timedelta(hours=rng.uniform(0.5, 8)) for at in sorted(finished) if rng.random() < 0.2]
    opened += [now - timedelta(days=rng.uniform(5, 150)) for _ in range(3)]
    for n, at in enumerate(sorted(opened)):
        if at >= now:
            continue
        what = rng.choice(["Checkout returns 500", "Login loop on Safari", "Search times out", "Invoices not sent"])
        key = jira_data.add_issue(f"Incident: {what}", at=at)
        jira_data.update_issue(key, custom={"labels": ["incident"], "created": jira_data.fmt(at)}, status="progress", at=at)
        resolved = at + timedelta(hours=rng.uniform(0.5, 10) if n % 5 else rng.uniform(20, 50))
        if resolved < now:
            jira_data.update_issue(key, status="done", at=resolved)
