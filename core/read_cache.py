"""A short-lived cache of dashboard reads, invalidated by the tenant's data version.

Dashboards change only when data changes: after a sync, an evaluation, a
metrics rebuild, a resolved flag or a rated insight. Each of those publishes a
live event (core/realtime.py), which bumps the tenant's data version in
Redis. Every entry stores the version it was computed at in front of its
body, so a lookup is one MGET of (version, entry): an entry written at an
older version is a miss, and a change makes every older entry stale at once.
Entries also expire after TTL_SECONDS as a backstop.

Two stores, one invalidation:

- `cached_json_async` (the REST API): JSON in Redis, keyed per user (and role),
  served from the event loop: a hit is one round trip to Redis and never waits
  for a worker thread; only a miss runs the SQL, in a thread.
- `cached_page_data` (the portals' page loads): the answer pickled in the
  memory of the portal process, keyed by the caller's *scope*, which names
  everything the answer depends on: the page, the project, its inputs, and
  what the user may see there (`services.dashboards.view_of`: the role, and
  the user only where names are anonymised), not who the user is. So every
  tech lead of a project shares one entry, while authorisation (session,
  membership, role) is still checked per user before each lookup. A hit is
  one GET of the data version and an unpickle (each caller gets its own copy);
  concurrent misses of one entry compute it once.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import TypeVar

import redis
import redis.asyncio as aioredis
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from core.realtime import data_version_key, redis_client
from core.settings import get_settings

TTL_SECONDS = 60
log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
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


# --------------------------------------------------------------------------- the portals' page data
#: Entries kept per portal process (each a page's data for one scope and data version).
PAGE_ENTRIES = 512

_page_lock = threading.Lock()
#: (tenant, data version, *scope) -> (expires at on the monotonic clock, pickled answer); least recently used first.
_page_entries: OrderedDict[tuple[Hashable, ...], tuple[float, bytes]] = OrderedDict()
#: Misses being computed now: later callers of the same entry wait for the first one's answer.
_page_computing: dict[tuple[Hashable, ...], Future[bytes]] = {}


def cached_page_data(tenant_slug: str, scope: tuple[Hashable, ...], produce: Callable[[], T]) -> T:
    """A copy of `produce()`'s answer for `scope` at the tenant's current data version (blocking: run it in a thread).

    `scope` must name everything the answer depends on, what the user may see
    included; the caller checks the user's right to it before calling.
    """
    try:
        version = redis_client().get(data_version_key(tenant_slug)) or "0"
    except (redis.RedisError, OSError) as exc:  # no cache is slower, never wrong
        log.warning("page cache unavailable: %s", exc)
        return produce()
    key = (tenant_slug, version, *scope)
    with _page_lock:
        entry = _page_entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            _page_entries.move_to_end(key)
            return pickle.loads(entry[1])
        computing = _page_computing.get(key)
        first = computing is None
        if computing is None:
            computing = _page_computing[key] = Future()
    if not first:
        return pickle.loads(computing.result())
    try:
        body = pickle.dumps(produce())
    except BaseException as exc:
        with _page_lock:
            del _page_computing[key]
        computing.set_exception(exc)  # the same scope gets the same answer: the same error
        raise
    with _page_lock:
        _page_entries[key] = (time.monotonic() + TTL_SECONDS, body)
        while len(_page_entries) > PAGE_ENTRIES:
            _page_entries.popitem(last=False)
        del _page_computing[key]
    computing.set_result(body)
    return pickle.loads(body)


def clear_page_cache() -> None:
    """Forget every page entry of this process (tests)."""
    with _page_lock:
        _page_entries.clear()
