"""Sign-in throttle: every attempt is counted, atomically, BEFORE its password hash is checked.

One Redis counter per account and one per client address, each living for the
throttle window from its first attempt (`INCR` + `EXPIRE` in one Lua script).
An attempt whose count passes the limit is refused without touching the hash,
so 50 parallel wrong passwords against one account cost at most
`LOGIN_MAX_FAILURES_PER_ACCOUNT` hash checks. A successful sign-in gives its
attempt back: only failures use up the allowance.

Counters are namespaced by the database they guard (a hash of DATABASE_URL),
so deployments (or test databases) sharing one Redis never count each other's
attempts.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import redis

from core.errors import ServiceError, TooManyAttempts
from core.realtime import redis_client
from core.settings import get_settings

# KEYS: counters to bump; ARGV[1]: window in seconds. Returns [count1, ttl1, count2, ttl2, ...].
_COUNT_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  out[#out + 1] = n
  out[#out + 1] = redis.call('TTL', key)
end
return out
"""

# Give an attempt back, never below zero and never resurrecting an expired key.
_RELEASE_SCRIPT = """
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n > 0 then redis.call('DECR', key) end
end
return 1
"""


class ThrottleUnavailable(ServiceError):
    """The attempt counters cannot be reached: sign-in is refused rather than left unthrottled."""

    status_code = 503
    code = "signin_unavailable"


@dataclass(frozen=True)
class AttemptTicket:
    """The counters one attempt was charged to (handed back by `release_attempt` after a success)."""

    keys: tuple[str, ...]


def _namespace() -> str:
    return hashlib.sha256(get_settings().database_url.encode()).hexdigest()[:12]


def _key(kind: str, value: str) -> str:
    return f"dmt:signin:{_namespace()}:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _refusal(message: str, ttl: int, window_seconds: int) -> TooManyAttempts:
    wait = ttl if ttl > 0 else window_seconds
    return TooManyAttempts(f"{message}: try again in {math.ceil(max(wait, 60) / 60)} minutes", retry_after_seconds=wait)


def count_attempt(email: str, ip: str | None) -> AttemptTicket:
    """Charge one sign-in attempt to the account and the address; raise TooManyAttempts past a limit."""
    s = get_settings()
    window = max(1, int(s.login_throttle_window_minutes * 60))
    keys = [_key("account", email)] + ([_key("ip", ip)] if ip else [])
    try:
        counts = redis_client().eval(_COUNT_SCRIPT, len(keys), *keys, window)
    except redis.RedisError as exc:
        raise ThrottleUnavailable(
            "sign-in is unavailable: the attempt counter (Redis) cannot be reached; try again shortly"
        ) from exc
    account_count, account_ttl = int(counts[0]), int(counts[1])
    if account_count > s.login_max_failures_per_account:
        raise _refusal("too many failed sign-ins for this account", account_ttl, window)
    if ip and int(counts[2]) > s.login_max_failures_per_ip:
        raise _refusal("too many failed sign-ins from your network address", int(counts[3]), window)
    return AttemptTicket(tuple(keys))


def release_attempt(ticket: AttemptTicket) -> None:
    """A successful sign-in does not use up the allowance: give its attempt back."""
    try:
        redis_client().eval(_RELEASE_SCRIPT, len(ticket.keys), *ticket.keys)
    except redis.RedisError:
        pass  # the attempt stays counted until the window ends: stricter, never weaker
