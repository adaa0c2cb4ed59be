"""One JSON error shape for every failure: {"error": {"code", "message", "field"?}}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException

from core.errors import ServiceError, TooManyAttempts

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    """Every error the API returns: {"error": {"code", "message", "field"?}}."""

    error: ErrorDetail


#: Documented on every route, so clients (and the schema fuzzer) know the error shape.
ERROR_RESPONSES: dict[int | str, dict] = {
    400: {"model": ErrorBody, "description": "The request cannot be done as asked"},
    401: {"model": ErrorBody, "description": "Not signed in, or the token is invalid or expired"},
    403: {"model": ErrorBody, "description": "Signed in, but not allowed"},
    404: {"model": ErrorBody, "description": "No such resource in your company"},
    409: {"model": ErrorBody, "description": "Conflicts with the current state (duplicate, replay, wrong step)"},
    422: {"model": ErrorBody, "description": "A value is missing or invalid; `field` names it"},
    429: {"model": ErrorBody, "description": "Too many attempts; see Retry-After"},
    503: {"model": ErrorBody, "description": "A dependency (database) is unavailable"},
}


def error_body(code: str, message: str, field: str | None = None) -> dict:
    body: dict = {"code": code, "message": message}
    if field:
        body["field"] = field
    return {"error": body}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_request: Request, exc: ServiceError) -> JSONResponse:
        headers = {}
        if isinstance(exc, TooManyAttempts):
            headers["Retry-After"] = str(exc.retry_after_seconds)
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid value')}" if where else first.get("msg", "invalid request")
        return JSONResponse(error_body("validation_failed", message, where or None), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        code = {
            401: "authentication_failed",
            403: "permission_denied",
            404: "not_found",
            405: "method_not_allowed",
        }.get(exc.status_code, "error")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(DataError)
    async def bad_value(_request: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL refused a value (an id beyond integer range, a malformed date...):
        # the request is wrong, not the server.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "invalid value"
        return JSONResponse(
            error_body("validation_failed", f"a value in the request is not acceptable: {reason}"), status_code=422
        )

    @app.exception_handler(OperationalError)
    async def database_down(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", exc)
        return JSONResponse(
            error_body("database_unavailable", "the database is not reachable right now; try again shortly"),
            status_code=503,
        )

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(
            error_body("internal_error", "an unexpected error occurred; it has been logged"), status_code=500
        )
