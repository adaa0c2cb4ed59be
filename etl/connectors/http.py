"""The one HTTP layer every connector uses.

`SourceHttpClient` wraps a synchronous `httpx.Client` with what talking to a
third-party API over months of nightly syncs needs:

* timeouts on every request;
* retries with exponential backoff and full jitter on 429, 5xx and transport
  errors, honouring `Retry-After` (seconds or HTTP date) and GitHub-style
  `X-RateLimit-Remaining` / `X-RateLimit-Reset` headers, every wait capped;
* a per-source request budget (token bucket, requests per minute) shared by all
  threads fetching for that source;
* final failures mapped to the `SourceError` classes of `base.py`, with
  messages an admin can act on;
* an SSRF guard (`OutboundGuard`): the base URL is checked at construction and
  every connection goes to an address checked just before connecting
  (`PinnedNetworkBackend`), so DNS rebinding cannot reach a private address;
  private addresses only where ALLOWED_PRIVATE_HOSTS names them;
* a cap on each answer's size (`HTTP_MAX_RESPONSE_BYTES`, read as a stream) and
  a guard against paging cursors that come back (`CursorGuard`).

`CircuitBreaker` / `check_circuit` hold the "stop after N failed syncs" logic;
the sync pipeline keeps the counter on the source row.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
import orjson

from core.netlists import IPAddress, PrivateHostAllowList, unmapped
from core.settings import get_settings
from etl.connectors.errors import (
    SourceAuthError,
    SourceConfigError,
    SourceDataError,
    SourceError,
    SourceNotFound,
    SourcePermissionError,
    SourceRateLimited,
    SourceUnavailable,
)

#: Longest single wait (backoff, Retry-After, rate-limit reset or budget) we accept.
MAX_WAIT_SECONDS = 60.0
#: First backoff step; attempt n waits uniform(0, min(MAX_WAIT, BASE * 2**n)).
BACKOFF_BASE_SECONDS = 0.5
#: Status codes worth retrying: the tool is overloaded or briefly broken.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})

# Cloud metadata endpoints: refused even when they are not "private" by ipaddress' rules.
_METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)


# --------------------------------------------------------------------------- SSRF guard
#: host -> the addresses it resolves to (strings). Injectable so tests never ask a real DNS.
Resolver = Callable[[str], list[str]]


def _address_problem(address: IPAddress) -> str | None:
    """Why this address must not be fetched from a tenant-supplied URL, or None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _address_problem(address.ipv4_mapped)
    if address in _METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private network address"
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network("100.64.0.0/10"):
        return "a carrier-grade NAT address"
    return None


def system_resolver(host: str) -> list[str]:
    """Every address the host resolves to (A and AAAA), in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class OutboundGuard:
    """Where a tenant-supplied URL (a source's base URL, a tenant's AI endpoint) may connect.

    The host is resolved once per connection and every address checked: public
    addresses pass; loopback, private, link-local, multicast, reserved and
    carrier-grade NAT addresses only when the allow-list names them; cloud
    metadata addresses never. `checked_addresses` is what the pinned transport
    connects to, so a DNS answer that changes between check and connect
    (rebinding) never reaches an address that was not checked.
    """

    def __init__(self, allow_list: PrivateHostAllowList | None = None, resolver: Resolver | None = None) -> None:
        self.allow_list = allow_list or PrivateHostAllowList()
        self.resolver = resolver or system_resolver

    @classmethod
    def from_settings(cls, resolver: Resolver | None = None) -> OutboundGuard:
        """The guard for this deployment's ALLOWED_PRIVATE_HOSTS."""
        return cls(get_settings().private_host_allow_list(), resolver)

    def checked_addresses(self, host: str, port: int) -> list[str]:
        """Resolve `host` once and return its addresses, all allowed; raise SourceConfigError otherwise."""
        host = host.strip("[]")
        raw_addresses = self.resolver(host)
        if not raw_addresses:
            raise SourceConfigError(f"the host {host!r} could not be resolved: check the address")
        checked: list[str] = []
        for raw in raw_addresses:
            try:
                address = unmapped(ipaddress.ip_address(str(raw).split("%", 1)[0]))
            except ValueError:
                raise SourceConfigError(f"the host {host!r} resolved to an unreadable address {raw!r}") from None
            problem = _address_problem(address)
            if problem and (address in _METADATA_ADDRESSES or not self.allow_list.allows(host, address, port)):
                raise SourceConfigError(
                    f"the host {host!r} resolves to {address}, {problem}; connecting to it is refused. "
                    "Use the tool's public address; for a self-hosted tool on your own network an operator "
                    f"can allow it with ALLOWED_PRIVATE_HOSTS={host}:{port} (or its network in CIDR form)."
                )
            checked.append(str(address))
        return checked

    def check_url(self, url: str) -> str:
        """Validate a tenant-supplied base URL (syntax, then every address); return it normalised."""
        normalised, host, port = _parse_base_url(url)
        self.checked_addresses(host, port)
        return normalised


def _parse_base_url(url: str) -> tuple[str, str, int]:
    """(normalised URL, host, port) of an http(s) base URL; SourceConfigError for anything else."""
    if not url or not isinstance(url, str):
        raise SourceConfigError("the base URL is empty: enter the tool's address, e.g. https://acme.atlassian.net")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise SourceConfigError(f"the base URL {url!r} must start with https:// (or http://)")
    host = parts.hostname
    if not host:
        raise SourceConfigError(f"the base URL {url!r} has no host name")
    if parts.username or parts.password:
        raise SourceConfigError("the base URL must not contain a username or password: use the token fields")
    try:
        port = parts.port
    except ValueError:
        raise SourceConfigError(f"the base URL {url!r} has an invalid port") from None
    return url.strip().rstrip("/"), host, port or (443 if parts.scheme == "https" else 80)


def validate_base_url(url: str, *, guard: OutboundGuard | None = None, resolver: Resolver | None = None) -> str:
    """Check a tenant-supplied base URL before we ever request it; return it normalised.

    Only http/https with a host, no credentials; every address the host
    resolves to must pass `OutboundGuard` (settings ALLOWED_PRIVATE_HOSTS).
    """
    return (guard or OutboundGuard.from_settings(resolver)).check_url(url)


class PinnedNetworkBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to addresses the guard has just checked.

    httpcore asks for `connect_tcp(host, port)` with the URL's host name; this
    resolves it once through the guard and connects to the checked address
    itself. The request keeps its URL, so the Host header and the TLS server
    name (SNI and certificate check) stay the tool's name. `inner` opens the
    socket (tests pass one that records instead of connecting).
    """

    def __init__(self, guard: OutboundGuard, inner: httpcore.NetworkBackend | None = None) -> None:
        self.guard = guard
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        last_error: Exception | None = None
        for address in self.guard.checked_addresses(host, port):
            try:
                return self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # checked_addresses never returns an empty list
        raise last_error

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise SourceConfigError("unix sockets are never used for outbound requests")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def guarded_transport(
    guard: OutboundGuard,
    *,
    verify: ssl.SSLContext | str | bool = True,
    network_backend: httpcore.NetworkBackend | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through `PinnedNetworkBackend`."""
    transport = httpx.HTTPTransport(verify=verify, limits=limits or httpx.Limits(), retries=0)
    pool = transport._pool  # httpx builds its httpcore pool without a network_backend option
    if not hasattr(pool, "_network_backend"):  # pragma: no cover - guards an httpcore upgrade
        raise RuntimeError("httpcore.ConnectionPool changed: the SSRF-pinning transport needs updating")
    pool._network_backend = PinnedNetworkBackend(guard, network_backend)
    return transport


def guarded_http_client(
    base_url: str,
    *,
    guard: OutboundGuard | None = None,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
    verify: ssl.SSLContext | str | bool = True,
    network_backend: httpcore.NetworkBackend | None = None,
    **client_options: Any,
) -> httpx.Client:
    """An `httpx.Client` for a tenant-supplied URL: checked now, pinned on every connection, no redirects.

    The base URL is validated first (a clear SourceConfigError), environment
    proxies are ignored (they would bypass the pinning), and redirects are not
    followed (a redirect could point anywhere).
    """
    guard = guard or OutboundGuard.from_settings()
    normalised = guard.check_url(base_url)
    return httpx.Client(
        base_url=normalised + "/",
        headers=dict(headers or {}),
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
        follow_redirects=False,
        trust_env=False,
        transport=guarded_transport(guard, verify=verify, network_backend=network_backend),
        **client_options,
    )


# --------------------------------------------------------------------------- request budget
class RequestBudget:
    """Token bucket: at most `per_minute` requests per minute, bursts up to `per_minute`.

    Thread-safe; every thread fetching for one source shares one instance
    (see `budget_for`). `acquire` waits for a token; if that would take longer
    than `max_wait` it raises SourceRateLimited instead of hanging a worker.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        if per_minute <= 0:
            raise SourceConfigError(f"the request budget must be at least 1 request per minute, not {per_minute}")
        self.per_minute = per_minute
        self.capacity = float(burst if burst is not None else per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()
        self.max_wait = max_wait

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def try_acquire(self) -> float:
        """Take a token if one is there (return 0), else return the seconds until one will be."""
        with self._lock:
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.rate

    def acquire(self) -> None:
        """Block until a token is available."""
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return
            if waited + wait > self.max_wait:
                raise SourceRateLimited(
                    f"the request budget of {self.per_minute} requests per minute is exhausted; "
                    "raise the source's budget or sync less often",
                    retry_after=wait,
                )
            self._sleep(wait)
            waited += wait


_BUDGETS: dict[str, RequestBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def budget_for(key: str, per_minute: int) -> RequestBudget:
    """The shared budget for one source (by key, e.g. "source:42"); replaced if the rate changed."""
    with _BUDGETS_LOCK:
        budget = _BUDGETS.get(key)
        if budget is None or budget.per_minute != per_minute:
            budget = RequestBudget(per_minute)
            _BUDGETS[key] = budget
        return budget


# --------------------------------------------------------------------------- paging guard
#: More pages than this in one paging loop means the tool is looping, not listing.
MAX_PAGES_PER_LOOP = 100_000


class CursorGuard:
    """Stops a paging loop whose cursor comes back (no endless sync on a tool that repeats itself).

    Call `advance(cursor)` before fetching each page with the cursor (token,
    next link, page number or, for page-number APIs, the page's first and last
    ids): a cursor seen before, or more than `max_pages` pages, raises
    SourceDataError naming the loop.
    """

    def __init__(self, what: str, max_pages: int = MAX_PAGES_PER_LOOP) -> None:
        self.what = what
        self.max_pages = max_pages
        self.pages = 0
        self._seen: set[Any] = set()

    def advance(self, cursor: Any) -> None:
        """Record the next page's cursor; raise when it repeats or the loop is too long."""
        self.pages += 1
        if cursor in self._seen:
            raise SourceDataError(
                f"{self.what}: the tool returned a paging cursor it had already returned ({str(cursor)[:80]}); "
                "paging stopped instead of looping for ever"
            )
        if self.pages > self.max_pages:
            raise SourceDataError(f"{self.what}: more than {self.max_pages} pages; paging stopped")
        self._seen.add(cursor)


# --------------------------------------------------------------------------- circuit breaker
@dataclass(frozen=True)
class CircuitBreaker:
    """After `threshold` consecutive failed syncs a source stops syncing until an admin retries.

    Pure logic: the counter lives on the source row, kept by the sync pipeline.
    """

    threshold: int = 5

    def is_open(self, consecutive_failures: int) -> bool:
        return self.threshold > 0 and consecutive_failures >= self.threshold

    def check(self, consecutive_failures: int) -> None:
        """Raise SourceUnavailable when the circuit is open."""
        if self.is_open(consecutive_failures):
            raise SourceUnavailable(f"circuit open after {consecutive_failures} failed syncs: an admin must retry")

    @staticmethod
    def record(consecutive_failures: int, *, succeeded: bool) -> int:
        """The new counter after one sync: reset on success, one more on failure."""
        return 0 if succeeded else consecutive_failures + 1


def check_circuit(consecutive_failures: int, threshold: int) -> None:
    """Raise SourceUnavailable("circuit open after N failed syncs ...") when N >= threshold."""
    CircuitBreaker(threshold).check(consecutive_failures)


# --------------------------------------------------------------------------- header helpers
def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def rate_limit_wait(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds until the quota resets when X-RateLimit-Remaining says it is used up, else None."""
    remaining = headers.get("x-ratelimit-remaining")
    reset = headers.get("x-ratelimit-reset")
    if remaining is None or reset is None:
        return None
    try:
        if float(remaining) > 0:
            return None
        reset_value = float(reset)
    except ValueError:
        return None
    current = now if now is not None else time.time()
    # GitHub sends an epoch timestamp; some tools send seconds-until-reset.
    if reset_value > 1_000_000_000:
        return max(0.0, reset_value - current)
    return max(0.0, reset_value)


_LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?([^";]+)"?')


def parse_link_header(value: str | None) -> dict[str, str]:
    """{"next": url, "last": url, ...} from an RFC 8288 Link header."""
    links: dict[str, str] = {}
    for url, rels in _LINK_RE.findall(value or ""):
        for rel in rels.split():
            links[rel] = url
    return links


def _error_detail(response: httpx.Response) -> str:
    """The tool's own error text (Jira errorMessages, ClickUp err, GitHub message), shortened."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        text = response.text.strip()
        return text[:200]
    parts: list[str] = []
    if isinstance(body, dict):
        for key in ("errorMessages", "message", "err", "error", "errors", "detail", "ECODE"):
            value = body.get(key)
            if not value:
                continue
            if isinstance(value, list):
                parts.extend(str(v) for v in value)
            elif isinstance(value, dict):
                parts.extend(f"{k}: {v}" for k, v in value.items())
            else:
                parts.append(str(value))
    return "; ".join(parts)[:300]


def _is_rate_limit_403(response: httpx.Response) -> bool:
    """GitHub answers 403 for its primary limit (X-RateLimit-Remaining: 0) and for its
    secondary limits (a Retry-After header); both are waits, not missing permissions."""
    return rate_limit_wait(response.headers) is not None or response.headers.get("retry-after") is not None


# --------------------------------------------------------------------------- client
class SourceHttpClient:
    """A tool's API at `base_url`, with retries, budget and error mapping.

    Safe to share between threads (httpx.Client is). `budget_key` (e.g.
    "jira:42") makes every client of one source in this process draw from one
    token bucket. `sleep` and `rng` are injectable so tests do not really wait.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        budget_per_minute: int = 600,
        budget: RequestBudget | None = None,
        budget_key: str | None = None,
        timeout: float | None = None,
        max_retries: int = 5,
        source_label: str = "source",
        guard: OutboundGuard | None = None,
        max_response_bytes: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_wait: float = MAX_WAIT_SECONDS,
        verify: ssl.SSLContext | str | bool = True,
        network_backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        settings = get_settings()
        if timeout is None:
            timeout = float(settings.http_timeout_seconds)
        self.guard = guard or OutboundGuard.from_settings()
        self.base_url = _parse_base_url(base_url)[0]  # the guard checks its addresses once, below
        self.host = urlsplit(self.base_url).netloc
        self.source_label = source_label
        self.max_retries = max(0, max_retries)
        self.max_wait = max_wait
        self.max_response_bytes = int(max_response_bytes or settings.http_max_response_bytes)
        self._sleep = sleep
        self._rng = rng or random.Random()
        if budget is None and budget_key:
            budget = budget_for(budget_key, budget_per_minute)  # shared by every client of this source
        self.budget = budget or RequestBudget(budget_per_minute, sleep=sleep, max_wait=max_wait)
        self._pause_until = 0.0  # epoch seconds: a rate-limit reset announced by the tool
        self._pause_lock = threading.Lock()
        self.requests_made = 0
        self._client = guarded_http_client(
            self.base_url,
            guard=self.guard,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "dmt-sldp-connector/1.0", **(headers or {})},
            verify=verify,
            network_backend=network_backend,
            auth=auth,
        )

    # -- plumbing -------------------------------------------------------------
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SourceHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**attempt))."""
        return self._rng.uniform(0, min(self.max_wait, BACKOFF_BASE_SECONDS * (2**attempt)))

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(min(seconds, self.max_wait))

    def _honour_pause(self) -> None:
        with self._pause_lock:
            pause = self._pause_until - time.time()
        if pause > 0:
            self._wait(pause)

    def _describe(self, url: str) -> str:
        return str(self._client.build_request("GET", url).url) if not url.startswith("http") else url

    # -- requests -------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send one request (relative to the base URL, or absolute) with retries; map final failures.

        2xx and 304 are returned; so is any status listed in `ok_statuses`.
        """
        clean_params = {k: v for k, v in (params or {}).items() if v is not None} or None
        if url.startswith(("http://", "https://")) and urlsplit(url).netloc != self.host:
            # Absolute URLs come from the tool's own answers (next links); never follow them elsewhere.
            raise SourceDataError(f"{self.host} pointed us at another host ({urlsplit(url).netloc}); refused", url=url)
        attempts = self.max_retries + 1
        last_error: str = ""
        for attempt in range(attempts):
            self._honour_pause()
            self.budget.acquire()
            self.requests_made += 1
            try:
                response = self._send(method, url, params=clean_params, json=json, headers=headers)
            except httpx.TimeoutException as exc:
                last_error = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                last_error = f"could not be reached ({type(exc).__name__}: {exc})"
            else:
                status = response.status_code
                if status < 300 or status == 304 or status in ok_statuses:
                    self._note_rate_limit(response)
                    return response
                limited_403 = status == 403 and _is_rate_limit_403(response)
                if status in RETRYABLE_STATUSES or limited_403:
                    if attempt + 1 >= attempts:
                        raise self._final_error(response, attempts)
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    if retry_after is None:
                        retry_after = rate_limit_wait(response.headers)
                    self._wait(retry_after if retry_after is not None else self._backoff(attempt))
                    continue
                raise self._final_error(response, attempt + 1)
            if attempt + 1 >= attempts:
                raise SourceUnavailable(
                    f"{self.host} {last_error} after {attempts} attempts: check the base URL and that the tool is up",
                    url=self._describe(url),
                )
            self._wait(self._backoff(attempt))
        raise SourceUnavailable(f"{self.host} could not be reached")  # pragma: no cover - loop always returns

    def _send(self, method: str, url: str, **options: Any) -> httpx.Response:
        """One request whose answer is read as a stream and refused once it passes `max_response_bytes`."""
        request = self._client.build_request(method, url, **options)
        response = self._client.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_response_bytes:
                raise self._too_large(response)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():  # decoded bytes: a compressed bomb counts at full size
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise self._too_large(response)
                chunks.append(chunk)
            response._content = b"".join(chunks)  # what Response.read() stores; the body is complete
        finally:
            response.close()
        return response

    def _too_large(self, response: httpx.Response) -> SourceDataError:
        return SourceDataError(
            f"{self.host} answered {response.request.url.path} with more than {self.max_response_bytes:,} bytes; "
            "the answer was refused. Ask for smaller pages, or raise HTTP_MAX_RESPONSE_BYTES if the tool really "
            "sends that much",
            status_code=response.status_code,
            url=str(response.request.url),
        )

    def _note_rate_limit(self, response: httpx.Response) -> None:
        """Quota used up on a successful answer: pause the next request until it resets (capped)."""
        wait = rate_limit_wait(response.headers)
        if wait:
            with self._pause_lock:
                self._pause_until = max(self._pause_until, time.time() + min(wait, self.max_wait))

    def _final_error(self, response: httpx.Response, attempts: int) -> SourceError:
        status = response.status_code
        url = str(response.request.url)
        detail = _error_detail(response)
        suffix = f" ({detail})" if detail else ""
        host = self.host
        if status == 401:
            return SourceAuthError(
                f"the token was refused by {host} (401): check the API token and username{suffix}",
                status_code=status,
                url=url,
            )
        if status == 403 and not _is_rate_limit_403(response):
            return SourcePermissionError(
                f"{host} refused access to {response.request.url.path} (403): the token's account lacks "
                f"permission for it; grant read access or use another account{suffix}",
                status_code=status,
                url=url,
            )
        if status == 404:
            return SourceNotFound(
                f"{url} was not found (404): check the base URL, project key, team or repository{suffix}",
                status_code=status,
                url=url,
            )
        if status == 429 or status == 403:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is None:
                retry_after = rate_limit_wait(response.headers)
            return SourceRateLimited(
                f"{host} kept rate limiting requests (429) after {attempts} attempts; the sync will retry later"
                f"{suffix}",
                retry_after=retry_after,
                status_code=status,
                url=url,
            )
        if status >= 500:
            return SourceUnavailable(
                f"{host} answered {status} after {attempts} attempts: the tool is failing or down, "
                f"try again later{suffix}",
                status_code=status,
                url=url,
            )
        if 300 <= status < 400:
            target = response.headers.get("location") or "another address"
            return SourceConfigError(
                f"{host} redirected {response.request.url.path} to {target} ({status}); redirects are not "
                "followed (they could lead to internal addresses): use the final address as the base URL",
                status_code=status,
                url=url,
            )
        if status in (400, 405, 409, 410, 413, 414, 422):
            return SourceConfigError(
                f"{host} rejected the request to {response.request.url.path} ({status}){suffix}: "
                "check the source configuration (query, project, field mapping)",
                status_code=status,
                url=url,
            )
        return SourceDataError(
            f"{host} answered {status} to {response.request.url.path}{suffix}", status_code=status, url=url
        )

    def _decode(self, response: httpx.Response) -> Any:
        if response.status_code == 304 or response.status_code == 204 or not response.content:
            return None
        try:
            return orjson.loads(response.content)  # several times faster on 100-issue pages
        except orjson.JSONDecodeError:
            pass  # NaN, very large integers, ...: let the standard library decide
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceDataError(
                f"{self.host} answered {response.request.url.path} with invalid JSON ({exc}); "
                "the tool or a proxy in front of it returned something unexpected",
                status_code=response.status_code,
                url=str(response.request.url),
            ) from None

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, httpx.Response]:
        """GET and decode JSON: (data, response); data is None for 204/304."""
        response = self.request("GET", path, params=params, headers=headers)
        return self._decode(response), response

    def post_json(
        self,
        path: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, httpx.Response]:
        """POST a JSON body and decode the JSON answer: (data, response)."""
        response = self.request("POST", path, params=params, json=json, headers=headers)
        return self._decode(response), response

    def get_paged_link_header(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        max_pages: int | None = None,
    ) -> Iterator[tuple[Any, httpx.Response]]:
        """Follow `Link: <...>; rel="next"` pages (GitHub style), yielding (data, response) per page."""
        url: str | None = path
        page_params: Mapping[str, Any] | None = params
        pages = 0
        cursors = CursorGuard(f"{self.host} {path}")
        while url:
            cursors.advance(url if page_params is None else (url, tuple(sorted(page_params.items()))))
            data, response = self.get_json(url, params=page_params, headers=headers)
            yield data, response
            pages += 1
            if max_pages is not None and pages >= max_pages:
                return
            url = parse_link_header(response.headers.get("link")).get("next")
            page_params = None  # the next link carries the query string
