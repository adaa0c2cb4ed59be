"""The shared connector HTTP layer against live fake servers: retries, budget, errors, SSRF guard."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from etl.connectors.base import (
    SourceAuthError,
    SourceConfigError,
    SourceDataError,
    SourceNotFound,
    SourcePermissionError,
    SourceRateLimited,
    SourceUnavailable,
)
from etl.connectors.http import (
    CircuitBreaker,
    RequestBudget,
    SourceHttpClient,
    check_circuit,
    parse_link_header,
    parse_retry_after,
    rate_limit_wait,
)
from tests.fakes.jira import create_app as create_jira_app
from tests.fakes.jira import generate_dataset as jira_dataset
from tests.fakes.server import FaultControls, free_port, serve


class SleepRecorder:
    """Injected sleep: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def jira_site() -> Iterator[tuple[str, FaultControls, object]]:
    dataset = jira_dataset(seed=3, size=30)
    controls = FaultControls()
    with serve(create_jira_app(dataset, controls, deployment="cloud")) as url:
        yield url, controls, dataset


def _client(url: str, dataset: object, sleep: SleepRecorder, **kw: object) -> SourceHttpClient:
    return SourceHttpClient(
        url,
        auth=(dataset.api_user_email, dataset.token),  # type: ignore[attr-defined]
        sleep=sleep,
        timeout=5,
        **kw,  # type: ignore[arg-type]
    )


def _odd_app() -> FastAPI:
    """Answers the cases the tool fakes do not produce on purpose."""
    app = FastAPI()
    state = {"limited": 0}

    @app.get("/forbidden")
    def forbidden() -> JSONResponse:
        return JSONResponse({"message": "Resource not accessible by integration"}, status_code=403)

    @app.get("/missing")
    def missing() -> JSONResponse:
        return JSONResponse({"errorMessages": ["No project could be found with key 'NOPE'."]}, status_code=404)

    @app.get("/garbage")
    def garbage() -> Response:
        return Response(b"<html>Gateway says hi</html>", media_type="application/json")

    @app.get("/quota")
    def quota() -> JSONResponse:
        # GitHub-style: a 403 with Remaining 0 is a rate limit, not a permission problem.
        state["limited"] += 1
        if state["limited"] == 1:
            reset = int(time.time()) + 7
            return JSONResponse(
                {"message": "API rate limit exceeded"},
                status_code=403,
                headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
            )
        return JSONResponse({"ok": True})

    @app.get("/paged")
    def paged(request: Request, page: int = 1) -> JSONResponse:
        headers = {}
        if page < 3:
            headers["Link"] = f'<{str(request.base_url).rstrip("/")}/paged?page={page + 1}>; rel="next"'
        return JSONResponse([{"n": page}], headers=headers)

    @app.get("/moved")
    def moved() -> Response:
        return Response(status_code=301, headers={"Location": "http://169.254.169.254/latest"})

    @app.get("/elsewhere")
    def elsewhere() -> JSONResponse:
        return JSONResponse([], headers={"Link": '<http://198.51.100.7/paged?page=2>; rel="next"'})

    return app


@pytest.fixture(scope="module")
def odd_site() -> Iterator[str]:
    with serve(_odd_app()) as url:
        yield url


# --------------------------------------------------------------------------- retries
def test_429_is_retried_honouring_retry_after(jira_site) -> None:
    url, controls, dataset = jira_site
    sleep = SleepRecorder()
    controls.rate_limit_next(2, retry_after=3)
    data, response = _client(url, dataset, sleep).get_json("/rest/api/2/myself")
    assert response.status_code == 200 and data["emailAddress"] == dataset.api_user_email
    assert sleep.waits == [3.0, 3.0]


def test_5xx_then_success_backs_off_with_jitter(jira_site) -> None:
    url, controls, dataset = jira_site
    sleep = SleepRecorder()
    controls.fail_next(3, status=503)
    data, _ = _client(url, dataset, sleep).get_json("/rest/api/2/serverInfo")
    assert data["deploymentType"] == "Cloud"
    assert len(sleep.waits) == 3
    # Full jitter: attempt n waits in [0, 0.5 * 2**n].
    assert all(0 <= w <= 0.5 * 2**n for n, w in enumerate(sleep.waits))


def test_persistent_5xx_becomes_source_unavailable(jira_site) -> None:
    url, controls, dataset = jira_site
    controls.fail_next(3, status=502)
    with pytest.raises(SourceUnavailable) as exc:
        _client(url, dataset, SleepRecorder(), max_retries=2).get_json("/rest/api/2/myself")
    assert "502 after 3 attempts" in str(exc.value)
    assert exc.value.retryable


def test_429_storm_beyond_retries_becomes_rate_limited_with_retry_after(jira_site) -> None:
    url, controls, dataset = jira_site
    controls.rate_limit_next(3, retry_after=12)
    with pytest.raises(SourceRateLimited) as exc:
        _client(url, dataset, SleepRecorder(), max_retries=2).get_json("/rest/api/2/myself")
    assert exc.value.retry_after == 12
    assert "rate limiting" in str(exc.value)


def test_waits_are_capped(jira_site) -> None:
    url, controls, dataset = jira_site
    sleep = SleepRecorder()
    controls.rate_limit_next(1, retry_after=3600)
    _client(url, dataset, sleep, max_wait=60).get_json("/rest/api/2/myself")
    assert sleep.waits == [60]


def test_rate_limit_headers_on_403_mean_wait_until_reset(odd_site) -> None:
    sleep = SleepRecorder()
    client = SourceHttpClient(odd_site, sleep=sleep, timeout=5)
    data, _ = client.get_json("/quota")
    assert data == {"ok": True}
    assert len(sleep.waits) == 1 and 4 <= sleep.waits[0] <= 8


def test_connection_refused_becomes_source_unavailable() -> None:
    client = SourceHttpClient(f"http://127.0.0.1:{free_port()}", sleep=SleepRecorder(), max_retries=1, timeout=2)
    with pytest.raises(SourceUnavailable) as exc:
        client.get_json("/anything")
    assert "could not be reached" in str(exc.value) and "2 attempts" in str(exc.value)


def test_timeout_becomes_source_unavailable(jira_site) -> None:
    url, controls, dataset = jira_site
    controls.latency_seconds = 0.5
    try:
        client = SourceHttpClient(
            url,
            auth=(dataset.api_user_email, dataset.token),
            sleep=SleepRecorder(),
            timeout=0.1,
            max_retries=1,
        )
        with pytest.raises(SourceUnavailable) as exc:
            client.get_json("/rest/api/2/myself")
        assert "timed out" in str(exc.value)
    finally:
        controls.latency_seconds = 0


# --------------------------------------------------------------------------- error mapping
def test_wrong_token_is_an_auth_error_an_admin_can_act_on(jira_site) -> None:
    url, _, dataset = jira_site
    client = SourceHttpClient(url, auth=(dataset.api_user_email, "wrong"), timeout=5)
    with pytest.raises(SourceAuthError) as exc:
        client.get_json("/rest/api/2/myself")
    host = url.split("://")[1]
    assert str(exc.value).startswith(f"the token was refused by {host} (401): check the API token and username")
    assert exc.value.status_code == 401


def test_403_404_and_invalid_json_are_mapped(odd_site) -> None:
    client = SourceHttpClient(odd_site, timeout=5, sleep=SleepRecorder())
    with pytest.raises(SourcePermissionError) as forbidden:
        client.get_json("/forbidden")
    assert "(403)" in str(forbidden.value) and "Resource not accessible" in str(forbidden.value)
    with pytest.raises(SourceNotFound) as missing:
        client.get_json("/missing")
    assert f"{odd_site}/missing was not found (404)" in str(missing.value)
    assert "No project could be found" in str(missing.value)
    with pytest.raises(SourceConfigError, match="redirects are not followed"):
        client.get_json("/moved")
    with pytest.raises(SourceDataError) as garbage:
        client.get_json("/garbage")
    assert "invalid JSON" in str(garbage.value)


def test_link_header_paging_and_foreign_hosts(odd_site) -> None:
    client = SourceHttpClient(odd_site, timeout=5)
    pages = [data for data, _ in client.get_paged_link_header("/paged")]
    assert pages == [[{"n": 1}], [{"n": 2}], [{"n": 3}]]
    with pytest.raises(SourceDataError, match="another host"):
        list(client.get_paged_link_header("/elsewhere"))


# --------------------------------------------------------------------------- headers
def test_retry_after_parsing() -> None:
    now = float(int(time.time()))
    http_date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after("5") == 5
    assert 28 <= (parse_retry_after(http_date, now=now) or 0) <= 31
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert rate_limit_wait({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 10)}, now=now) == 10
    assert rate_limit_wait({"x-ratelimit-remaining": "5", "x-ratelimit-reset": "1"}) is None
    assert parse_link_header('<https://a/x?page=2>; rel="next", <https://a/x?page=9>; rel="last"') == {
        "next": "https://a/x?page=2",
        "last": "https://a/x?page=9",
    }


# --------------------------------------------------------------------------- budget
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_budget_allows_a_burst_then_paces() -> None:
    clock = FakeClock()
    budget = RequestBudget(60, clock=clock, sleep=clock.sleep)
    for _ in range(60):
        budget.acquire()
    assert clock.now == 0
    budget.acquire()
    assert clock.now == pytest.approx(1.0)


def test_budget_is_shared_by_threads() -> None:
    clock = FakeClock()
    budget = RequestBudget(120, burst=5, clock=clock, sleep=clock.sleep)  # 2 per second after a burst of 5
    threads = [threading.Thread(target=lambda: [budget.acquire() for _ in range(5)]) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 25 tokens: 5 from the burst, 20 more need at least 10 simulated seconds.
    assert clock.now >= 10 - 1e-6


def test_budget_refuses_waits_longer_than_the_cap() -> None:
    clock = FakeClock()
    budget = RequestBudget(1, clock=clock, sleep=clock.sleep, max_wait=5)
    budget.acquire()
    with pytest.raises(SourceRateLimited, match="request budget of 1 requests per minute"):
        budget.acquire()


def test_client_spends_the_budget(jira_site) -> None:
    url, _, dataset = jira_site
    clock = FakeClock()
    budget = RequestBudget(120, burst=2, clock=clock, sleep=clock.sleep)
    client = _client(url, dataset, SleepRecorder(), budget=budget)
    for _ in range(4):
        client.get_json("/rest/api/2/serverInfo")
    assert clock.now == pytest.approx(1.0)


# --------------------------------------------------------------------------- circuit breaker
def test_circuit_breaker_opens_at_the_threshold() -> None:
    check_circuit(4, 5)
    with pytest.raises(SourceUnavailable, match="circuit open after 5 failed syncs: an admin must retry"):
        check_circuit(5, 5)
    breaker = CircuitBreaker(3)
    assert not breaker.is_open(2) and breaker.is_open(3)
    assert CircuitBreaker.record(2, succeeded=False) == 3
    assert CircuitBreaker.record(7, succeeded=True) == 0
    assert not CircuitBreaker(0).is_open(100)  # threshold 0 disables the breaker


def test_clients_of_one_source_share_one_budget() -> None:
    first = SourceHttpClient("http://127.0.0.1:9", budget_key="jira:4242", budget_per_minute=90)
    second = SourceHttpClient("http://127.0.0.1:9", budget_key="jira:4242", budget_per_minute=90)
    other = SourceHttpClient("http://127.0.0.1:9", budget_key="jira:4343", budget_per_minute=90)
    assert first.budget is second.budget and first.budget is not other.budget
    assert first.budget.per_minute == 90
