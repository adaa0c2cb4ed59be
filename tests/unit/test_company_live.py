"""Which live events make an open company page re-read its data."""

from __future__ import annotations

from dmt_app.state.base import CompanyState


def test_an_event_about_another_project_leaves_the_page_alone() -> None:
    resolved_in_7 = [{"type": "compliance.flag_resolved", "tenant": "acme", "flag_id": 3, "project_id": 7}]
    assert CompanyState.relevant(resolved_in_7, user_id=1, project_id=7) == (True, False)
    assert CompanyState.relevant(resolved_in_7, user_id=1, project_id=8) == (False, False)


def test_an_event_naming_no_project_changes_every_page_of_the_tenant() -> None:
    synced = [{"type": "sync.finished", "tenant": "acme"}]
    assert CompanyState.relevant(synced, user_id=1, project_id=8) == (True, False)
    mixed = [{"type": "compliance.flag_resolved", "project_id": 7}, {"type": "notification.created", "user_id": 1}]
    assert CompanyState.relevant(mixed, user_id=1, project_id=8) == (False, True)


def test_the_live_loop_runs_on_a_state_without_the_page_states() -> None:
    """Its `async with self` (every batch, every tab) loads its state's substates: none, not every page state."""
    from dmt_app.state import compliance, dashboards  # noqa: F401 - the page states exist
    from portal_common.state import AuthState, LiveEvents

    assert LiveEvents.get_substates() == set()
    assert issubclass(dashboards.DashboardState, AuthState) and not issubclass(dashboards.DashboardState, LiveEvents)
    assert "live_loop" in LiveEvents.event_handlers and "live_loop" not in AuthState.event_handlers
