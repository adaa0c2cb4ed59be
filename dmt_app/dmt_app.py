"""The company portal app: every module under dmt_app.pages registers its pages with portal_common.page."""

from __future__ import annotations

from portal_common.app import create_portal_app
from portal_common.discover import import_pages
from services.auth import PORTAL_COMPANY

import_pages("dmt_app.pages")

app = create_portal_app(PORTAL_COMPANY)
