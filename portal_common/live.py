"""Live-event bridge: one Redis-stream reader per backend process, fanned out to open tabs.

Each portal backend process (granian worker) runs one reader task that follows
the `core.realtime` stream (XREAD from its own last id, so every process sees
every event) and copies each event into the in-memory queue of every open tab
connected to that process. A tab's queue is drained by its state's background
`live_loop` (portal_common.state.LiveEvents), which filters by tenant and calls
the page's `on_live` handler. Why not rx.SharedState/app.modify_state: this needs
no Redis round trip per tab, no shared-state link names, and works the same with
disk state (one worker) and Redis state (several workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from core.realtime import latest_event_id, read_events

log = logging.getLogger(__name__)

QUEUE_SIZE = 500
READ_BLOCK_MS = 1000
COALESCE_SECONDS = 0.3

_subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
_reader: asyncio.Task[None] | None = None


def _read_batch(last_id: str) -> tuple[str, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    for entry_id, event in read_events(last_id, block_ms=READ_BLOCK_MS):
        last_id = entry_id
        events.append(event)
    return last_id, events


def _start_id() -> str:
    return latest_event_id()


async def _follow_stream() -> None:
    last_id: str | None = None
    while True:
        try:
            if last_id is None:
                last_id = await asyncio.to_thread(_start_id)
            last_id, events = await asyncio.to_thread(_read_batch, last_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - Redis down: keep trying, pages keep working
            log.warning("live events: cannot read the stream (%s); retrying in 2 s", exc)
            await asyncio.sleep(2)
            continue
        for event in events:
            for queue in list(_subscribers):
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(event)


def _ensure_reader() -> None:
    global _reader
    if _reader is None or _reader.done():
        _reader = asyncio.get_running_loop().create_task(_follow_stream(), name="dmt-live-events")


def subscribe() -> asyncio.Queue[dict[str, Any]]:
    """A queue receiving every live event from now on (call from the event loop)."""
    _ensure_reader()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_SIZE)
    _subscribers.add(queue)
    return queue


def unsubscribe(queue: asyncio.Queue[dict[str, Any]]) -> None:
    _subscribers.discard(queue)


async def next_batch(queue: asyncio.Queue[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    """Wait up to `timeout` s for events; return them coalesced over a short window ([] on timeout)."""
    try:
        first = await asyncio.wait_for(queue.get(), timeout)
    except TimeoutError:
        return []
    await asyncio.sleep(COALESCE_SECONDS)
    batch = [first]
    while not queue.empty() and len(batch) < QUEUE_SIZE:
        batch.append(queue.get_nowait())
    return batch


def subscriber_count() -> int:
    return len(_subscribers)
