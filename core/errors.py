"""Errors services raise; routes and states turn them into clear messages."""

from __future__ import annotations


class ServiceError(Exception):
    """Something the caller asked for cannot be done; the message says why."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(ServiceError):
    status_code = 422
    code = "validation_failed"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


class AuthenticationFailed(ServiceError):
    status_code = 401
    code = "authentication_failed"


class PermissionDenied(ServiceError):
    status_code = 403
    code = "permission_denied"


class TooManyAttempts(ServiceError):
    status_code = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
