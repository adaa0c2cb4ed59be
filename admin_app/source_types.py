"""What the admin fills in for each source type (labels and help lines; the connectors read config_json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ConfigField:
    name: str
    label: str
    help: str
    kind: str = "text"  # text | list (comma-separated) | select | bool
    options: tuple[str, ...] = ()
    placeholder: str = ""


@dataclass(frozen=True)
class SourceTypeForm:
    source_type: str
    label: str
    base_url_placeholder: str
    base_url_help: str
    token_help: str
    username_label: str = ""
    username_help: str = ""
    config: tuple[ConfigField, ...] = field(default_factory=tuple)


SOURCE_FORMS: dict[str, SourceTypeForm] = {
    "jira": SourceTypeForm(
        "jira",
        "Jira (Cloud, Server or Data Center)",
        "https://acme.atlassian.net",
        "The site URL: https://<site>.atlassian.net for Cloud, your server's URL for Server/Data Center.",
        "Cloud: an API token from id.atlassian.com (with the account email above). Server/DC: a personal access token.",
        "Account email",
        "Cloud only (basic auth with the API token); leave empty for a Server/DC personal access token.",
        (
            ConfigField(
                "project_key", "Jira project key", "Issues of this project are synced, e.g. WEB.", placeholder="WEB"
            ),
            ConfigField(
                "deployment",
                "Deployment",
                "auto asks the server (serverInfo); Cloud uses /rest/api/3/search/jql, Server /rest/api/2/search.",
                "select",
                ("auto", "cloud", "server"),
            ),
            ConfigField(
                "jql",
                "Extra JQL (optional)",
                "ANDed with the project and updated-date filter.",
                placeholder="issuetype in (Story, Bug)",
            ),
        ),
    ),
    "clickup": SourceTypeForm(
        "clickup",
        "ClickUp",
        "https://api.clickup.com/api/v2",
        "The ClickUp API v2 base URL (leave the default unless you go through a proxy).",
        "A personal API token (pk_...), sent as is in the Authorization header.",
        config=(
            ConfigField(
                "team_id", "Workspace (team) id", "The number in app.clickup.com/<team id>/...", placeholder="9012345"
            ),
            ConfigField(
                "space_ids", "Space ids (optional)", "Comma-separated; empty syncs the whole workspace.", "list"
            ),
            ConfigField(
                "list_ids", "List ids (optional)", "Comma-separated; restricts the sync to these lists.", "list"
            ),
            ConfigField(
                "sprint_folder_ids",
                "Sprint folder ids (optional)",
                "Comma-separated folders whose lists are sprints (default: folders named like 'Sprint').",
                "list",
            ),
        ),
    ),
    "azure_boards": SourceTypeForm(
        "azure_boards",
        "Azure Boards",
        "https://dev.azure.com/acme",
        "The organisation URL (Services) or the collection URL (Server, e.g. https://tfs.acme.com/DefaultCollection).",
        "A personal access token with Work Items (Read).",
        config=(
            ConfigField(
                "project", "Azure DevOps project", "The project whose work items are synced.", placeholder="Webshop"
            ),
            ConfigField("team", "Team (optional)", "For sprint dates; default '<project> Team'."),
        ),
    ),
    "github": SourceTypeForm(
        "github",
        "GitHub pull requests",
        "https://api.github.com",
        "https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise Server.",
        "A personal access token (or app token) that can read the repositories' pull requests and checks.",
        config=(
            ConfigField(
                "repositories",
                "Repositories",
                "Comma-separated owner/name list.",
                "list",
                placeholder="acme/web, acme/api",
            ),
            ConfigField(
                "signoff_marker",
                "Sign-off marker",
                "A PR comment containing this counts as the DMT sign-off.",
                placeholder="DMT-OK",
            ),
        ),
    ),
    "azure_devops_git": SourceTypeForm(
        "azure_devops_git",
        "Azure DevOps Git pull requests",
        "https://dev.azure.com/acme",
        "The organisation URL (Services) or collection URL (Server).",
        "A personal access token with Code (Read).",
        config=(
            ConfigField(
                "project", "Azure DevOps project", "The project holding the repositories.", placeholder="Webshop"
            ),
            ConfigField(
                "repositories",
                "Repositories (optional)",
                "Comma-separated names; empty reads every repository of the project.",
                "list",
            ),
        ),
    ),
    "github_deployments": SourceTypeForm(
        "github_deployments",
        "GitHub deployments (DORA)",
        "https://api.github.com",
        "https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise Server.",
        "A token that can read the repositories' deployments, Actions and commits.",
        config=(
            ConfigField(
                "repositories", "Repositories", "Comma-separated owner/name list.", "list", placeholder="acme/web"
            ),
            ConfigField(
                "mode",
                "Deployments are",
                "deployments: the Deployments API and its statuses; workflow_runs: completed Actions runs "
                "on the default branch.",
                "select",
                ("deployments", "workflow_runs"),
            ),
            ConfigField(
                "environments",
                "Environments (optional)",
                "deployments: the environments to read (empty: all); workflow runs: the one they deploy to "
                "(default production). See Discover.",
                "list",
                placeholder="production",
            ),
            ConfigField(
                "workflows",
                "Workflows (optional)",
                "workflow runs: the workflows that deploy, by name or file (empty: all).",
                "list",
                placeholder="deploy.yml",
            ),
            ConfigField(
                "failure_window_hours",
                "Failure window (hours)",
                "An incident or revert/hotfix this long after a deployment fails it (DORA change failure rate).",
                placeholder="24",
            ),
        ),
    ),
    "azure_pipelines": SourceTypeForm(
        "azure_pipelines",
        "Azure Pipelines deployments (DORA)",
        "https://dev.azure.com/acme",
        "The organisation URL (Services) or collection URL (Server).",
        "A personal access token with Build (Read) and Environment (Read).",
        config=(
            ConfigField("project", "Azure DevOps project", "The project of the pipelines.", placeholder="Webshop"),
            ConfigField(
                "mode",
                "Deployments are",
                "runs: completed runs of the pipelines on the branch; environments: the environments' deployment "
                "records.",
                "select",
                ("runs", "environments"),
            ),
            ConfigField(
                "pipelines", "Pipelines (optional)", "Names or ids of the pipelines that deploy (empty: all).", "list"
            ),
            ConfigField(
                "environments",
                "Environments (optional)",
                "environments: the environments to read (empty: all); runs: the one they deploy to.",
                "list",
                placeholder="production",
            ),
            ConfigField("branch", "Branch (runs)", "The branch whose runs deploy (default main).", placeholder="main"),
            ConfigField(
                "failure_window_hours",
                "Failure window (hours)",
                "An incident or revert/hotfix this long after a deployment fails it (DORA change failure rate).",
                placeholder="24",
            ),
        ),
    ),
}

SOURCE_TYPE_OPTIONS: list[tuple[str, str]] = [(k, v.label) for k, v in SOURCE_FORMS.items()]


def config_from_form(source_type: str, form: dict[str, Any], existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """config_json from the `cfg_<name>` inputs of a source form (other existing keys are kept)."""
    config = dict(existing or {})
    spec = SOURCE_FORMS.get(source_type)
    for f in spec.config if spec else ():
        raw = str(form.get(f"cfg_{f.name}") or "").strip()
        if f.kind == "list":
            values = [v.strip() for v in raw.split(",") if v.strip()]
            if values:
                config[f.name] = values
            else:
                config.pop(f.name, None)
        elif raw:
            config[f.name] = raw
        else:
            config.pop(f.name, None)
    return config


def config_as_text(config: dict[str, Any]) -> dict[str, str]:
    """config_json values as the strings the form shows."""
    out: dict[str, str] = {}
    for key, value in (config or {}).items():
        out[key] = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return out
