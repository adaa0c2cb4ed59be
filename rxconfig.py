"""Reflex config for both portals: `DMT_PORTAL` picks the app (dmt_app or admin_app).

Each portal builds into its own folders (REFLEX_WEB_WORKDIR / REFLEX_STATES_WORKDIR,
set by scripts/portal.sh) and both share the bun lockfile in reflex.lock/.
Ports are passed on the command line (never `frontend_port` here).
"""

from __future__ import annotations

import os

import reflex as rx

PORTALS = ("dmt_app", "admin_app")

app_name = os.environ.get("DMT_PORTAL", "dmt_app")
if app_name not in PORTALS:
    raise SystemExit(f"DMT_PORTAL must be one of {PORTALS}, not {app_name!r}")

config = rx.Config(
    app_name=app_name,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    # The look lives in portal_common/styles.py; the theme must be set here (Reflex 0.9+).
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="light", accent_color="indigo", gray_color="slate", radius="medium")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
    # Both portals share reflex.lock/, and each build prunes it to the JavaScript
    # packages its own pages use; listing the union here keeps one stable lockfile
    # whichever portal was built last. Add a package here when a page starts
    # using a component library the other portal does not (versions as Reflex pins them).
    frontend_packages=["recharts@3.10.1", "@radix-ui/react-form@0.3.0"],
)
