"""The FastAPI app that both portal backends mount (rx.App(api_transformer=...)): REST under /api, and the
spec's WebSocket channels under /ws, on the portal's own port."""

from __future__ import annotations

from fastapi import FastAPI

from api import (
    admin,
    auth,
    channels,
    compliance,
    dashboards,
    developers,
    dora,
    evidence,
    exceptions,
    exports,
    insights,
    notifications,
    webhooks,
)
from api.errors import ERROR_RESPONSES, install_error_handlers
from services.health import public_health

#: The REST routers, in the order of the OpenAPI document (spec sections 4.1, 4.2, 4.3, then the rest).
REST_ROUTERS = [
    auth.router,
    admin.router,
    dashboards.router,
    developers.router,
    dora.router,
    compliance.router,
    exceptions.router,
    insights.router,
    notifications.router,
    exports.router,
    evidence.router,
    webhooks.router,
]


def create_api(portal: str) -> FastAPI:
    """Build the API for one portal ("company" or "admin"); the portal names its session cookie scope."""
    app = FastAPI(
        title="DMT-SLDP API",
        version="1.0",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.portal = portal
    install_error_handlers(app)
    for router in REST_ROUTERS:
        app.include_router(router, responses=ERROR_RESPONSES)
    app.include_router(channels.router)

    @app.get("/api/health", tags=["health"])
    def health() -> dict:
        """Up or not, per dependency; no error text (unauthenticated)."""
        return public_health()

    return app


def create_company_api() -> FastAPI:
    """Factory for serving the company API alone (`uvicorn --factory api.app:create_company_api`)."""
    return create_api("company")
