"""Errors that carry their HTTP status and their exit code, and the problem+json renderer.

Every error of the service is one of the classes below: the web layer renders it as an
RFC 9457 problem document (``application/problem+json``) with a stable ``code`` and the class's
``status``; the command line prints ``error: <detail>`` and exits with the class's
``exit_code`` (click's convention: 1 for a failure, 2 for a usage error). Code below the web
layer raises them without knowing about HTTP.
"""

from __future__ import annotations

import errno
from http import HTTPStatus

PROBLEM_MIME = "application/problem+json"


class ServiceError(Exception):
    status = 500
    code = "internal_error"
    exit_code = 1

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None,
                 headers: dict[str, str] | None = None, extra: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        self.headers = headers or {}
        self.extra = extra or {}


class InvalidParameter(ServiceError):
    status, code, exit_code = 400, "invalid_parameter", 2


class InvalidQuery(ServiceError):
    status, code, exit_code = 400, "invalid_query", 2


class QueryTooExpensive(ServiceError):
    status, code, exit_code = 400, "query_too_expensive", 2


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"

    def __init__(self, detail: str = "an admin token is required"):
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="searchsvc"'})


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class BuildInProgress(Conflict):
    code = "build_in_progress"


class PayloadTooLarge(ServiceError):
    status, code = 413, "payload_too_large"


class IndexUnavailable(ServiceError):
    status, code = 503, "index_unavailable"


class EngineUnavailable(IndexUnavailable):
    code = "engine_unavailable"


class BuildError(ServiceError):
    """A build that did not happen; the index being served is unchanged."""

    status, code, exit_code = 500, "build_failed", 1
    # What the build skipped before it stopped, for the command line to list (None: not
    # known, or already in the detail).
    problems: list | None = None


class LockedError(BuildError):
    status, code = 409, "build_in_progress"


class ShrinkRefused(BuildError):
    """A full build that would leave the served index empty or less than half its size."""

    status, code = 409, "shrink_refused"


class UsageError(BuildError):
    status, code, exit_code = 400, "usage_error", 2


def problem(status: int, code: str, detail: str, **extra: object) -> dict:
    """The problem+json body for an error."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {"type": "about:blank", "title": title, "status": status, "code": code,
            "detail": detail}
    body.update(extra)
    return body


def describe_os_error(exc: OSError) -> str:
    """A failed write in a person's words (what to do about it follows from them)."""
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write ({exc.filename or 'index directory'})"
    return exc.strerror or str(exc)


def write_failed(exc: OSError) -> BuildError:
    """The error of a build whose writing failed: the served index is untouched."""
    return BuildError(f"build failed, index unchanged: {describe_os_error(exc)}")
