"""The admin portal app: every module under admin_app.pages registers its pages with portal_common.page."""

from __future__ import annotations

from portal_common.app import create_portal_app
from portal_common.discover import import_pages
from services.auth import PORTAL_ADMIN

import_pages("admin_app.pages")

app = create_portal_app(PORTAL_ADMIN)
