"""The demo's fake tools: one process serving all five APIs under path prefixes.

    python -m tests.fakes --port 8900

serves /jira, /clickup, /github, /azure-boards/<org>, /azure-git/<org> with
seeded datasets whose people are shared (one identity across tools) and whose
pull requests name the work items' keys, so linking and per-developer metrics
join up. `DEMO_SOURCES` tells `dmt seed-demo` how to configure a source for
each (what an admin would type in the admin portal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from tests.fakes import azure_boards, azure_devops_git, clickup, github, jira

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

    app = FastAPI(title="DMT-SLDP demo fake tools")
    app.mount("/jira", jira.create_app(jira_data))
    app.mount("/clickup", clickup.create_app(clickup_data))
    app.mount("/github", github.create_app(github_data))
    app.mount("/azure-git-acme", azure_devops_git.create_app(acme_git))
    app.mount("/azure-boards", azure_boards.create_app(boards_data))
    app.mount("/azure-git-globex", azure_devops_git.create_app(globex_git))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    sources = [
        DemoSource("ACME", "jira", "Acme Jira", "/jira", jira_data.token, jira_data.api_user_email,
                   {"project_key": "ACME", "deployment": "cloud"}),
        DemoSource("ACME", "github", "Acme GitHub", "/github", "demo-github-token", None,
                   {"repositories": ["acme/web-platform", "acme/web-api"], "project_keys": ["ACME"]}),
        DemoSource("MOB", "clickup", "Mobile ClickUp", "/clickup/api/v2", clickup_data.token, None,
                   {"team_id": clickup_data.team_id}, clickup_data.field_mappings()),
        DemoSource("MOB", "azure_devops_git", "Mobile Azure Repos", "/azure-git-acme/acme", "demo-azure-token", None,
                   {"project": "Mobile", "repositories": ["mobile-app"]}),
        DemoSource("GLX", "azure_boards", "Billing Azure Boards", "/azure-boards/globex", "demo-azure-token", None,
                   {"project": "Billing", "fetch_updates": True}),
        DemoSource("GLX", "azure_devops_git", "Billing Azure Repos", "/azure-git-globex/globex", "demo-azure-token", None,
                   {"project": "Billing", "repositories": ["billing-engine"]}),
    ]  # fmt: skip
    return app, sources
