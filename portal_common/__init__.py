"""Shared Reflex infrastructure of both portals: shell, sign-in, auth state, styles, live events.

Add a page:

    from portal_common import AuthState, page

    class ProjectsState(AuthState):
        rows: list[ProjectRow] = []

        @rx.event
        async def load(self):
            user = await self.require_user()   # re-checks the session on the server
            ...

        @rx.event
        async def on_live(self, events: list[dict]):
            ...                                 # live events of the user's tenant

    @page("/dashboard/projects", "Projects", nav="Projects", icon="folder", order=20,
          on_load=ProjectsState.load, on_live=ProjectsState.on_live)
    def projects() -> rx.Component:
        return rx.vstack(...)

Any module under dmt_app/pages (or admin_app/pages) is imported by the app, so the
decorator is all it takes. A page that moved keeps its old URL working with
`@page(..., old_routes=("/old",))` (or `moved(old, new)` for a route that
changed shape); dynamic segments are `[name]`: `/team/sprint/[sprint_name]`. Styles live in portal_common.styles; small pieces in
portal_common.components (page_header, section, field, data_table, status_badge,
error_callout, stat). Links to server routes (/api/..., downloads) must be real
navigations: use portal_common.components.api_link, not rx.link (React Router
would keep them inside the app). Live events: `on_live` of the page, or watch
AuthState.live_seq / live_last_type.
"""

from portal_common.registry import PAGES, PageSpec, moved
from portal_common.session import NotSignedIn
from portal_common.shell import page
from portal_common.state import AuthState, current_portal

__all__ = ["PAGES", "AuthState", "NotSignedIn", "PageSpec", "current_portal", "moved", "page"]
