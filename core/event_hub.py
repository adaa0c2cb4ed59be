"""One reader of the live-event stream per event loop, fanned out to in-memory subscribers.

`core.realtime` writes every live event to one Redis Stream. A server process
that pushes events to clients (the WebSocket channels of `api.channels`) needs
each event once per process, not once per client: this hub runs one reader per
event loop (XREAD from its own last id, in a worker thread) and copies each
event into the queue of every subscriber whose filter accepts it. The reader
starts with the first subscriber and stops when the last one leaves, so an idle
process holds no thread on Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.realtime import latest_event_id, read_events

log = logging.getLogger(__name__)

QUEUE_SIZE = 500
READ_BLOCK_MS = 1000
RETRY_SECONDS = 2.0

Event = dict[str, Any]
EventFilter = Callable[[Event], bool]


@dataclass(eq=False)
class Subscription:
    """A subscriber's queue and the filter deciding which events it receives."""

    accepts: EventFilter
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE))
    dropped: int = 0

    def offer(self, event: Event) -> None:
        if not self.accepts(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1  # a client that stopped reading loses events, never the process's memory

    async def get(self, timeout: float) -> Event | None:
        """The next event, or None when none arrived within `timeout` seconds."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


@dataclass(eq=False)
class _Hub:
    subscriptions: set[Subscription] = field(default_factory=set)
    reader: asyncio.Task[None] | None = None


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub] = weakref.WeakKeyDictionary()


def _read_batch(last_id: str) -> tuple[str, list[Event]]:
    events: list[Event] = []
    for entry_id, event in read_events(last_id, block_ms=READ_BLOCK_MS):
        last_id = entry_id
        events.append(event)
    return last_id, events


async def _follow(hub: _Hub, start_id: str) -> None:
    last_id = start_id
    while hub.subscriptions:
        try:
            last_id, events = await asyncio.to_thread(_read_batch, last_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - Redis down: keep trying, the sockets stay open
            log.warning("event hub: cannot read the live-event stream (%s); retrying", exc)
            await asyncio.sleep(RETRY_SECONDS)
            continue
        for event in events:
            for subscription in list(hub.subscriptions):
                subscription.offer(event)


async def subscribe(accepts: EventFilter) -> Subscription:
    """Receive, from now on, every live event that `accepts` returns True for.

    Events published after this call returns are delivered; call `unsubscribe`
    when the client goes away.
    """
    loop = asyncio.get_running_loop()
    hub = _hubs.setdefault(loop, _Hub())
    subscription = Subscription(accepts)
    hub.subscriptions.add(subscription)
    if hub.reader is None or hub.reader.done():
        try:
            start_id = await asyncio.to_thread(latest_event_id)
        except Exception:  # noqa: BLE001 - no Redis yet: read from the stream's start once it is back
            log.warning("event hub: Redis unavailable when subscribing; will retry")
            start_id = "$"
        if hub.reader is None or hub.reader.done():
            hub.reader = loop.create_task(_follow(hub, start_id), name="dmt-event-hub")
    return subscription


def unsubscribe(subscription: Subscription) -> None:
    """Stop delivering to `subscription`; the reader ends after its current read if none is left."""
    with contextlib.suppress(RuntimeError):
        hub = _hubs.get(asyncio.get_running_loop())
        if hub is not None:
            hub.subscriptions.discard(subscription)
            return
    for hub in list(_hubs.values()):
        hub.subscriptions.discard(subscription)


def subscriber_count() -> int:
    """Subscribers in this process, over every event loop."""
    return sum(len(hub.subscriptions) for hub in list(_hubs.values()))
