"""Pure helpers of the portals: session cookie parsing, safe redirects, source form config."""

from __future__ import annotations

from admin_app.source_types import SOURCE_FORMS, config_as_text, config_from_form
from core.redirects import safe_next_path
from portal_common.auth_pages import _safe_next
from portal_common.registry import MovedRoute, moved_target
from portal_common.session import session_secret
from portal_common.state import login_url


def test_session_secret_is_read_from_the_cookie_header() -> None:
    assert session_secret("a=1; dmt_session=abc123; b=2") == "abc123"
    assert session_secret("a=1") is None
    assert session_secret(None) is None
    assert session_secret("") is None


def test_a_malformed_cookie_does_not_hide_the_session() -> None:
    assert session_secret('bad="unterminated; dmt_session=xyz') == "xyz"


def test_sign_in_only_redirects_inside_the_portal() -> None:
    assert _safe_next("/tenants/3?x=1") == "/tenants/3?x=1"
    assert _safe_next("/team/sprint/Sprint%2012?project=4") == "/team/sprint/Sprint%2012?project=4"
    assert _safe_next("//evil.example") == "/"
    assert _safe_next("https://evil.example") == "/"
    assert _safe_next("/login?next=/x") == "/"
    assert _safe_next("/login") == "/"
    assert _safe_next("/loginx") == "/loginx"


def test_next_path_refuses_everything_a_browser_could_read_as_another_site() -> None:
    for value in (
        "",
        "x/y",
        "//evil.example/x",
        "/\\evil.example/x",  # browsers read a backslash as a slash
        "/\t/evil.example",  # and drop tabs and newlines
        "/\n/evil.example",
        "/ /evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "/" + "a" * 2100,
    ):
        assert safe_next_path(value) == "/", value
    assert safe_next_path(None, default="/dashboard") == "/dashboard"
    assert safe_next_path("/a/b?c=d#e") == "/a/b?c=d#e"


def test_login_url_carries_only_a_safe_next() -> None:
    assert login_url("/dashboard/tenants/3/users") == "/login?next=%2Fdashboard%2Ftenants%2F3%2Fusers"
    assert login_url("/") == "/login"
    assert login_url("//evil.example") == "/login"
    assert login_url("/me", "session ended") == "/login?error=session%20ended&next=%2Fme"


def test_moved_routes_keep_parameters_and_the_query_string() -> None:
    plain = MovedRoute(old="/velocity", new="/dashboard/velocity")
    assert moved_target(plain, {}, "project=3&x=a%20b") == "/dashboard/velocity?project=3&x=a+b"
    assert moved_target(plain, {}, "") == "/dashboard/velocity"
    dynamic = MovedRoute(old="/tenants/[tenant_id]", new="/dashboard/tenants/[tenant_id]")
    assert moved_target(dynamic, {"tenant_id": "12"}, "") == "/dashboard/tenants/12"
    from_query = MovedRoute(
        old="/sources", new="/dashboard/projects/[project]/sources/new", fallback="/dashboard/health"
    )
    assert moved_target(from_query, {"project": "7"}, "project=7&k=v") == "/dashboard/projects/7/sources/new?k=v"
    assert moved_target(from_query, {}, "") == "/dashboard/health"
    assert moved_target(from_query, {}, "project=a/b") == "/dashboard/projects/a%2Fb/sources/new"


def test_an_old_url_is_matched_against_the_moved_routes() -> None:
    from portal_common.registry import MOVED, moved, moved_url, route_params

    assert route_params("/tenants/[tenant_id]", "/tenants/12") == {"tenant_id": "12"}
    assert route_params("/team/sprint/[sprint_name]", "/team/sprint/Sprint%2012") == {"sprint_name": "Sprint 12"}
    assert route_params("/tenants/[tenant_id]", "/tenants") is None
    assert route_params("/tenants/[tenant_id]", "/tenants/12/users") is None
    saved = dict(MOVED)
    try:
        MOVED.clear()
        moved("/tenants/[tenant_id]", "/dashboard/tenants/[tenant_id]")
        moved("/audit", "/dashboard/audit-logs")
        assert moved_url("/tenants/12", "x=1") == "/dashboard/tenants/12?x=1"
        assert moved_url("/audit", "") == "/dashboard/audit-logs"
        assert moved_url("/dashboard/audit-logs", "") is None
    finally:
        MOVED.clear()
        MOVED.update(saved)


def test_the_sidebar_marks_the_closest_entry() -> None:
    from portal_common.registry import PAGES, PageSpec, active_nav_route

    saved = dict(PAGES)
    try:
        PAGES.clear()
        for route, nav in (("/dashboard", "Dashboard"), ("/dashboard/velocity", "Velocity"), ("/team", "Team")):
            PAGES[route] = PageSpec(route=route, title=nav, component=lambda: None, nav=nav)  # type: ignore[arg-type,return-value]
        assert active_nav_route("/dashboard") == "/dashboard"
        assert active_nav_route("/dashboard/velocity") == "/dashboard/velocity"
        assert active_nav_route("/dashboard/quality") == "/dashboard"
        assert active_nav_route("/team/sprint/[sprint_name]") == "/team"
        assert active_nav_route("/me") is None
    finally:
        PAGES.clear()
        PAGES.update(saved)


def test_source_form_builds_config_json_and_keeps_unknown_keys() -> None:
    form = {"cfg_repositories": " acme/web, acme/api ,", "cfg_signoff_marker": ""}
    config = config_from_form("github", form, {"etags": {"acme/web": "W/1"}, "signoff_marker": "OLD"})
    assert config == {"etags": {"acme/web": "W/1"}, "repositories": ["acme/web", "acme/api"]}
    assert config_as_text(config)["repositories"] == "acme/web, acme/api"


def test_every_source_type_has_a_form() -> None:
    from models.enums import SourceType

    assert set(SOURCE_FORMS) == {t.value for t in SourceType}
    for spec in SOURCE_FORMS.values():
        assert spec.base_url_help and spec.token_help
        assert all(f.help for f in spec.config)


def test_live_events_reach_only_their_tenant_while_admins_see_all() -> None:
    from portal_common.state import events_for
    from services.auth import CurrentUser

    batch = [{"type": "sync.progress", "tenant": "acme"}, {"type": "sync.progress", "tenant": "globex"}]
    carol = CurrentUser(1, "c@acme.com", "Carol", "company_user", 1, "acme", "Acme")
    admin = CurrentUser(2, "a@platform.com", "Ada", "platform_admin", None, None, None)
    assert events_for(carol, batch) == [batch[0]]
    assert events_for(admin, batch) == batch
    assert events_for(CurrentUser(3, "x@y.com", "X", "company_user", 9, None, None), batch) == []
