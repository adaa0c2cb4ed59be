"""The company portal's shared page cache serves each user only what their own view of the project shows.

The pages' real `_page_data` and `_compute` run against a seeded tenant (viewer,
developer Ann linked to her identity, tech lead, project manager): users with
the same view of a project share one computation; a different role, or an
anonymised view, never gets another view's answer; no role, no answer.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from core import read_cache, realtime
from core.errors import NotFound
from dmt_app.state.compliance import FlagsState
from dmt_app.state.dashboards import DashboardState
from models.enums import ProjectRole
from services import dashboards as dash
from services.auth import CurrentUser
from tests.integration.test_dashboards_seed import PASSWORD, Seeded, _user, seed_tenant

FLAG_INPUTS = {"rule": "all", "severity": "all", "status": "all", "sprint": "all", "assignee": "all",
               "sort": "severity", "descending": False, "page": 1}  # fmt: skip


class Page:
    """A page state's own `_page_data` and `_compute`, counting the computations (the tab's vars are not needed)."""

    def __init__(self, state: Any) -> None:
        self.state, self.computed = state, 0
        self.me = SimpleNamespace(SHARED_DATA=state.SHARED_DATA, get_full_name=state.get_full_name, _compute=self._compute)

    def _compute(self, user: CurrentUser, project_id: int, inputs: dict[str, Any]) -> Any:
        self.computed += 1
        return self.state._compute(self.me, user, project_id, inputs)

    def data(self, user: CurrentUser, project_id: int, inputs: dict[str, Any] | None = None) -> Any:
        return self.state._page_data(self.me, user, project_id, inputs or {})


@pytest.fixture(scope="module")
def a(database_url: str, redis_url: str) -> Seeded:
    import uuid

    from services.audit import Actor
    from services.tenants import TenantCreate, create_tenant

    tenant = create_tenant(TenantCreate(name="Page cache", slug=f"pcache_{uuid.uuid4().hex[:6]}"), Actor.system("test"))
    return seed_tenant(tenant)


def assignees(flags: tuple[Any, ...]) -> set[str]:
    return {row.assignee for row in flags[0].items}


def test_flags_page_is_shared_only_between_users_with_the_same_view(a: Seeded) -> None:
    from services.auth import authenticate

    realtime.bump_data_version(a.slug)  # entries of earlier runs are stale
    page = Page(FlagsState)
    named = {"Ann Example", "Bob Example"}  # the seeded flags are on Ann's and Bob's items
    lead = page.data(a.user("tech_lead"), a.project_id, FLAG_INPUTS)
    assert assignees(lead) == named and lead[3] is True  # names, and may resolve
    second_lead = authenticate(_user(a.tenant_id, a.project_id, ProjectRole.TECH_LEAD, "Leo"), PASSWORD)
    assert page.data(second_lead, a.project_id, FLAG_INPUTS) == lead
    assert page.computed == 1  # the second tech lead shared the first one's computation

    ann = page.data(a.user("developer"), a.project_id, FLAG_INPUTS)
    anonymised = {f"Developer {a.identities['Bob']}"}
    assert assignees(ann) == {"Ann Example"} | anonymised and ann[3] is False
    viewer = page.data(a.user("viewer"), a.project_id, FLAG_INPUTS)
    assert assignees(viewer) == {f"Developer {a.identities['Ann']}"} | anonymised and viewer[3] is False
    # Another anonymised user never gets Ann's answer (her own name is hers only).
    other_dev = authenticate(_user(a.tenant_id, a.project_id, ProjectRole.DEVELOPER, "Dan"), PASSWORD)
    assert "Ann Example" not in assignees(page.data(other_dev, a.project_id, FLAG_INPUTS))
    pm = page.data(a.user("project_manager"), a.project_id, FLAG_INPUTS)
    assert assignees(pm) == named and pm[3] is True
    assert page.computed == 5  # lead (shared with Leo), Ann, the viewer, Dan, the project manager


def test_a_user_without_a_role_on_the_project_gets_nothing_cached(a: Seeded) -> None:
    from services.auth import authenticate

    page = Page(DashboardState)
    page.data(a.user("tech_lead"), a.project_id)
    outsider = authenticate(_user(a.tenant_id, a.project_id, ProjectRole.TECH_LEAD, "Out"), PASSWORD)
    outsider.project_roles.clear()  # e.g. the role was taken away: the session check reads the roles afresh
    with pytest.raises(NotFound):
        page.data(outsider, a.project_id)


def test_a_resolved_flag_refreshes_the_shared_flags_page(a: Seeded) -> None:
    page = Page(FlagsState)
    lead = a.user("tech_lead")
    inputs = {**FLAG_INPUTS, "status": "open"}
    before = page.data(lead, a.project_id, inputs)
    flag = before[0].items[0]
    dash.resolve_flag(lead, flag.id, "checked by hand")
    after = page.data(a.user("project_manager"), a.project_id, inputs)
    assert flag.id not in {row.id for row in after[0].items}
    assert page.data(lead, a.project_id, inputs)[0].total == before[0].total - 1


def test_pages_without_shared_data_are_not_cached() -> None:
    from dmt_app.state.dashboards import MeState

    assert not MeState.SHARED_DATA  # "me" is the user's own figures
    assert read_cache.PAGE_ENTRIES > 0


def test_a_flags_page_reads_the_names_it_shows_in_one_query(a: Seeded) -> None:
    import sqlalchemy as sa

    from models.db import get_engine

    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(get_engine(), "before_cursor_execute", record)
    try:
        page = dash.list_flags(a.user("tech_lead"), dash.FlagFilters(project_id=a.project_id, status="all"))
    finally:
        sa.event.remove(get_engine(), "before_cursor_execute", record)
    assert {row.assignee for row in page.items} == {"Ann Example", "Bob Example"}
    assert sum("display_name" in s for s in statements) == 1  # not one query per row
