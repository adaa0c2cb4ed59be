"""The errors a connector raises. Their messages are shown to admins as they are."""

from __future__ import annotations

from typing import Any


class SourceError(Exception):
    """Base of every error a connector raises; the message is shown to admins as is."""

    retryable = False

    def __init__(self, message: str, *, status_code: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.url = url


class SourceAuthError(SourceError):
    """The credentials were refused (401): wrong or expired token, wrong username."""


class SourcePermissionError(SourceError):
    """Authenticated, but not allowed to read this resource (403)."""


class SourceNotFound(SourceError):
    """The site, project, team or repository does not exist at that address (404)."""


class SourceRateLimited(SourceError):
    """The tool kept answering 429 after our retries, or our own request budget ran out."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class SourceUnavailable(SourceError):
    """Network failure, timeout or 5xx after retries; or the circuit breaker is open."""

    retryable = True


class SourceDataError(SourceError):
    """The tool answered with something we cannot read (malformed JSON, missing keys)."""


class SourceConfigError(SourceError):
    """The source configuration itself is wrong (bad base URL, refused address, missing field)."""


class FieldMappingError(SourceConfigError):
    """A field mapping that cannot be used; `key` names the DMT field at fault (None: the whole mapping)."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
