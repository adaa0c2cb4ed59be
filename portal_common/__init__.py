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

    @page("/projects", "Projects", nav="Projects", icon="folder", order=20,
          on_load=ProjectsState.load, on_live=ProjectsState.on_live)
    def projects() -> rx.Component:
        return rx.vstack(...)

and import the module from the portal package (dmt_app/pages/__init__.py).
"""

from portal_common.registry import PAGES, PageSpec
from portal_common.session import NotSignedIn
from portal_common.shell import page
from portal_common.state import AuthState, current_portal

__all__ = ["PAGES", "AuthState", "NotSignedIn", "PageSpec", "current_portal", "page"]
