"""What the two Azure DevOps connectors (Boards, Git) share: the request helper and the connector plumbing.

Both speak to an organisation (``https://dev.azure.com/acme``) or a Server
collection with a personal access token sent as basic auth with an empty
user, and read JSON objects whose lists sit under ``"value"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from etl.connectors.base import BaseConnector, HttpSetup, SourceConfigError, SourceSettings
from etl.connectors.errors import SourceAuthError, SourceDataError
from etl.connectors.http import SourceHttpClient

API_VERSION = "7.1"


def azure_json(
    http: SourceHttpClient,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json_body: Any = None,
    ok_statuses: tuple[int, ...] = (),
) -> tuple[Any, int]:
    """Send one Azure DevOps request and decode its JSON: (data, status).

    Azure DevOps answers a request whose credentials it ignores with 203 and its HTML
    sign-in page instead of 401; that is an authentication failure, not a data error.
    """
    response = http.request(method, path, params=params, json=json_body, ok_statuses=ok_statuses)
    if response.status_code == 203:
        raise SourceAuthError(
            "Azure DevOps answered with its sign-in page (203): the personal access token was not accepted; "
            "check the token, its expiry and that it belongs to this organisation",
            status_code=203,
            url=str(response.request.url),
        )
    try:
        return (json.loads(response.content) if response.content else None), response.status_code
    except (ValueError, UnicodeDecodeError):
        raise SourceDataError(
            f"Azure DevOps answered {response.request.url.path} with something that is not JSON "
            f"({response.headers.get('content-type', 'no content type')}); a proxy or sign-in page may be in the way",
            status_code=response.status_code,
            url=str(response.request.url),
        ) from None


class AzureDevOpsConnector(BaseConnector):
    """Plumbing of an Azure DevOps connector: project, PAT basic auth, JSON objects and ``value`` lists."""

    #: How errors name the tool ("Azure Boards", "Azure DevOps Git").
    tool_name = "Azure DevOps"

    def __init__(self, settings: SourceSettings, **http_options: Any) -> None:
        super().__init__(settings, **http_options)
        self.project: str = str((settings.config_json or {}).get("project") or settings.project_key or "").strip()
        if not self.project:
            raise SourceConfigError(f"{self.tool_name} needs a project: set config_json.project")

    def http_setup(self) -> HttpSetup:
        if not self.settings.token:
            raise SourceConfigError(f"{self.tool_name} needs a personal access token")
        return HttpSetup(
            self.settings.base_url,
            auth=("", self.settings.token),
            label=f"{self.source_type}:{self.settings.source_id or self.project}",
        )

    def _project_path(self, tail: str) -> str:
        return f"{quote(self.project)}/{tail}"

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data, _ = azure_json(self.http, "GET", path, params={"api-version": API_VERSION, **(params or {})})
        if not isinstance(data, dict):
            raise SourceDataError(f"Azure DevOps answered {path} with {type(data).__name__}, expected an object")
        return data

    @staticmethod
    def _values(data: Mapping[str, Any], what: str) -> list[Any]:
        values = data.get("value")
        if not isinstance(values, list):
            raise SourceDataError(f"Azure DevOps {what} answer has no 'value' list")
        return values

    def _authenticated_identity(self) -> str:
        """Who the token is ("Name <account>"), from ``_apis/connectionData``; anonymous is an auth error."""
        data, _ = azure_json(self.http, "GET", "_apis/connectionData")
        user = (data or {}).get("authenticatedUser") if isinstance(data, dict) else None
        if not isinstance(user, dict):
            raise SourceDataError("Azure DevOps connectionData has no authenticatedUser")
        name = user.get("providerDisplayName") or user.get("customDisplayName") or "unknown"
        if name == "Anonymous":
            # connectionData answers anonymously instead of 401 when the PAT is silently ignored.
            raise SourceAuthError("Azure DevOps treated us as anonymous: the personal access token was not accepted")
        account = ((user.get("properties") or {}).get("Account") or {}).get("$value")
        return f"{name} <{account}>" if account else str(name)
