"""The read caches: the API's (one MGET per hit, per user) and the portals' page cache (shared per view), both stale
as soon as the tenant's data changes, never required."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import redis
import redis.asyncio as aioredis
from pydantic import BaseModel

from core import read_cache, realtime
from core.errors import NotFound
from tests.waiting import wait_until


class Answer(BaseModel):
    value: int


class Producer:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> Answer:
        self.calls += 1
        return Answer(value=self.calls)


def fetch(tenant: str, user_id: int, parts: tuple[object, ...], produce: Producer) -> str:
    """Run the lookup on a fresh event loop in its own thread (the browser tests leave one running here)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, read_cache.cached_json_async(tenant, user_id, parts, produce)).result()


def test_hit_until_the_tenant_data_changes(redis_url: str) -> None:
    tenant, produce = f"rc_{uuid.uuid4().hex[:8]}", Producer()
    assert fetch(tenant, 1, (7, "tech_lead", "kpis"), produce) == '{"value":1}'
    assert fetch(tenant, 1, (7, "tech_lead", "kpis"), produce) == '{"value":1}'
    assert produce.calls == 1
    realtime.bump_data_version(tenant)  # what publish_event does after a sync or an evaluation
    assert fetch(tenant, 1, (7, "tech_lead", "kpis"), produce) == '{"value":2}'
    assert fetch(tenant, 1, (7, "tech_lead", "kpis"), produce) == '{"value":2}'
    assert produce.calls == 2


def test_entries_are_per_user_role_and_tenant(redis_url: str) -> None:
    tenant, produce = f"rc_{uuid.uuid4().hex[:8]}", Producer()
    fetch(tenant, 1, (7, "tech_lead", "kpis"), produce)
    fetch(tenant, 2, (7, "tech_lead", "kpis"), produce)  # another user
    fetch(tenant, 1, (7, "developer", "kpis"), produce)  # the same user after a role change
    fetch(f"{tenant}x", 1, (7, "tech_lead", "kpis"), produce)  # another tenant
    assert produce.calls == 4
    # Another tenant's change leaves this tenant's entries valid.
    realtime.bump_data_version(f"{tenant}x")
    assert fetch(tenant, 1, (7, "tech_lead", "kpis"), produce) == '{"value":1}'
    assert produce.calls == 4


def test_a_dead_redis_makes_reads_slower_never_wrong(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    monkeypatch.setattr(read_cache, "_async_client", lambda: dead)
    produce = Producer()
    assert fetch("rc_dead", 1, ("kpis",), produce) == '{"value":1}'
    assert fetch("rc_dead", 1, ("kpis",), produce) == '{"value":2}'  # computed each time, still answered


# --------------------------------------------------------------------------- the portals' page cache
def test_page_data_is_shared_per_scope_until_the_tenant_data_changes(redis_url: str) -> None:
    tenant, produce = f"pc_{uuid.uuid4().hex[:8]}", Producer()
    first = read_cache.cached_page_data(tenant, ("Dashboard", 7, "tech_lead"), produce)
    again = read_cache.cached_page_data(tenant, ("Dashboard", 7, "tech_lead"), produce)
    assert first == again == Answer(value=1) and produce.calls == 1
    again.value = 99  # a page changing its copy changes no one else's
    assert read_cache.cached_page_data(tenant, ("Dashboard", 7, "tech_lead"), produce) == Answer(value=1)
    read_cache.cached_page_data(tenant, ("Dashboard", 8, "tech_lead"), produce)  # another scope
    assert produce.calls == 2
    realtime.bump_data_version(tenant)
    assert read_cache.cached_page_data(tenant, ("Dashboard", 7, "tech_lead"), produce) == Answer(value=3)


def test_concurrent_misses_of_one_page_compute_it_once(redis_url: str) -> None:
    tenant, calls, release = f"pc_{uuid.uuid4().hex[:8]}", [], threading.Event()

    def slow() -> Answer:
        calls.append(1)
        assert release.wait(30), "never released"
        return Answer(value=len(calls))

    def computing() -> Future | None:
        return next((f for k, f in read_cache._page_computing.items() if k[0] == tenant), None)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(read_cache.cached_page_data, tenant, ("Flags", 7), slow)
        running = wait_until(computing, timeout=30, what="the first miss computing")
        second = pool.submit(read_cache.cached_page_data, tenant, ("Flags", 7), slow)
        # The second caller waits on the first one's answer (Future.result waits on the future's condition).
        wait_until(lambda: running._condition._waiters, timeout=30, what="the second caller waiting")
        release.set()
        assert first.result() == second.result() == Answer(value=1)
    assert len(calls) == 1


def test_a_failed_page_computation_is_not_cached(redis_url: str) -> None:
    tenant, produce = f"pc_{uuid.uuid4().hex[:8]}", Producer()

    def failing() -> Answer:
        raise NotFound("project 7 not found")

    with pytest.raises(NotFound):
        read_cache.cached_page_data(tenant, ("Flags", 7), failing)
    assert read_cache.cached_page_data(tenant, ("Flags", 7), produce) == Answer(value=1)


def test_a_dead_redis_makes_page_loads_slower_never_wrong(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(read_cache, "redis_client", lambda: redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1))
    produce = Producer()
    assert read_cache.cached_page_data("pc_dead", ("Flags", 7), produce) == Answer(value=1)
    assert read_cache.cached_page_data("pc_dead", ("Flags", 7), produce) == Answer(value=2)
