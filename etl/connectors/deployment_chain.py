"""What the deployment connectors share: the options they read, and the chain that finds what each deployment shipped.

A deployment ships the commits between the previous successful deployment to
the same environment and itself. Tools list deployments newest first, so
`DeploymentChain` streams them in that order and holds back, per environment,
the deployments still waiting for an older success; when one arrives, they
learn their predecessor (and the newest of them, a success, asks the tool
for the commits in between). Memory holds one success and the failures after
it per environment, whatever the history's length.

Config (``config_json``) read by both connectors:

- ``environments``: names to keep (empty: every environment);
- ``lookback_hours`` (default 24): an incremental run re-reads deployments
  created this long before its cursor, whose status may have changed since;
- ``revert_pattern``: a regular expression over the shipped commits' first
  lines and the deployed ref; a deployment matching it is a revert or hotfix
  (change failure rate); default `DEFAULT_REVERT_PATTERN`;
- ``max_commits`` (default 1000): commits kept per deployment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from etl.connectors.errors import SourceConfigError

#: A revert ("Revert "...""), or a hotfix named in a commit's first line or the deployed branch.
DEFAULT_REVERT_PATTERN = r"^revert\b|\bhot-?fix(es)?\b"
DEFAULT_LOOKBACK_HOURS = 24
DEFAULT_MAX_COMMITS = 1000

#: Our deployment states.
SUCCESS, FAILURE, CANCELLED, IN_PROGRESS = "success", "failure", "cancelled", "in_progress"
STATES = (SUCCESS, FAILURE, CANCELLED, IN_PROGRESS)


def _names(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = re.split(r"[,\n]+", value)
    if not isinstance(value, list | tuple):
        raise SourceConfigError(f"expected a list of names, not {value!r}")
    return tuple(str(v).strip() for v in value if str(v).strip())


@dataclass(frozen=True)
class DeploymentOptions:
    """The deployment settings of a source's config_json (see the module docstring)."""

    environments: tuple[str, ...] = ()
    lookback: timedelta = timedelta(hours=DEFAULT_LOOKBACK_HOURS)
    revert_pattern: re.Pattern[str] = re.compile(DEFAULT_REVERT_PATTERN, re.I | re.M)
    max_commits: int = DEFAULT_MAX_COMMITS

    @classmethod
    def of(cls, config: Mapping[str, Any] | None) -> DeploymentOptions:
        """Options from config_json; a bad value raises SourceConfigError naming it."""
        config = config or {}
        try:
            hours = float(config.get("lookback_hours", DEFAULT_LOOKBACK_HOURS))
            max_commits = int(config.get("max_commits", DEFAULT_MAX_COMMITS))
        except (TypeError, ValueError):
            raise SourceConfigError("lookback_hours and max_commits must be numbers") from None
        if hours < 0 or max_commits < 1:
            raise SourceConfigError("lookback_hours must be 0 or more and max_commits at least 1")
        try:
            pattern = re.compile(str(config.get("revert_pattern") or DEFAULT_REVERT_PATTERN), re.I | re.M)
        except re.error as exc:
            raise SourceConfigError(f"revert_pattern is not a regular expression: {exc}") from None
        try:
            environments = _names(config.get("environments") or config.get("environment"))
        except SourceConfigError as exc:
            raise SourceConfigError(f"environments: {exc}") from None
        return cls(
            environments=environments,
            lookback=timedelta(hours=hours),
            revert_pattern=pattern,
            max_commits=max_commits,
        )

    def keeps(self, environment: str | None) -> bool:
        """Whether deployments to this environment are read (names compare without case)."""
        if not self.environments:
            return True
        return (environment or "").lower() in {e.lower() for e in self.environments}

    def floor(self, start: datetime | None) -> datetime | None:
        """The oldest creation time an extract reads for a window starting at `start`."""
        return start - self.lookback if start is not None else None

    def is_revert(self, messages: list[str], ref: str | None = None) -> bool:
        """Whether a deployment shipped a revert or hotfix: a commit's first line or the deployed ref matches."""
        lines = [m.split("\n", 1)[0] for m in messages if m]
        return any(self.revert_pattern.search(text) for text in [*lines, ref or ""] if text)


def names_option(config: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """A list-of-names option of config_json ("a, b" or ["a", "b"])."""
    try:
        return _names(config.get(key))
    except SourceConfigError as exc:
        raise SourceConfigError(f"{key}: {exc}") from None


@dataclass
class _Waiting:
    records: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DeploymentChain:
    """Streams deployments newest first and gives each its predecessor and, for successes, its commits.

    `feed(record, key, state, sha, in_window, compare_ref)` takes one deployment
    (the tool's object; the chain writes ``state``, ``sha``, ``previous`` and
    ``commits`` into the record's ``_dmt``) and returns the records now
    complete, in any order. `commits_between(base_ref, head_ref)` asks the tool
    for the commits between two deployments (refs are commit shas on GitHub,
    run ids on Azure Pipelines; None when the tool cannot tell). `flush()`
    completes the rest (no older success: no predecessor, no commits).
    """

    commits_between: Callable[[str, str], list[dict[str, Any]] | None]
    waiting: dict[Any, _Waiting] = field(default_factory=dict)

    def needs_older(self) -> bool:
        """Whether a deployment in the window still waits for an older success."""
        return any(w.records for w in self.waiting.values())

    def waits_for(self, key: Any) -> bool:
        """Whether deployments of this chain key (an environment) wait for an older success."""
        waiting = self.waiting.get(key)
        return bool(waiting and waiting.records)

    def feed(
        self,
        record: dict[str, Any],
        key: Any,
        state: str,
        sha: str | None,
        in_window: bool,
        compare_ref: str | None = None,
    ) -> list[dict[str, Any]]:
        """Add one deployment (newest first); returns the deployments that are now complete."""
        waiting = self.waiting.setdefault(key, _Waiting())
        ref = compare_ref or sha
        done: list[dict[str, Any]] = []
        if state == SUCCESS and ref:
            previous = {"id": record.get("id"), "sha": sha, "ref": ref}
            for newer in waiting.records:
                extras = newer["_dmt"]
                extras["previous"] = previous
                if extras["state"] == SUCCESS and extras.get("ref"):
                    same = extras["ref"] == ref or (sha is not None and extras.get("sha") == sha)
                    extras["commits"] = [] if same else self.commits_between(ref, extras["ref"])
                done.append(newer)
            waiting.records = []
        if in_window:
            extras = record.setdefault("_dmt", {})
            extras.update({"state": state, "sha": sha, "ref": ref, "previous": None, "commits": None})
            waiting.records.append(record)
        return done

    def flush(self) -> list[dict[str, Any]]:
        """The deployments left waiting: no older success exists, so no predecessor and no commits."""
        rest = [r for w in self.waiting.values() for r in w.records]
        self.waiting.clear()
        return rest


def pages_of(records: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Group a stream of records into pages of `size`."""
    page: list[dict[str, Any]] = []
    for record in records:
        page.append(record)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page
