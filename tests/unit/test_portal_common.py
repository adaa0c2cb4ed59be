"""Pure helpers of the portals: session cookie parsing, safe redirects, source form config."""

from __future__ import annotations

from admin_app.source_types import SOURCE_FORMS, config_as_text, config_from_form
from portal_common.auth_pages import _safe_next
from portal_common.session import session_secret


def test_session_secret_is_read_from_the_cookie_header() -> None:
    assert session_secret("a=1; dmt_session=abc123; b=2") == "abc123"
    assert session_secret("a=1") is None
    assert session_secret(None) is None
    assert session_secret("") is None


def test_a_malformed_cookie_does_not_hide_the_session() -> None:
    assert session_secret('bad="unterminated; dmt_session=xyz') == "xyz"


def test_sign_in_only_redirects_inside_the_portal() -> None:
    assert _safe_next("/tenants/3?x=1") == "/tenants/3?x=1"
    assert _safe_next("//evil.example") == "/"
    assert _safe_next("https://evil.example") == "/"
    assert _safe_next("/login?next=/x") == "/"


def test_source_form_builds_config_json_and_keeps_unknown_keys() -> None:
    form = {"cfg_repositories": " acme/web, acme/api ,", "cfg_signoff_marker": ""}
    config = config_from_form("github", form, {"etags": {"acme/web": "W/1"}, "signoff_marker": "OLD"})
    assert config == {"etags": {"acme/web": "W/1"}, "repositories": ["acme/web", "acme/api"]}
    assert config_as_text(config)["repositories"] == "acme/web, acme/api"


def test_every_source_type_has_a_form() -> None:
    assert set(SOURCE_FORMS) == {"jira", "clickup", "azure_boards", "github", "azure_devops_git"}
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
