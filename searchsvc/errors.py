"""Errors that carry their HTTP status, and the one renderer for every error response.

Every error the service returns is an RFC 9457 problem document
(``application/problem+json``) with a stable machine-readable ``code``. Core code raises
:class:`ServiceError` subclasses without knowing about HTTP frameworks; the Flask app renders
them (and routing errors such as 404/405, and anything unexpected) through :func:`problem`.
"""

from __future__ import annotations

from http import HTTPStatus

PROBLEM_MIME = "application/problem+json"


class ServiceError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        self.headers = headers or {}


class InvalidParameter(ServiceError):
    status = 400
    code = "invalid_parameter"


class InvalidQuery(ServiceError):
    status = 400
    code = "invalid_query"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class IndexUnavailable(ServiceError):
    status = 503
    code = "index_unavailable"


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
