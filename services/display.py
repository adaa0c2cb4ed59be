"""Values as people read them: no Python reprs (None, True, dicts, lists, ISO timestamps) on a page.

`display_value` turns one stored value (audit old/new values, a connection
check's details) into words; `display_fields` lists a mapping one field a line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

EMPTY = "—"
_ISO_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%d %H:%M")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def display_value(value: Any) -> str:
    """One value in words: empty -> "—", booleans -> yes/no, lists joined, mappings as "key: value; ..."."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return _instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        if _ISO_INSTANT.match(value):
            try:
                return _instant(datetime.fromisoformat(value.replace("Z", "+00:00")))
            except ValueError:
                return value
        return value
    if isinstance(value, Mapping):
        return "; ".join(f"{_label(k)}: {display_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(display_value(v) for v in value)
    return str(value)


def _label(key: Any) -> str:
    return str(key).replace("_", " ")


def display_fields(values: Mapping[str, Any] | None, separator: str = "\n") -> str:
    """A mapping one "field: value" per line (fields named in words); "" when there is nothing."""
    if not values:
        return ""
    return separator.join(f"{_label(k)}: {display_value(v)}" for k, v in values.items())
