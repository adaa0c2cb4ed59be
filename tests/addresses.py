"""Client addresses for sign-in tests that nothing else in the suite (or an earlier run) has charged.

The sign-in throttle counts failures per address in Redis for 15 minutes. A test that
draws from a small range (`203.0.113.<random>`) shares a counter with any other test that
drew the same number, so each test takes a fresh address from the IPv6 documentation
prefix (2001:db8::/32) with 64 random bits.
"""

from __future__ import annotations

import ipaddress
import secrets


def unused_address() -> str:
    """A documentation-range IPv6 address no other test will draw."""
    return str(ipaddress.IPv6Address((0x20010DB8 << 96) | secrets.randbits(64)))
