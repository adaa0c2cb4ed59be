"""A short-lived cache of dashboard reads, invalidated by the tenant's data version.

Dashboards change only when data changes: after a sync, an evaluation, a
metrics rebuild, a resolved flag or a rated insight. Each of those publishes a
live event (core/realtime.py), which bumps the tenant's data version in
Redis. Every entry stores the version it was computed at in front of its
body, so a lookup is one MGET of (version, entry): an entry written at an
older version is a miss, and a change makes every older entry stale at once.
Entries also expire after TTL_SECONDS as a backstop.

Keys include the user id: what a user may see (anonymised names) depends on
their project role, so one user's answer is never served to another.

The API serves it from its event loop: a hit is one round trip to Redis and
never waits for a worker thread; only a miss runs the SQL, in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import TypeVar

import redis
import redis.asyncio as aioredis
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from core.realtime import data_version_key
from core.settings import get_settings

TTL_SECONDS = 60
log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
_SEPARATOR = "\n"


def _entry_key(tenant_slug: str, user_id: int, parts: tuple[object, ...]) -> str:
    return f"dmt:read:{tenant_slug}:{user_id}:" + ":".join(map(str, parts))


def _fresh_body(version: str | None, entry: str | None) -> str | None:
    """The cached body when the entry was written at the tenant's current data version."""
    if entry is None:
        return None
    written_at, _, body = entry.partition(_SEPARATOR)
    return body if written_at == (version or "0") else None


#: One asyncio client per event loop (uvicorn has one per worker; test clients make their own).
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


def _async_client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        url = get_settings().redis_url
        if not url:
            raise RuntimeError("REDIS_URL is not set (make run / make test start an embedded Redis)")
        client = aioredis.Redis.from_url(url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5)
        _async_clients[loop] = client
    return client


async def cached_json_async(
    tenant_slug: str, user_id: int, parts: tuple[object, ...], produce: Callable[[], M]
) -> str:
    """The JSON of `produce()`, from the cache when the tenant's data has not changed since.

    A hit is one MGET; a miss runs `produce` (SQL) in a worker thread and stores the answer.
    """
    key = _entry_key(tenant_slug, user_id, parts)
    try:
        client = _async_client()
        version, entry = await client.mget(data_version_key(tenant_slug), key)
    except (redis.RedisError, OSError) as exc:  # no cache is slower, never wrong
        log.warning("read cache unavailable: %s", exc)
        return await run_in_threadpool(lambda: produce().model_dump_json())
    body = _fresh_body(version, entry)
    if body is not None:
        return body
    body = await run_in_threadpool(lambda: produce().model_dump_json())
    try:
        await client.set(key, f"{version or '0'}{_SEPARATOR}{body}", ex=TTL_SECONDS)
    except (redis.RedisError, OSError) as exc:
        log.warning("read cache not written: %s", exc)
    return body
