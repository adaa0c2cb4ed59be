"""The FastAPI app under /api that both portal backends mount (rx.App(api_transformer=...))."""

from __future__ import annotations

from fastapi import FastAPI

from api import auth
from api.errors import ERROR_RESPONSES, install_error_handlers
from services.health import health_report

#: Routers of the domain APIs; each module has a `router`. Added as they land.
ROUTER_MODULES = [
    "api.admin",
    "api.dashboards",
    "api.compliance",
    "api.insights",
    "api.notifications",
    "api.exports",
    "api.webhooks",
    "api.evidence",
    "api.internal",
]


def create_api(portal: str) -> FastAPI:
    """Build the API for one portal ("company" or "admin"); the portal names its session cookie scope."""
    import importlib

    app = FastAPI(
        title="DMT-SLDP API",
        version="1.0",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.portal = portal
    install_error_handlers(app)
    app.include_router(auth.router, responses=ERROR_RESPONSES)
    for name in ROUTER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        app.include_router(module.router, responses=ERROR_RESPONSES)

    @app.get("/api/health", tags=["health"])
    def health() -> dict:
        return health_report()

    return app


def create_company_api() -> FastAPI:
    """Factory for serving the company API alone (`uvicorn --factory api.app:create_company_api`)."""
    return create_api("company")
