"""Where a sign-in may send the browser next: only a path of the same site (no open redirect)."""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_NEXT_LENGTH = 2000


def safe_next_path(value: str | None, default: str = "/") -> str:
    """`value` when it is a relative path of this site (`/team/sprint/S1?project=2`), else `default`.

    Refused: absolute and scheme-relative URLs (`https://x`, `//x`), backslashes
    (browsers read `/\\x` as `//x`), control characters and whitespace (stripped
    by browsers, so `/\\t/x` would become `//x`), and anything over 2,000 characters.
    """
    if not value or len(value) > MAX_NEXT_LENGTH or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return default
    return value
