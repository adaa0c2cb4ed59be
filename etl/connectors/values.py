"""Value helpers every connector shares: numbers, times, people, option texts, URLs, sign-off markers.

Pure functions of a tool's field value. One behaviour for the same kind of
value whichever tool sent it ("85%" is 85.0, "Yes" is true, an ADF document's
links are found), so connectors import these instead of each other's helpers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# --------------------------------------------------------------------------- numbers


def to_float(value: Any) -> float | None:
    """Numbers, numeric strings ("5", "3.5", "85%", "1,5") and option objects or lists holding one."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):
        return to_float(value.get("value") if "value" in value else value.get("name"))
    if isinstance(value, list):
        return to_float(value[0]) if value else None
    text = str(value).strip().rstrip("%").strip().replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def to_int(value: Any) -> int | None:
    """An integer from a number or numeric text ("12", " 7 "); None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


# --------------------------------------------------------------------------- times
def parse_datetime(value: Any) -> datetime | None:
    """A UTC-aware datetime from ISO 8601 text (any offset, 7-digit fractions) or epoch seconds/ms.

    The "never" sentinel some tools send (9999-01-01) and unreadable values give None.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, int | float):
        seconds = value / 1000 if value > 10_000_000_000 else value
        return datetime.fromtimestamp(seconds, UTC)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{9,13}", text):
            return parse_datetime(int(text))
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # Python reads at most microseconds
        text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # +0530 -> +05:30
        try:
            result = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    result = result.astimezone(UTC)
    return None if result.year >= 9999 else result


# --------------------------------------------------------------------------- text and options
_URL_RE = re.compile(r"https?://[^\s\"'<>\]\[|,]+")


def slug(text: str) -> str:
    """ "Not Testable" -> "not_testable" (may be empty)."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def snake(value: Any) -> str | None:
    """ "Not Testable" -> "not_testable"; None for empty values."""
    if value is None:
        return None
    return slug(str(value)) or None


#: Option texts teams use for the same DMT value, after slugging ("N/A" -> "n_a").
DMT_VALUE_SYNONYMS = {
    "n_a": "not_applicable",
    "na": "not_applicable",
    "not_needed": "not_applicable",
    "complete": "done",
    "completed": "done",
    "passed": "done",
    "untestable": "not_testable",
    "not_started_yet": "not_started",
    "todo": "not_started",
    "to_do": "not_started",
}


def canonical_dmt_value(slugged: str | None) -> str | None:
    """The platform's value for a slugged option text the mapping did not translate."""
    if slugged is None:
        return None
    return DMT_VALUE_SYNONYMS.get(slugged, slugged)


def adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node (Jira Cloud rich-text fields), links included."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return " ".join(t for t in (adf_text(n) for n in node) if t)
    if not isinstance(node, dict):
        return str(node)
    parts: list[str] = []
    if node.get("type") == "text" and node.get("text"):
        parts.append(str(node["text"]))
        for mark in node.get("marks") or []:
            href = (mark.get("attrs") or {}).get("href") if isinstance(mark, dict) else None
            if href and href not in node["text"]:
                parts.append(href)
    attrs = node.get("attrs") or {}
    if node.get("type") in ("inlineCard", "blockCard", "embedCard") and attrs.get("url"):
        parts.append(str(attrs["url"]))
    if node.get("content"):
        parts.append(adf_text(node["content"]))
    return " ".join(p for p in parts if p).strip()


def option_text(value: Any) -> str | None:
    """The displayed text of an option, cascading option, user, version, rich text or plain value."""
    if value is None:
        return None
    if isinstance(value, list):
        texts = [t for t in (option_text(v) for v in value) if t]
        return texts[0] if texts else None
    if isinstance(value, dict):
        if value.get("type") == "doc":
            return adf_text(value) or None
        for key in ("value", "name", "displayName", "emailAddress", "key"):
            if value.get(key) not in (None, ""):
                return str(value[key])
        return None
    text = str(value).strip()
    return text or None


def mapped_option(text: str | None, values: Mapping[str, Any]) -> Any:
    """Apply a mapping's value map (exact, then case-insensitive); unmapped text becomes a canonical slug."""
    if text is None:
        return None
    if text in values:
        return values[text]
    lowered = {str(k).strip().lower(): v for k, v in values.items()}
    if text.strip().lower() in lowered:
        return lowered[text.strip().lower()]
    return canonical_dmt_value(slug(text) or None)


def truthy(value: Any, values: Mapping[str, Any]) -> bool | None:
    """Checkbox / option / boolean / user picker -> bool, through the value map; None when empty."""
    if value is None or value == [] or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    text = option_text(value)
    if text is None:
        return None
    mapped = mapped_option(text, values) if values else None
    if isinstance(mapped, bool):
        return mapped
    if isinstance(mapped, str):
        return mapped.lower() in ("true", "yes", "signed_off", "done", "1")
    if isinstance(value, dict) and ("accountId" in value or "displayName" in value):
        return True  # a user picker: someone signed off
    return text.strip().lower() not in ("no", "false", "0", "none", "n/a", "not signed off", "pending")


def to_bool(value: Any) -> bool | None:
    """True/False from booleans, numbers, identities and the words tools use ("Yes", "Done", "true")."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, dict):
        return True if value.get("displayName") or value.get("uniqueName") else to_bool(value.get("value"))
    text = str(value).strip().lower()
    if text in {"yes", "y", "true", "1", "done", "ok", "signed", "signed off", "approved", "x", "on"}:
        return True
    if text in {"no", "n", "false", "0", "none", "not done", "off"}:
        return False
    return None


def urls(value: Any) -> list[str]:
    """Every URL in a string, list, option or ADF document, de-duplicated in order."""
    if value is None:
        return []
    if isinstance(value, dict) and value.get("type") == "doc":
        text = adf_text(value)
    elif isinstance(value, list):
        text = " ".join(adf_text(v) if isinstance(v, dict) else str(v) for v in value)
    elif isinstance(value, dict):
        text = " ".join(str(v) for v in value.values() if isinstance(v, str))
    else:
        text = str(value)
    seen: dict[str, None] = {}
    for url in _URL_RE.findall(text):
        seen.setdefault(url.rstrip(".);"), None)
    return list(seen)


# --------------------------------------------------------------------------- people
def person_name(value: Any) -> str | None:
    """The display name of a user picker (first of a list), or the option's text."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return value.get("displayName") or value.get("emailAddress") or value.get("name") or value.get("value")
    return option_text(value)


def identity_parts(value: Any) -> tuple[str | None, str | None, str | None]:
    """(display name, email/unique name, id) of an identity object or "Name <email>" text."""
    if not value:
        return None, None, None
    if isinstance(value, dict):
        unique = value.get("uniqueName") or value.get("mailAddress")
        return value.get("displayName"), unique, value.get("id") or value.get("descriptor")
    text = str(value)
    match = re.match(r"^(.*?)\s*<([^>]+)>$", text)
    if match:
        return match.group(1) or None, match.group(2), None
    return text, (text if "@" in text else None), None


# --------------------------------------------------------------------------- sign-off markers
DEFAULT_SIGNOFF_MARKER = "DMT-OK"


def signoff_pattern(marker: str) -> re.Pattern[str]:
    """The sign-off marker as a whole word, any case ("dmt-ok" counts, "DMT-OKAY" does not)."""
    return re.compile(rf"(?<![\w-]){re.escape(marker)}(?![\w-])", re.IGNORECASE)


# --------------------------------------------------------------------------- field proposals
#: Field names (lower case) that suggest a DMT mapping; the first match wins.
NAME_PROPOSALS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"acceptance criteria quality|\bac quality"), "ac_quality"),
    (re.compile(r"unit test(ing)? status"), "unit_testing_status"),
    (re.compile(r"unit test(ing)? task"), "unit_test_task"),
    (re.compile(r"coverage"), "coverage"),
    (re.compile(r"\bpr links?\b|pull request"), "pr_links"),
    (re.compile(r"\bci\b.*(evidence|link|build)|build evidence"), "ci_evidence"),
    (re.compile(r"dmt sign|sign-?off"), "dmt_signoff"),
    (re.compile(r"exception approv"), "exception_approved_by"),
    (re.compile(r"exception reason"), "exception_reason"),
    (re.compile(r"exception (expiry|expires|expiration)"), "exception_expires_at"),
    (re.compile(r"^epic link$"), "epic"),
)


def propose_from_name(name: Any, field_type: str | None) -> str | None:
    """The MAPPABLE_FIELDS entry a field's name suggests ("Story Points" only for a number field)."""
    lowered = str(name or "").strip().lower()
    if re.search(r"story ?points?", lowered) and field_type == "number":
        return "story_points"
    for pattern, target in NAME_PROPOSALS:
        if pattern.search(lowered):
            return target
    return None


def count_of(n: int, singular: str, plural: str) -> str:
    """ "1 repository", "3 repositories": a count with its noun, for messages people read."""
    return f"{n:,} {singular if n == 1 else plural}"
