"""Waiting in tests: for a condition, with a deadline; never for a fixed time.

    order = wait_until(lambda: find_order(7), timeout=30, what="order 7 in the database")

The pause between two checks is the only sleep the suites use to wait for something
(fake servers sleep only to simulate a tool's latency).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str | Callable[[], str] = "the condition",
    interval: float = 0.05,
) -> T:
    """Check `condition` every `interval` s until it returns something truthy, and return that.

    Raises AssertionError after `timeout` s, naming `what` (a text, or a function giving
    one, e.g. a log's tail, read only then). An AssertionError raised by `condition`
    itself (a worker that died) ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"not within {timeout:g} s: {described}")
        time.sleep(interval)
