"""What the two Azure DevOps connectors (Boards, Git) share: the request helper and the connector plumbing.

Both speak to an organisation (``https://dev.azure.com/acme``) or a Server
collection with a personal access token sent as basic auth with an empty
user, and read JSON objects whose lists sit under ``"value"``.

Azure DevOps limits each user to 200 TSTUs (its load unit) in a sliding five
minutes and answers over-consumption by delaying requests, then with 429. Its
answers say so in headers (https://learn.microsoft.com/azure/devops/integrate/concepts/rate-limits):
``X-RateLimit-Delay`` (seconds this request was held back), ``X-RateLimit-Remaining``
and ``X-RateLimit-Limit`` (TSTUs left before delays, and the allowance),
``X-RateLimit-Reset`` (epoch seconds when usage is back to zero) and
``Retry-After`` (seconds to wait, also on answers that are not 429). `AzureThrottle`
reads them on every answer: it pauses every thread of the source for a
Retry-After or a delay, and while the service delays us or the allowance is
nearly used it lets one request run at a time. The shared HTTP layer already
retries a 429 after its Retry-After and waits for X-RateLimit-Reset when
X-RateLimit-Remaining reaches 0.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from etl.connectors.base import BaseConnector, HttpSetup, SourceConfigError, SourceSettings
from etl.connectors.errors import SourceAuthError, SourceDataError
from etl.connectors.http import MAX_WAIT_SECONDS, SourceHttpClient, parse_retry_after

API_VERSION = "7.1"
#: After the service delayed a request, requests run one at a time for this long.
SLOW_SECONDS = 60.0
#: Below this share of the TSTU allowance left, requests run one at a time.
LOW_ALLOWANCE = 0.1


class AzureThrottle:
    """Honours Azure DevOps' rate-limit headers for every thread of one source.

    `slot()` wraps each request: it waits out a pause announced by an earlier answer and,
    while the service is slowing us down, admits one request at a time instead of
    `parallel`. `note(response)` reads an answer's headers. `sleep` is injectable.
    """

    def __init__(
        self,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        self._sleep = sleep
        self._clock = clock
        self.max_wait = max_wait
        self._lock = threading.Condition()
        self._pause_until = 0.0
        self._slow_until = 0.0
        self._running = 0
        #: Seconds of pause the service asked for (Retry-After and X-RateLimit-Delay), for progress and tests.
        self.paused_seconds = 0.0

    @property
    def slowed(self) -> bool:
        """Whether requests currently run one at a time."""
        return self._clock() < self._slow_until

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request's place: after any announced pause, alone while slowed."""
        with self._lock:
            while self.slowed and self._running > 0:
                self._lock.wait(timeout=1.0)
            self._running += 1
            until = self._pause_until
            pause = until - self._clock()
        try:
            if pause > 0:
                self._sleep(pause)
                with self._lock:
                    if self._pause_until == until:
                        self._pause_until = 0.0  # waited out (a later answer may announce a new pause)
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._lock.notify_all()

    def note(self, headers: Mapping[str, str]) -> None:
        """Read one answer's rate-limit headers."""
        retry_after = parse_retry_after(headers.get("retry-after"))
        delay = _seconds(headers.get("x-ratelimit-delay"))
        remaining = _seconds(headers.get("x-ratelimit-remaining"))
        limit = _seconds(headers.get("x-ratelimit-limit"))
        low = remaining is not None and limit is not None and limit > 0 and remaining < limit * LOW_ALLOWANCE
        if not (retry_after or delay or low):
            return
        now = self._clock()
        with self._lock:
            pause = min(self.max_wait, max(retry_after or 0.0, delay or 0.0))
            if pause > 0 and now + pause > self._pause_until:
                self.paused_seconds += pause
                self._pause_until = now + pause
            self._slow_until = max(self._slow_until, now + SLOW_SECONDS)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value not in (None, "") else None
    except ValueError:
        return None


def azure_json(
    http: SourceHttpClient,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json_body: Any = None,
    ok_statuses: tuple[int, ...] = (),
    throttle: AzureThrottle | None = None,
) -> tuple[Any, int]:
    """Send one Azure DevOps request and decode its JSON: (data, status).

    Azure DevOps answers a request whose credentials it ignores with 203 and its HTML
    sign-in page instead of 401; that is an authentication failure, not a data error.
    With a `throttle`, the request waits its turn and its rate-limit headers are read.
    """
    data, response = azure_json_response(
        http, method, path, params=params, json_body=json_body, ok_statuses=ok_statuses, throttle=throttle
    )
    return data, response.status_code


def azure_json_response(
    http: SourceHttpClient,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json_body: Any = None,
    ok_statuses: tuple[int, ...] = (),
    throttle: AzureThrottle | None = None,
) -> tuple[Any, httpx.Response]:
    """`azure_json`, with the whole response (for headers such as x-ms-continuationtoken)."""
    if throttle is None:
        response = http.request(method, path, params=params, json=json_body, ok_statuses=ok_statuses)
    else:
        with throttle.slot():
            response = http.request(method, path, params=params, json=json_body, ok_statuses=ok_statuses)
        throttle.note(response.headers)
    return _decoded(response)[0], response


def _decoded(response: httpx.Response) -> tuple[Any, int]:
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
        #: The source's share of Azure DevOps' rate limits, honoured by every request of this connector.
        self.throttle = AzureThrottle(sleep=http_options.get("sleep", time.sleep))

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

    def _azure_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> tuple[Any, int]:
        """`azure_json` through this source's client and throttle."""
        return azure_json(
            self.http, method, path, params=params, json_body=json_body, ok_statuses=ok_statuses, throttle=self.throttle
        )

    def _azure_json_response(self, method: str, path: str, params: Mapping[str, Any]) -> tuple[Any, httpx.Response]:
        """`azure_json_response` through this source's client and throttle."""
        return azure_json_response(self.http, method, path, params=params, throttle=self.throttle)

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        data, _ = self._azure_json("GET", path, params={"api-version": API_VERSION, **(params or {})})
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
        data, _ = self._azure_json("GET", "_apis/connectionData")
        user = (data or {}).get("authenticatedUser") if isinstance(data, dict) else None
        if not isinstance(user, dict):
            raise SourceDataError("Azure DevOps connectionData has no authenticatedUser")
        name = user.get("providerDisplayName") or user.get("customDisplayName") or "unknown"
        if name == "Anonymous":
            # connectionData answers anonymously instead of 401 when the PAT is silently ignored.
            raise SourceAuthError("Azure DevOps treated us as anonymous: the personal access token was not accepted")
        account = ((user.get("properties") or {}).get("Account") or {}).get("$value")
        return f"{name} <{account}>" if account else str(name)
