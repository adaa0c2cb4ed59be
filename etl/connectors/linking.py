"""Find work item keys in pull request titles, branch names and bodies.

Pure functions, shared by the PR connectors (GitHub, Azure DevOps Git) and the
sync that joins work items to pull requests. Recognised forms:

- Jira style ``PROJ-123``. With configured project keys only those keys match,
  case-insensitively (branch names are often lower case: ``feature/acme-12-x``).
  Without configured keys any upper-case key matches, except well-known
  non-issue prefixes such as ``UTF-8``, ``SHA-256``, ``ISO-8601``.
- Azure Boards ``AB#123``.
- ClickUp ``CU-abc123``; and bare ``#abc123`` custom ids only when enabled,
  because ``#123`` is a GitHub issue reference far more often than a ClickUp id.

Keys come back deduplicated, in order of first appearance, normalised:
``ACME-12``, ``AB#123``, ``CU-abc123``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

#: Upper-case prefixes that look like issue keys but are standards, hashes or versions.
NOT_ISSUE_PREFIXES = frozenset(
    (
        "UTF SHA MD ISO RFC CVE CWE HTTP HTTPS TLS SSL AES RSA ECDSA DES CRC PEP GPL LGPL AGPL BSD MIT APACHE "
        "CC IEEE IEC ANSI ASCII UCS WIN X V R K COVID SARS PDF H MP HL IPV CU AB BASE CP LATIN GB KB MB TB ES "
        "ECMA PR"
    ).split()
)

# Boundaries: a key must not be glued to letters/digits on either side ("XACME-1", "ACME-12b"),
# but "_" and "/" and "-" are common separators in branch names.
_JIRA_ANY = re.compile(r"(?<![A-Za-z0-9])([A-Z][A-Z0-9_]{0,29})-([1-9][0-9]{0,9})(?![A-Za-z0-9])")
_AZURE = re.compile(r"(?<![A-Za-z0-9])AB#([1-9][0-9]{0,9})(?![A-Za-z0-9])", re.IGNORECASE)
_CLICKUP = re.compile(r"(?<![A-Za-z0-9])CU-([0-9a-z]{4,16})(?![A-Za-z0-9])", re.IGNORECASE)
# ClickUp task ids mix letters and digits ("86b0xyz1"); a pure number is a GitHub issue ref.
_CLICKUP_HASH = re.compile(r"(?<![A-Za-z0-9&#/])#([0-9a-z]{5,16})(?![A-Za-z0-9])", re.IGNORECASE)


def _jira_pattern(project_keys: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(sorted((re.escape(k) for k in project_keys), key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9])({alternatives})-([1-9][0-9]{{0,9}})(?![A-Za-z0-9])", re.IGNORECASE)


def _clean_project_keys(project_keys: Iterable[str] | str | None) -> list[str]:
    if not project_keys:
        return []
    if isinstance(project_keys, str):
        project_keys = re.split(r"[,\s]+", project_keys)
    return [k.strip().upper() for k in project_keys if k and k.strip()]


def find_work_item_keys(
    *texts: str | None,
    project_keys: Iterable[str] | str | None = None,
    clickup_hash_ids: bool = False,
) -> list[str]:
    """Work item keys mentioned in `texts` (title, branch, body...), deduplicated, in order."""
    keys = _clean_project_keys(project_keys)
    jira = _jira_pattern(keys) if keys else None
    found: list[str] = []
    seen: set[str] = set()
    for text in texts:
        if not text:
            continue
        hits: list[tuple[int, str]] = []
        if jira is not None:
            hits += [(m.start(), f"{m.group(1).upper()}-{int(m.group(2))}") for m in jira.finditer(text)]
        else:
            for m in _JIRA_ANY.finditer(text):
                prefix = m.group(1)
                if prefix in NOT_ISSUE_PREFIXES or prefix.rstrip("_") != prefix:
                    continue
                hits.append((m.start(), f"{prefix}-{int(m.group(2))}"))
        hits += [(m.start(), f"AB#{int(m.group(1))}") for m in _AZURE.finditer(text)]
        hits += [(m.start(), f"CU-{m.group(1).lower()}") for m in _CLICKUP.finditer(text)]
        if clickup_hash_ids:
            for m in _CLICKUP_HASH.finditer(text):
                ident = m.group(1)
                if ident.isdigit() or ident.isalpha():
                    continue  # "#123" is a GitHub issue, "#readme" an anchor
                hits.append((m.start(), f"CU-{ident.lower()}"))
        for _, key in sorted(hits, key=lambda h: h[0]):
            if key not in seen:
                seen.add(key)
                found.append(key)
    return found


def linking_options(config_json: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keyword arguments for find_work_item_keys from a source's config_json.

    Reads ``project_keys`` (list or comma separated string) and ``clickup_hash_ids`` (bool).
    """
    config = config_json or {}
    return {
        "project_keys": _clean_project_keys(config.get("project_keys")),
        "clickup_hash_ids": bool(config.get("clickup_hash_ids", False)),
    }


def azure_work_item_key(work_item_id: int | str) -> str:
    """The key of an Azure Boards work item, as found in commit messages: ``AB#123``."""
    return f"AB#{int(work_item_id)}"
