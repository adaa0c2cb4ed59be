"""The dashboard read cache: one MGET per hit, stale as soon as the tenant's data changes, per user, never required."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel

from core import read_cache, realtime


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
