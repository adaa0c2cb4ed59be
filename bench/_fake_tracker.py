"""A small fake tracker + code host API and the connectors that read it.

Used by the sync tests (including the worker-kill test, where the worker
process registers these connectors through DMT_CONNECTOR_PLUGINS) and by
`python -m bench sync` when the tool fakes are not available.

Records are a pure function of (seed, index), so the server holds no data:
only the tests' edits (deleted ids, overridden fields, malformed records).
Items are served sorted by updated-at, 200 per page, keyset-paginated.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request

from etl.connectors.base import (
    BaseConnector,
    ConnectionResult,
    DiscoveredField,
    NormalizedPullRequest,
    NormalizedWorkItem,
    SourceAuthError,
    SourceDataError,
    SourceUnavailable,
)
from etl.connectors.registry import register_connector

EPOCH = datetime(2025, 1, 6, tzinfo=UTC)
PAGE = 200
STATES = [("To Do", "todo"), ("In Progress", "in_progress"), ("In Review", "in_progress"), ("Done", "done"), ("Done", "done")]
TOKEN = "fake-token"


@dataclass
class TrackerData:
    """The fake's state: `size` items and `size // 2` PRs, plus edits made by tests."""

    size: int
    seed: int = 1
    project_key: str = "PROJ"
    deleted_items: set[int] = field(default_factory=set)
    malformed_items: set[int] = field(default_factory=set)
    item_overrides: dict[int, dict[str, Any]] = field(default_factory=dict)
    extra_items: int = 0  # items appended after `size` (created later)

    @property
    def pr_count(self) -> int:
        return self.size // 2

    def updated(self, i: int) -> datetime:
        override = self.item_overrides.get(i, {}).get("updated")
        return datetime.fromisoformat(override) if override else EPOCH + timedelta(minutes=i)

    def item(self, i: int) -> dict[str, Any]:
        rnd = random.Random(self.seed * 1_000_003 + i)
        status, _cat = STATES[rnd.randrange(len(STATES))]
        sprint = i * 13 // max(self.size, 1) + 1
        dev = rnd.randrange(12)
        raw: dict[str, Any] = {
            "id": str(100_000 + i),
            "key": f"{self.project_key}-{i + 1}",
            "title": f"Story {i + 1}: {rnd.choice(['checkout', 'search', 'login', 'billing', 'reports'])} work",
            "type": "Bug" if rnd.random() < 0.15 else "Story",
            "status": status,
            "points": rnd.choice([1, 2, 3, 5, 8]),
            "sprint": {"id": sprint, "name": f"{self.project_key} Sprint {sprint}"},
            "assignee": {"accountId": f"acc-{dev}", "email": f"dev{dev}@acme.test", "name": f"Developer {dev}"},
            "created": (EPOCH - timedelta(days=30)).isoformat(),
            "updated": self.updated(i).isoformat(),
            "coverage": round(rnd.uniform(40, 99), 1),
            "description": "As a user I want " + " ".join(rnd.choice(["fast", "safe", "clear", "tested"]) for _ in range(30)),
        }
        raw.update({k: v for k, v in self.item_overrides.get(i, {}).items() if k != "updated"})
        if i in self.malformed_items:
            raw["updated"] = "not-a-date"
        return raw

    def pr(self, j: int) -> dict[str, Any]:
        rnd = random.Random(self.seed * 2_000_003 + j)
        dev = rnd.randrange(12)
        key = f"{self.project_key}-{2 * j + 1}"
        return {
            "id": 500_000 + j,
            "number": j + 1,
            "title": f"{key} implement change {j + 1}",
            "state": rnd.choice(["open", "closed", "closed"]),
            "merged": rnd.random() < 0.7,
            "user": {"login": f"gh-dev{dev}", "email": f"dev{dev}@acme.test"},
            "head": f"feature/{key.lower()}",
            "updated_at": (EPOCH + timedelta(minutes=2 * j)).isoformat(),
            "created_at": (EPOCH - timedelta(days=3)).isoformat(),
            "reviews": [{"login": f"gh-dev{(dev + 1) % 12}", "state": "APPROVED"}],
        }

    def live_items(self, after: int = -1, since: datetime | None = None) -> Iterator[int]:
        """Live item indices after `after` updated at or after `since`, in index order."""
        first = 0
        if since is not None:
            first = max(0, math.ceil((since - EPOCH) / timedelta(minutes=1)))
        moved = sorted(i for i, o in self.item_overrides.items() if "updated" in o and after < i < first)
        for i in heapq.merge(moved, range(max(after + 1, first), self.size + self.extra_items)):
            if i not in self.deleted_items and (since is None or self.updated(i) >= since):
                yield i


def create_app(data: TrackerData, controls: Any = None) -> FastAPI:
    """The fake API. Token auth; items and PRs updated at or after `since`, keyset pages."""
    app = FastAPI()
    if controls is not None:
        from tests.fakes.server import install_faults

        install_faults(app, controls)

    def check(request: Request) -> None:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            raise HTTPException(401, "bad token")

    def page_of(indices: Iterator[int]) -> dict[str, Any]:
        out = list(itertools.islice(indices, PAGE))
        return {"indices": out, "next": out[-1] if len(out) >= PAGE else None}

    def when(since: str | None) -> datetime | None:
        return datetime.fromisoformat(since) if since else None

    @app.get("/api/myself")
    def myself(request: Request) -> dict[str, Any]:
        check(request)
        return {"name": "Bench Bot", "email": "bot@acme.test"}

    @app.get("/api/items")
    def items(request: Request, since: str | None = None, after: int = -1) -> dict[str, Any]:
        check(request)
        page = page_of(data.live_items(after, when(since)))
        return {"items": [data.item(i) for i in page["indices"]], "next": page["next"]}

    @app.get("/api/item-ids")
    def item_ids(request: Request, after: int = -1) -> dict[str, Any]:
        check(request)
        page = page_of(data.live_items(after))
        return {"ids": [str(100_000 + i) for i in page["indices"]], "next": page["next"]}

    @app.get("/api/pulls")
    def pulls(request: Request, since: str | None = None, after: int = -1) -> dict[str, Any]:
        check(request)
        start = when(since)
        first = 0 if start is None else max(0, math.ceil((start - EPOCH) / timedelta(minutes=2)))
        page = page_of(iter(range(max(after + 1, first), data.pr_count)))
        return {"pulls": [data.pr(j) for j in page["indices"]], "next": page["next"]}

    @app.get("/api/pull-ids")
    def pull_ids(request: Request, after: int = -1) -> dict[str, Any]:
        check(request)
        page = page_of(iter(range(after + 1, data.pr_count)))
        return {"ids": [str(500_000 + j) for j in page["indices"]], "next": page["next"]}

    return app


class _FakeConnector(BaseConnector):
    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.client = httpx.Client(
            base_url=settings.base_url, headers={"Authorization": f"Bearer {settings.token}"}, timeout=30
        )

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        try:
            response = self.client.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"fake tracker unreachable: {exc}") from exc
        if response.status_code == 401:
            raise SourceAuthError("the fake tracker refused the token", status_code=401)
        if response.status_code >= 500 or response.status_code == 429:
            raise SourceUnavailable(f"fake tracker answered {response.status_code}", status_code=response.status_code)
        return response.json()

    def _pages(self, path: str, key: str, since: datetime | None) -> Iterator[list[dict[str, Any]]]:
        after = -1
        while True:
            data = self._get(path, since=since.isoformat() if since else None, after=after)
            if data[key]:
                yield data[key]
            if data["next"] is None:
                return
            after = data["next"]

    def test_connection(self) -> ConnectionResult:
        me = self._get("/api/myself")
        return ConnectionResult(ok=True, identity=f"{me['name']} <{me['email']}>", details={"projects": ["PROJ"]})

    def discover_fields(self) -> list[DiscoveredField]:
        self._get("/api/myself")
        return [
            DiscoveredField(id="points", name="Story Points", field_type="number", proposed_for="story_points"),
            DiscoveredField(id="coverage", name="Coverage %", field_type="number", proposed_for="coverage"),
        ]

    def close(self) -> None:
        self.client.close()


def _dt(value: Any) -> datetime:
    if not isinstance(value, str):
        raise SourceDataError(f"expected a timestamp, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise SourceDataError(f"unreadable timestamp {value!r}") from None


class FakeTrackerConnector(_FakeConnector):
    provides_work_items = True

    def extract_work_items(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        return self._pages("/api/items", "items", start)

    def list_work_item_ids(self) -> Iterator[list[str]]:
        after = -1
        while True:
            data = self._get("/api/item-ids", after=after)
            yield data["ids"]
            if data["next"] is None:
                return
            after = data["next"]

    def normalize_work_item(self, raw: dict[str, Any]) -> NormalizedWorkItem:
        status = raw["status"]
        category = dict(STATES)[status]
        updated = _dt(raw["updated"])
        return {
            "source_item_id": raw["id"],
            "item_key": raw["key"],
            "url": f"{self.settings.base_url}/browse/{raw['key']}",
            "item_type": raw["type"].lower(),
            "title": raw["title"],
            "status": status,
            "status_category": category,
            "story_points": float(raw["points"]),
            "sprint_name": raw["sprint"]["name"],
            "sprint_source_id": str(raw["sprint"]["id"]),
            "sprint_history": [raw["sprint"]["name"]],
            "assignee_name": raw["assignee"]["name"],
            "assignee_email": raw["assignee"]["email"],
            "assignee_account_id": raw["assignee"]["accountId"],
            "created_at_source": _dt(raw["created"]),
            "updated_at_source": updated,
            "done_at": updated if category == "done" else None,
            "coverage_percent": raw["coverage"],
            "raw_data": raw,
        }


class FakeCodeHostConnector(_FakeConnector):
    provides_pull_requests = True

    def extract_pull_requests(self, start: datetime | None, end: datetime | None) -> Iterator[list[dict[str, Any]]]:
        return self._pages("/api/pulls", "pulls", start)

    def list_pull_request_ids(self) -> Iterator[list[str]]:
        after = -1
        while True:
            data = self._get("/api/pull-ids", after=after)
            yield data["ids"]
            if data["next"] is None:
                return
            after = data["next"]

    def normalize_pull_request(self, raw: dict[str, Any]) -> NormalizedPullRequest:
        merged = raw["merged"] and raw["state"] == "closed"
        updated = _dt(raw["updated_at"])
        return {
            "source_pr_id": str(raw["id"]),
            "number": raw["number"],
            "repository": "acme/api",
            "title": raw["title"],
            "url": f"https://github.test/acme/api/pull/{raw['number']}",
            "state": "merged" if merged else raw["state"],
            "author_login": raw["user"]["login"],
            "author_email": raw["user"]["email"],
            "source_branch": raw["head"],
            "target_branch": "main",
            "created_at_source": _dt(raw["created_at"]),
            "updated_at_source": updated,
            "merged_at": updated if merged else None,
            "reviewers": [{"login": r["login"], "state": r["state"]} for r in raw["reviews"]],
            "review_count": len(raw["reviews"]),
            "approvals_count": sum(1 for r in raw["reviews"] if r["state"] == "APPROVED"),
            "linked_keys": [raw["title"].split(" ", 1)[0]],
            "raw_data": raw,
        }


def register_fake_connectors() -> None:
    """Serve source types "jira" and "github" with the fake connectors (tests and bench only)."""
    register_connector("jira", FakeTrackerConnector)
    register_connector("github", FakeCodeHostConnector)
